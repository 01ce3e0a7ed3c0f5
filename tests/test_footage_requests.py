"""Footage requests through the hub's API (SQLite and PostgreSQL): asked per canvass under a case, decided by the
owner (whole, trimmed, denied) or by the owner's policy, expired, each step audited; owners told in the hub and by
e-mail through a real SMTP server on loopback; bad input refused with nothing stored."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from hub.tables import AuditEntry, Case, FootageRequest, Incident, Notice, Role, User
from tests.hub_support import HubApi
from tests.mail_support import Inbox
from tests.owner_support import decide, put_consent
from tests.test_hub_api import add_camera

REASON = "armed robbery reported at the corner store"
REQUEST_ONLY = {"sharing": "request_only", "modes": ["playback", "clip"]}
ALWAYS = {"sharing": "always", "modes": ["live", "playback", "clip"]}


def _window(hours_ago: float = 24, minutes: float = 10) -> tuple[str, str]:
    start = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(hours=hours_ago)
    return start.isoformat(), (start + dt.timedelta(minutes=minutes)).isoformat()


@pytest.fixture
def footage_api(tmp_path, database_url, inbox):
    api = HubApi(tmp_path, database_url, smtp_host="127.0.0.1", smtp_port=inbox.controller.port,
                 smtp_starttls=False, public_url="https://hub.example.org")
    yield api
    api.close()


def _setup(api: HubApi):
    bakery, bakery_owner = api.business_with_owner("Bakery")
    garage, garage_owner = api.business_with_owner("Garage")
    with api.hub.db.session() as session:
        session.get(User, session.scalar(select(User.id).where(User.username == f"owner-{bakery}"))).email = \
            "baker@example.org"
    near = add_camera(api, bakery, "front", 40.7128, -74.0060, "dev-aaaaaaaaaaaa")
    also_near = add_camera(api, garage, "door", 40.7130, -74.0062, "dev-bbbbbbbbbbbb")
    far = add_camera(api, garage, "yard", 40.7500, -74.0060, "dev-cccccccccccc")
    with api.client(bakery_owner) as c:
        assert put_consent(c, near, REQUEST_ONLY).status_code == 200
    with api.client(garage_owner) as c:
        assert put_consent(c, also_near, ALWAYS).status_code == 200
        assert put_consent(c, far, ALWAYS).status_code == 200
    api.add_user("ana", "correct-horse-battery", Role.ANALYST, unit="Robbery")
    return (near, also_near, far), bakery_owner, garage_owner, api.login("ana", "correct-horse-battery")


def _incident(api: HubApi, status: str = "open") -> int:
    with api.hub.db.session() as session:
        row = Incident(external_id=f"CAD-{status}", source="cad", type="robbery", priority=1, status=status,
                       latitude=40.7129, longitude=-74.0061, address="1 Main St",
                       reported_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=24), created_by="cad")
        session.add(row)
        session.flush()
        return row.id


def _ask(cameras, **extra) -> dict:
    window_from, window_to = _window()
    return {"camera_ids": list(cameras), "window_from": window_from, "window_to": window_to,
            "purpose": "violent_crime", "reason": REASON, "case_number": "2026-000777", **extra}


def _audit(api: HubApi, prefix: tuple[str, ...] = ("footage.", "access.owner_decision")) -> list[AuditEntry]:
    with api.hub.db.session() as session:
        return [e for e in session.scalars(select(AuditEntry).order_by(AuditEntry.leaf_index))
                if e.action.startswith(prefix)]


def _count(api: HubApi, table) -> int:
    with api.hub.db.session() as session:
        return session.scalar(select(func.count()).select_from(table))


def test_an_ask_makes_one_request_per_camera_under_the_case(footage_api: HubApi, inbox: Inbox):
    (near, also_near, _), bakery_owner, _, analyst = _setup(footage_api)
    incident = _incident(footage_api)
    with footage_api.client(analyst) as c:
        r = c.post("/api/footage-requests", json=_ask([near, also_near], incident_id=incident, radius_m=200))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["public_reference"].startswith("C-") and body["case_number"] == "2026-000777"
    statuses = {o["camera_id"]: o["status"] for o in body["results"]}
    assert statuses == {near: "pending", also_near: "approved"}  # `always` + clip: approved by the policy
    with footage_api.hub.db.session() as session:
        rows = session.scalars(select(FootageRequest).order_by(FootageRequest.id)).all()
        case = session.scalar(select(Case))
        assert {r.case_id for r in rows} == {case.id} and case.incident_id == incident
        assert [r.status for r in rows] == ["pending", "approved"] and rows[1].decided_how == "policy"
        assert all(r.expires_at > dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=6) for r in rows)
    entries = _audit(footage_api)
    assert [(e.action, e.outcome) for e in entries] == [
        ("footage.request", "pending"), ("footage.request", "pending"), ("footage.decision", "success")]
    assert entries[0].details["window_from"] and entries[0].details["purpose"] == "violent_crime"
    assert entries[0].case_number == "2026-000777" and entries[0].reason == REASON
    with footage_api.client(bakery_owner) as c:
        notices = c.get("/api/notices").json()
        assert len(notices) == 1 and "front of Bakery" in notices[0]["message"]
        assert c.post(f"/api/notices/{notices[0]['id']}/read").status_code == 204
        assert c.get("/api/notices", params={"unread": True}).json() == []
    assert inbox.arrived.wait(10), "the owner was not e-mailed"
    mail = inbox.messages[0]
    assert mail["To"] == "baker@example.org" and "waits for your decision" in mail["Subject"]
    text = mail.get_payload()
    assert body["public_reference"] in text and "https://hub.example.org" in text
    assert REASON not in text  # the reason may name people: it is read in the hub, not sent by e-mail


BAD_ASKS = [  # each a function: its times are taken when the test runs
    (lambda: {"window_to": _window(minutes=-1)[1]}, 422, "end after it starts"),
    (lambda: {"window_to": _window(minutes=121)[1]}, 422, "longer than"),
    (lambda: {"window_from": _window(hours_ago=-1)[0], "window_to": _window(hours_ago=-1, minutes=5)[1]}, 422,
     "future"),
    (lambda: {"window_from": _window(hours_ago=31 * 24)[0], "window_to": _window(hours_ago=31 * 24, minutes=5)[1]},
     422, "days ago"),
    (lambda: {"incident_id": 999999}, 404, "no such incident"),
    (lambda: {"incident_id": None, "latitude": None}, 422, "say where"),
    (lambda: {"radius_m": 50_000}, 422, None),
    (lambda: {"reason": "short"}, 422, None),
    (lambda: {"case_number": "<script>"}, 422, None),
]


def test_bad_asks_are_refused_and_nothing_is_stored(footage_api: HubApi):
    (near, also_near, _), _, _, analyst = _setup(footage_api)
    incident = _incident(footage_api)
    with footage_api.client(analyst) as c:
        for change, status, words in BAD_ASKS:
            ask = {**_ask([near, also_near], incident_id=incident, radius_m=200), **change()}
            r = c.post("/api/footage-requests", json={k: v for k, v in ask.items() if v is not None})
            assert r.status_code == status, (change(), r.text)
            if words:
                assert words in r.json()["detail"]
            assert "<script>" not in r.text
    assert _count(footage_api, FootageRequest) == 0 and _count(footage_api, Case) == 0
    assert _audit(footage_api) == []


def test_cameras_outside_the_canvass_and_closed_incidents_are_refused(footage_api: HubApi):
    (near, _, far), _, _, analyst = _setup(footage_api)
    closed = _incident(footage_api, "closed")
    with footage_api.client(analyst) as c:
        r = c.post("/api/footage-requests", json=_ask([near, far], latitude=40.7129, longitude=-74.0061,
                                                      radius_m=300))
        assert r.status_code == 422 and "outside" in r.json()["detail"] and str(far) in r.json()["detail"]
        r = c.post("/api/footage-requests", json=_ask([near], incident_id=closed))
        assert r.status_code == 409 and "closed" in r.json()["detail"]
        assert c.post("/api/footage-requests", json=_ask([near, near], latitude=40.7, longitude=-74)
                      ).status_code == 422
        assert c.post("/api/footage-requests", json=_ask([123456], latitude=40.7, longitude=-74)).status_code == 404
    assert _count(footage_api, FootageRequest) == 0


def test_the_owner_approves_a_trimmed_window_or_denies_with_a_reason(footage_api: HubApi):
    (near, _, _), bakery_owner, garage_owner, analyst = _setup(footage_api)
    with footage_api.client(analyst) as c:
        first = c.post("/api/footage-requests", json=_ask([near], latitude=40.7128, longitude=-74.006)).json()
        second = c.post("/api/footage-requests", json={**_ask([near], latitude=40.7128, longitude=-74.006),
                                                       "case_number": "2026-000778"}).json()
    one, two = first["results"][0]["request_id"], second["results"][0]["request_id"]
    with footage_api.hub.db.session() as session:
        asked = session.get(FootageRequest, one)
        trimmed = (asked.window_from + dt.timedelta(minutes=2), asked.window_to - dt.timedelta(minutes=3))
        outside = asked.window_to + dt.timedelta(minutes=1)
    with footage_api.client(garage_owner) as c:  # not theirs
        assert c.post(f"/api/footage-requests/{one}/decision", json={"approve": True}).status_code == 404
    with footage_api.client(analyst) as c:
        assert c.post(f"/api/footage-requests/{one}/decision", json={"approve": True}).status_code == 403
    with footage_api.client(bakery_owner) as c:
        r = c.post(f"/api/footage-requests/{one}/decision",
                   json={"approve": True, "window_from": trimmed[0].isoformat(), "window_to": outside.isoformat()})
        assert r.status_code == 422 and "inside the requested" in r.json()["detail"]
        assert c.post(f"/api/footage-requests/{two}/decision", json={"approve": False}).status_code == 422
        unsigned = c.post(f"/api/footage-requests/{one}/decision", json={"approve": True})
        assert unsigned.status_code == 422 and "signed with your passkey" in unsigned.json()["detail"]
        r = decide(c, one, approve=True, note="only the part with the door",
                   window=(trimmed[0].isoformat(), trimmed[1].isoformat()))
        assert r.status_code == 200 and r.json()["status"] == "approved", r.text
        assert c.post(f"/api/footage-requests/{one}/decision", json={"approve": False, "note": "changed my mind"}
                      ).status_code == 409
        r = c.post(f"/api/footage-requests/{two}/decision", json={"approve": False, "note": "not our business"})
        assert r.json()["status"] == "denied"
        mine = {r["id"]: r for r in c.get("/api/footage-requests").json()}
    assert mine[one]["approved_from"].startswith(trimmed[0].isoformat()[:19])
    assert mine[one]["status"] == "approved" and mine[one]["clip_stage"] == "waiting"  # no box online here
    assert mine[two]["status"] == "denied" and mine[two]["decision_note"] == "not our business"
    decisions = [e for e in _audit(footage_api) if e.action == "access.owner_decision"]
    assert [(e.outcome, e.details["approved"]) for e in decisions] == [("success", True), ("denied", False)]
    assert dt.datetime.fromisoformat(decisions[0].details["window_from"]) == trimmed[0]
    assert decisions[0].details["requested_from"] and decisions[1].reason == "not our business"
    grants = [e for e in _audit(footage_api, ("access.grant",))]
    assert len(grants) == 1 and grants[0].details["mode"] == "clip"
    assert dt.datetime.fromisoformat(grants[0].details["window_to"]) == trimmed[1]
    with footage_api.client(analyst) as c:  # a clip request is not decided through the stream-request route
        assert c.post(f"/api/requests/{one}/decision", json={"approve": True}).status_code in (403, 409)


def test_undecided_requests_expire_audited_and_cannot_be_decided_after(footage_api: HubApi):
    (near, _, _), bakery_owner, _, analyst = _setup(footage_api)
    with footage_api.client(analyst) as c:
        ask = c.post("/api/footage-requests", json=_ask([near], latitude=40.7128, longitude=-74.006)).json()
    request_id = ask["results"][0]["request_id"]
    with footage_api.hub.db.session() as session:
        session.get(FootageRequest, request_id).expires_at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
    assert footage_api.app.state.footage.expire_due() == 1
    assert footage_api.app.state.footage.expire_due() == 0
    with footage_api.client(bakery_owner) as c:
        r = c.post(f"/api/footage-requests/{request_id}/decision", json={"approve": True})
        assert r.status_code == 409 and "expired" in r.json()["detail"]
    assert [(e.action, e.outcome) for e in _audit(footage_api, ("footage.expired",))] == [("footage.expired",
                                                                                             "failure")]
    with footage_api.hub.db.session() as session:
        assert session.get(FootageRequest, request_id).status == "expired"


def test_a_camera_whose_consent_refuses_clips_is_refused_alone_and_audited(footage_api: HubApi):
    (near, also_near, _), bakery_owner, _, analyst = _setup(footage_api)
    with footage_api.client(bakery_owner) as c:
        assert put_consent(c, near, {"sharing": "request_only", "modes": ["playback"]}
                     ).status_code == 200
    with footage_api.client(analyst) as c:
        r = c.post("/api/footage-requests", json=_ask([near, also_near], latitude=40.7128, longitude=-74.006))
    results = {o["camera_id"]: o for o in r.json()["results"]}
    assert results[near]["status"] == "refused" and "clip" in results[near]["reason"]
    assert results[near]["request_id"] is None and results[also_near]["status"] == "approved"
    refused = [e for e in _audit(footage_api) if e.outcome == "denied"]
    assert len(refused) == 1 and refused[0].details["refused"]


def test_preapproved_purposes_limit_what_an_always_policy_approves(footage_api: HubApi):
    (_, also_near, _), _, garage_owner, analyst = _setup(footage_api)
    with footage_api.client(garage_owner) as c:
        assert put_consent(c, also_near, {**ALWAYS, "preapproved_purposes": ["missing_person"]}).status_code == 200
    with footage_api.client(analyst) as c:
        robbery = c.post("/api/footage-requests", json=_ask([also_near], latitude=40.713, longitude=-74.006))
        missing = c.post("/api/footage-requests", json={**_ask([also_near], latitude=40.713, longitude=-74.006),
                                                        "purpose": "missing_person", "case_number": "MP-1"})
    assert robbery.json()["results"][0]["status"] == "pending"
    assert missing.json()["results"][0]["status"] == "approved"
    with footage_api.hub.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Notice)) == 1
