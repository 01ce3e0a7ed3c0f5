"""Consent means what it says: `emergency_live` goes live only in an emergency (checked by the hub and again
by the box, which reads the purpose in the grant), and what leaves with plate reads is the owner's policy's
say alone (none until the owner chooses)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.consent.guard import ConsentGuard
from hub.access.grants import issue_grant
from hub.keys import public_pem
from tests.hub_support import HubApi
from tests.test_access_api import REASON, WINDOW, setup
from tests.owner_support import SoftwareAuthenticator, pair_at_box, put_consent, signed_policy
from wire import consent as c

EMERGENCY_LIVE = {"sharing": "emergency_live", "modes": ["live", "playback"], "max_session_s": 900}


@pytest.fixture
def hub_api(tmp_path: Path):
    api = HubApi(tmp_path)
    yield api
    api.close()


def test_emergency_live_goes_live_for_emergencies_only_and_recorded_footage_needs_the_owner(hub_api: HubApi):
    camera, owner, _, analyst = setup(hub_api)
    with hub_api.client(owner) as c:
        assert put_consent(c, camera, EMERGENCY_LIVE).status_code == 200
    request = {"camera_id": camera, "mode": "live", "reason": REASON, "case_number": "2026-000555"}
    with hub_api.client(analyst) as c:
        for purpose in ("traffic", "property_crime", "other"):
            r = c.post("/api/access", json={**request, "purpose": purpose})
            assert r.status_code == 403 and "live video in an emergency only" in r.json()["detail"], purpose
        r = c.post("/api/access", json={**request, "purpose": "emergency"})
        assert r.status_code == 503 and r.json()["detail"].startswith("granted, but")  # no broker here
        r = c.post("/api/access", json={**request, "purpose": "traffic", "mode": "playback",
                                        "window_from": WINDOW[0], "window_to": WINDOW[1]})
        assert r.status_code == 202 and r.json()["status"] == "pending_owner_approval"


DEVICE = "dev-aaaaaaaaaaaa"


def test_the_box_refuses_a_live_grant_whose_purpose_is_no_emergency(hub_api: HubApi, tmp_path: Path):
    """The hub's own check bypassed: a hub-signed live grant for `traffic` on an emergency_live camera."""
    hub = hub_api.hub
    guard = ConsentGuard(tmp_path / "box" / "consent.sqlite3", device_id=DEVICE, cameras=["front"],
                         grant_key_pem=hub.grant_public_key_pem, audit_key_pem=public_pem(hub.audit_key),
                         audit_origin=hub_api.settings.audit_origin)
    try:
        owner = SoftwareAuthenticator()
        pair_at_box(guard, owner)
        guard.accept_policy(signed_policy(owner, device_id=DEVICE, camera="front", version=1,
                                          policy=c.Policy.model_validate(EMERGENCY_LIVE)))

        def judged(purpose: str):
            return guard.judge(issue_grant(hub, device_id=DEVICE, camera="front", mode="live", analyst="ana",
                                           reason=REASON, case_number="2026-000556", policy_version=1,
                                           lifetime_s=300, purpose=purpose))

        refused = judged("traffic")
        assert not refused.accepted and "live video in an emergency only" in refused.reason
        assert judged("missing_person").accepted
    finally:
        guard.close()


def test_plate_sharing_is_the_owners_policy_and_none_until_they_choose(hub_api: HubApi):
    camera, owner, _, _ = setup(hub_api)
    with hub_api.client(owner) as c:
        assert c.get(f"/api/cameras/{camera}").json()["plate_sharing"] == "none"
        r = c.patch(f"/api/cameras/{camera}", json={"plate_sharing": "all"})
        assert r.status_code == 422  # not a camera field: the consent policy says
        put_consent(c, camera, {"sharing": "off", "plate_sharing": "all"})
        assert c.get(f"/api/cameras/{camera}").json()["plate_sharing"] == "all"
        assert c.get(f"/api/cameras/{camera}/consent").json()["policy"]["plate_sharing"] == "all"
