"""The owner's console in Chromium with a virtual authenticator (CDP WebAuthn): the owner signs in, makes a
passkey and adds it to the box with the code the box showed, edits a camera's consent (a mask drawn on it)
and signs it with the passkey; the box holds that policy and enforces it; pausing from the page reaches the
box. A real hub, mosquitto and an appliance's consent guard on the MQTT link."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from hub.access.grants import issue_grant
from hub.tables import FootageRequest, Role
from tests.hub_support import HubStack, eventually
from tests.test_consent_link import REASON, appliance_with_guard
from tests.test_mqtt_link import enrol
from wire import consent as c
from wire import messages as m
from wire import owner as wo

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
    identity, _, owner_token = enrol(stack, tmp_path / "box", "Corner Bakery")
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
        # This box's link has no camera video (no snapshot command): the editor says so and works on a blank field.
        page.get_by_text("No picture: the box has no picture of this camera now").wait_for()
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
        with stack.client(owner_token) as owner:  # on the map, so that it is in a canvass
            owner.patch(f"/api/cameras/{camera_id}", json={"latitude": 40.0, "longitude": -74.0}).raise_for_status()
        _approve_a_trimmed_request(stack, page, guard, screenshots)
        # The only console errors: Chromium's own line for each editor opening's refused snapshot (422).
        refused = [e for e in page.errors if e.endswith("status of 422 (Unprocessable Entity)")]
        assert len(refused) == 2 and [e for e in page.errors if e not in refused] == []
    finally:
        appliance.stop()
        guard.close()


def _approve_a_trimmed_request(stack: HubStack, page, guard, screenshots: Path) -> None:
    """Footage on request: the owner approves 60 of the 120 s asked, on the timeline, signed with the passkey."""
    page.get_by_test_id("edit-consent").click()
    page.check("input[name=sharing][value=request_only]")
    page.uncheck("input[name=modes][value=live]")
    page.check("input[name=modes][value=clip]")
    page.get_by_test_id("consent-save").click()
    page.get_by_text("Saved version 3, signed with your passkey").wait_for()
    start = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(hours=2)
    with stack.client(stack.login("ana", "correct-horse-battery")) as analyst:
        r = analyst.post("/api/footage-requests", json={
            "camera_ids": [stack.recording_camera("front")], "window_from": start.isoformat(),
            "window_to": (start + dt.timedelta(seconds=120)).isoformat(), "purpose": "property_crime",
            "reason": REASON, "case_number": "2026-000972", "latitude": 40.0, "longitude": -74.0})
        assert r.status_code == 201, r.text
        request_id = r.json()["results"][0]["request_id"]
    page.reload()
    card = page.get_by_test_id("pending-request")
    card.wait_for()
    assert "Case 2026-000972" in card.inner_text() and "property crime" in card.inner_text()
    for testid, value in (("trim-from", 30), ("trim-to", 90)):  # the timeline's two handles
        card.get_by_test_id(testid).evaluate(
            "(input, v) => { input.value = v; input.dispatchEvent(new Event('input')); }", value)
    assert "(60 s of 120 s asked)" in card.inner_text()
    card.scroll_into_view_if_needed()
    page.screenshot(path=screenshots / "owner-request-trimmed.png")
    card.get_by_test_id("approve").click()
    page.get_by_text("Approved case 2026-000972").wait_for()
    page.get_by_test_id("decided-request").wait_for()
    page.screenshot(path=screenshots / "owner-request-decided.png")
    with stack.hub.db.session() as session:
        row = session.get(FootageRequest, request_id)
        approved = (row.approved_from, row.approved_to)
        signed = wo.OwnerSigned.model_validate_json(row.owner_approval)
    trimmed = (start + dt.timedelta(seconds=30), start + dt.timedelta(seconds=90))
    assert approved == trimmed
    # What the box will be shown is the owner's own signature over exactly the trim, checked with the box's keys.
    document = wo.open_owner_signed(signed, guard.owners.keys(), c.ApprovalDocument)
    assert (document.window_from, document.window_to, document.request_id) == (*trimmed, request_id)


def _owner_name(stack: HubStack) -> str:
    from sqlalchemy import select

    from hub.tables import User

    with stack.hub.db.session() as session:
        return session.scalar(select(User.username).where(User.role == Role.OWNER))
