"""The owner's console in Chromium with a virtual authenticator (CDP WebAuthn): the owner signs in, makes a
passkey and adds it to the box with the code the box showed, edits a camera's consent (a mask drawn on it)
and signs it with the passkey; the box holds that policy and enforces it; pausing from the page reaches the
box. A real hub, mosquitto and an appliance's consent guard on the MQTT link."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.access.grants import issue_grant
from hub.tables import Role
from tests.hub_support import HubStack, eventually
from tests.test_consent_link import REASON, appliance_with_guard
from tests.test_mqtt_link import enrol
from wire import messages as m

pytestmark = pytest.mark.slow


@pytest.fixture
def stack(tmp_path: Path):
    """A hub whose public URL is the one the browser uses: WebAuthn needs a host name (localhost), not an IP."""
    hub = HubStack(tmp_path)
    hub.settings.public_url = f"http://localhost:{hub.server.port}"
    hub.start()
    yield hub
    hub.stop()


def virtual_authenticator(page) -> None:
    """A platform passkey that says the user touched it (Chromium's WebAuthn domain over CDP)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
        "isUserVerified": True, "automaticPresenceSimulation": True}})


def test_the_owner_pairs_a_passkey_signs_consent_and_the_box_enforces_it(stack: HubStack, tmp_path: Path, page,
                                                                          screenshots: Path):
    identity, _, _ = enrol(stack, tmp_path / "box", "Corner Bakery")
    appliance, guard = appliance_with_guard(tmp_path / "box", identity)
    stack.add_user("ana", "correct-horse-battery", Role.ANALYST)
    url = f"http://localhost:{stack.server.port}/owner"
    try:
        appliance.link.publish_event(m.CameraStatus(camera="front", status="recording"))
        eventually(lambda: stack.hub.link is not None and stack.recording_camera("front"), what="camera at the hub")
        virtual_authenticator(page)
        page.goto(url)
        page.fill("#username", _owner_name(stack))
        page.fill("#password", "owner-password-1")
        page.click("#signin button")
        page.get_by_test_id("camera-row").wait_for()
        assert page.get_by_test_id("camera-sharing").inner_text() == "not shared"
        page.screenshot(path=screenshots / "owner-signed-in.png")

        page.get_by_test_id("pair-code").fill(guard.open_pairing())  # the code `canvass-edge owners pair` shows
        page.fill("#pair-label", "office laptop")
        page.get_by_test_id("pair-submit").click()
        page.get_by_text("The box holds your passkey now").wait_for()
        assert "held by " + identity.device_id in page.get_by_test_id("passkey").inner_text()
        [held] = guard.owners.keys().values()
        assert held.label == "office laptop" and held.rp_id == "localhost"
        page.screenshot(path=screenshots / "owner-passkey-paired.png")

        page.get_by_test_id("edit-consent").click()
        page.check("input[name=sharing][value=always]")
        page.check("input[name=modes][value=live]")
        canvas = page.get_by_test_id("mask-canvas")
        box = canvas.bounding_box()
        for x, y in ((0.05, 0.05), (0.5, 0.05), (0.5, 0.95), (0.05, 0.95)):  # most of the left half
            canvas.click(position={"x": x * box["width"], "y": y * box["height"]})
        assert canvas.get_attribute("data-points") == "4"
        page.click("#mask-close")
        assert page.locator("#mask-count").inner_text() == "1"
        page.screenshot(path=screenshots / "owner-consent-editor.png")
        page.get_by_test_id("consent-save").click()
        page.get_by_text("Saved version 1, signed with your passkey").wait_for()
        policy = eventually(lambda: guard.policy("front"), what="the signed policy on the box")
        assert policy.version == 1 and policy.policy.sharing == "always" and policy.policy.modes == ["live"]
        [mask] = policy.policy.privacy_masks
        assert len(mask) == 4 and all(abs(x - want) < 0.02 for (x, _), want in zip(mask, (0.05, 0.5, 0.5, 0.05)))
        assert page.get_by_test_id("camera-sharing").inner_text() == "shared without asking"
        page.screenshot(path=screenshots / "owner-consent-saved.png")

        with stack.client(stack.login("ana", "correct-horse-battery")) as analyst:
            camera_id = stack.recording_camera("front")
            r = analyst.post("/api/access", json={"camera_id": camera_id, "mode": "live", "purpose": "emergency",
                                                  "reason": REASON, "case_number": "2026-000970"})
            assert r.status_code == 201 and r.json()["status"] == "accepted", r.text

        page.get_by_test_id("pause-sharing").click()
        page.get_by_text("paused: signed and sent to the box").wait_for()
        assert eventually(lambda: guard.policy("front").version == 2, what="the pause on the box")
        assert guard.policy("front").policy.sharing == "off"
        # The box enforces it whatever the hub says: a grant the hub signs regardless is refused.
        decision = guard.judge(issue_grant(stack.hub, device_id=identity.device_id, camera="front", mode="live",
                                           analyst="ana", reason=REASON, case_number="2026-000971",
                                           policy_version=2, lifetime_s=300))
        assert not decision.accepted and decision.reason == "sharing is off for this camera"
        page.screenshot(path=screenshots / "owner-sharing-paused.png")
        assert page.errors == []
    finally:
        appliance.stop()
        guard.close()


def _owner_name(stack: HubStack) -> str:
    from sqlalchemy import select

    from hub.tables import User

    with stack.hub.db.session() as session:
        return session.scalar(select(User.username).where(User.role == Role.OWNER))
