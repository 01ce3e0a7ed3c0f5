"""Consent versions and access requests through the hub's API (SQLite and PostgreSQL): checked, audited first."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from hub.tables import AuditEntry, Role
from tests.hub_support import HubApi
from tests.test_hub_api import add_camera
from tests.owner_support import put_consent

REASON = "armed robbery reported at the corner store"
#: Five minutes of yesterday's footage: inside what any box keeps, whenever the test runs.
_YESTERDAY = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(days=1)
WINDOW = (_YESTERDAY.isoformat(), (_YESTERDAY + dt.timedelta(minutes=5)).isoformat())
OPEN = {"sharing": "always", "modes": ["live", "playback"], "max_session_s": 900}


def setup(api: HubApi):
    business, owner = api.business_with_owner("Bakery")
    other, other_owner = api.business_with_owner("Garage")
    camera = add_camera(api, business, "front", 40.7, -74.0, "dev-aaaaaaaaaaaa")
    api.add_user("ana", "correct-horse-battery", Role.ANALYST)
    return camera, owner, other_owner, api.login("ana", "correct-horse-battery")


def actions(api: HubApi) -> list[tuple[str, str]]:
    with api.hub.db.session() as session:
        return [(e.action, e.outcome) for e in session.scalars(select(AuditEntry).order_by(AuditEntry.leaf_index))
                if e.action.startswith(("access.", "consent."))]


def test_consent_is_versioned_owned_and_audited(hub_api: HubApi):
    camera, owner, other_owner, analyst = setup(hub_api)
    with hub_api.client(owner) as c:
        assert c.get(f"/api/cameras/{camera}/consent").status_code == 404
        assert put_consent(c, camera, OPEN).json()["version"] == 1
        assert put_consent(c, camera, {**OPEN, "sharing": "off"}).json()["version"] == 2
        assert [v["policy"]["sharing"] for v in c.get(f"/api/cameras/{camera}/consent/history").json()] == \
            ["always", "off"]
        bad = put_consent(c, camera, {**OPEN, "schedule": [
            {"days": [0], "start_minute": 600, "end_minute": 500}]})
        assert bad.status_code == 422
    with hub_api.client(other_owner) as c:
        assert put_consent(c, camera, OPEN).status_code == 404
        assert c.post(f"/api/cameras/{camera}/consent/document", json=OPEN).status_code == 404
    with hub_api.client(analyst) as c:
        assert c.post(f"/api/cameras/{camera}/consent/document", json=OPEN).status_code == 403
        assert c.put(f"/api/cameras/{camera}/consent", json={"document": "{}", "assertion": {}}).status_code == 422
    assert actions(hub_api) == [("consent.change", "success")] * 2


def test_access_requests_are_checked_and_audited_first(hub_api: HubApi):
    camera, owner, _, analyst = setup(hub_api)
    request = {"camera_id": camera, "mode": "live", "purpose": "violent_crime", "reason": REASON,
               "case_number": "2026-000123"}
    with hub_api.client(analyst) as c:
        r = c.post("/api/access", json=request)
        assert r.status_code == 403 and "does not share" in r.json()["detail"]
        assert c.post("/api/access", json={**request, "reason": "short"}).status_code == 422
        assert c.post("/api/access", json={**request, "case_number": ""}).status_code == 422
        assert c.post("/api/access", json={k: v for k, v in request.items() if k != "purpose"}).status_code == 422
        assert c.post("/api/access", json={**request, "purpose": "curiosity"}).status_code == 422
    with hub_api.client(owner) as c:
        put_consent(c, camera, {**OPEN, "modes": ["playback"]})
        assert c.post("/api/access", json=request).status_code == 403  # owners do not request access
    with hub_api.client(analyst) as c:
        r = c.post("/api/access", json=request)
        assert r.status_code == 403 and "does not allow live" in r.json()["detail"]
        r = c.post("/api/access", json={**request, "mode": "playback", "duration_s": 3600,
                                        "window_from": WINDOW[0], "window_to": WINDOW[1]})
        assert r.status_code == 403 and "maximum session" in r.json()["detail"]
        r = c.post("/api/access", json={**request, "mode": "playback", "window_from": WINDOW[0],
                                        "window_to": WINDOW[1]})
        # Every check passed: the grant is audited and signed; no broker in this test, so the box is unreachable.
        assert r.status_code == 503 and r.json()["detail"].startswith("granted, but")
    assert actions(hub_api) == [("access.request", "denied")] + [("consent.change", "success")] + \
        [("access.request", "denied")] * 2 + [("access.grant", "success")]
    with hub_api.hub.db.session() as session:
        denied = session.scalars(select(AuditEntry).where(AuditEntry.action == "access.request")).all()
        assert all(e.reason == REASON and e.case_number == "2026-000123" for e in denied)
