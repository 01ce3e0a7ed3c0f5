"""What an outsider found on the hub's edges, each a 4xx now: huge bodies, numbers and times out of range,
NaN, lone surrogates, echoed input, footage windows no box can hold."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from hub.address_limits import AddressLimiter
from hub.audit.recorder import AccessRecorder
from hub.api.boundary import BodyError, check_json
from hub.tables import AuditEntry
from tests.hub_support import HubApi
from tests.test_access_api import OPEN, REASON, setup
from tests.owner_support import put_consent


@pytest.fixture
def hub_api(tmp_path: Path):
    api = HubApi(tmp_path)
    api.business_with_owner("Corner shop")  # and the admin, signed in
    yield api
    api.close()


def strict_client(api: HubApi, token: str | None = None) -> TestClient:
    """A client that turns a server error into a 500 response instead of raising it in the test."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return TestClient(api.app, headers=headers, raise_server_exceptions=False)



def test_validation_errors_never_echo_the_input(hub_api: HubApi):
    secret_looking = "S3CRET-" + "q" * 200
    with strict_client(hub_api) as c:
        response = c.post("/api/enroll", json={"code": secret_looking, "csr_pem": "y"})
    assert response.status_code == 422
    assert "S3CRET" not in response.text and "qqqq" not in response.text
    assert response.json()["detail"][0]["loc"] == ["body", "code"]


@pytest.mark.parametrize("body", [
    b'{"name": NaN}', b'{"name": Infinity}', b'{"name": -Infinity}', b'{"name": 1e400}',
    b'{"name": "bakery", "extra": 9223372036854775808}', b'{"name": -9223372036854775809}',
    b'{"name": "ab\\ud800cd"}', b'{"name\\udfff": "x"}', b'[' * 100 + b']' * 100,
])
def test_json_the_hub_cannot_keep_is_a_clear_422(hub_api: HubApi, body: bytes):
    with strict_client(hub_api, hub_api.admin_token) as c:
        response = c.post("/api/businesses", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert "bakery" not in response.text and "ab" not in response.json()["detail"][:2]


def test_json_that_fits_passes_the_guard():
    check_json(b'{"a": [1, -9223372036854775808, 9223372036854775807, 1.5, "caf\\u00e9 \\ud83d\\ude00", true]}')
    with pytest.raises(BodyError):
        check_json(b'{"a": 9223372036854775808}')


@pytest.mark.parametrize("method, path, body", [
    ("get", f"/api/cameras/{2**63}", None),
    ("get", f"/api/cameras/{2**64}/consent", None),
    ("put", f"/api/cameras/{2**63}/consent", {"sharing": "off"}),
    ("post", f"/api/cameras/{2**63}/consent/document", {"sharing": "off"}),
    ("post", f"/api/footage-requests/{2**63}/approval-document", {}),
    ("post", "/api/access", {"camera_id": 2**63, "mode": "live", "purpose": "other", "reason": REASON,
                             "case_number": "2026-1"}),
    ("post", "/api/access", {"camera_id": 1, "mode": "playback", "purpose": "other", "reason": REASON,
                             "case_number": "2026-1", "window_from": "0001-01-01T00:00:00+14:00",
                             "window_to": "0001-01-01T01:00:00+14:00"}),
    ("get", "/api/audit/entries?since=0001-01-01T00:00:00%2B14:00", None),
])
def test_numbers_and_times_out_of_range_are_a_4xx_not_a_500(hub_api: HubApi, method: str, path: str, body):
    with strict_client(hub_api, hub_api.admin_token) as c:
        response = c.request(method.upper(), path, json=body)
    assert 400 <= response.status_code < 500, (path, response.status_code, response.text)


def test_footage_windows_no_box_can_hold_are_refused(hub_api: HubApi):
    camera, owner, _, analyst = setup(hub_api)
    with hub_api.client(owner) as c:
        put_consent(c, camera, {**OPEN, "modes": ["playback", "clip"]})
    now = dt.datetime.now(dt.timezone.utc)
    cases = {
        "in 2100": ("2100-01-01T00:00:00Z", "2100-01-01T00:05:00Z", "starts in the future"),
        "ten years long": ((now - dt.timedelta(days=3650)).isoformat(), now.isoformat(), "longer than 7200 s"),
        "before the buffer": ((now - dt.timedelta(days=45)).isoformat(),
                              (now - dt.timedelta(days=45) + dt.timedelta(minutes=5)).isoformat(), "30 days ago"),
    }
    request = {"camera_id": camera, "mode": "clip", "purpose": "property_crime", "reason": REASON,
               "case_number": "2026-000321"}
    with hub_api.client(analyst) as c:
        for name, (start, end, why) in cases.items():
            response = c.post("/api/access", json={**request, "window_from": start, "window_to": end})
            assert response.status_code == 422 and why in response.json()["detail"], (name, response.text)



def test_the_address_limiter_admits_its_limit_per_window_and_reports_the_first_refusal():
    now = [0.0]
    throttle = AddressLimiter(3, 60, clock=lambda: now[0], max_keys=2)
    assert [throttle.admit("enroll", "10.0.0.1").allowed for _ in range(3)] == [True] * 3
    refused = [throttle.admit("enroll", "10.0.0.1") for _ in range(3)]
    assert [v.allowed for v in refused] == [False] * 3 and [v.first_refusal for v in refused] == [True, False, False]
    assert refused[0].retry_after_s == 60
    assert throttle.admit("enroll", "10.0.0.2").allowed and throttle.admit("rotate", "10.0.0.1").allowed
    now[0] = 61
    assert throttle.admit("enroll", "10.0.0.1").allowed  # the window moved on (and memory stays bounded)



def test_reads_and_failed_attempts_are_on_the_record_without_flooding_it(hub_api: HubApi):
    """An auditor reading the log and the users is recorded; 200 probes of camera ids and 30 signed-out calls
    (bounded loops) leave one entry each plus a count, not 230."""
    admin = hub_api.admin_token
    with hub_api.client(admin) as c:
        assert c.get("/api/users").status_code == 200
        assert c.get("/api/audit/entries").status_code == 200
        probes = {c.get(f"/api/cameras/{n}").status_code for n in range(1000, 1200)}
    with hub_api.client() as c:
        signed_out = {c.get("/api/users").status_code for _ in range(30)}
    assert probes == {404} and signed_out == {401}
    hub_api.app.state.access_recorder.flush()
    with hub_api.hub.db.session() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action.like("read.%") |
                                                           AuditEntry.action.like("request.%"))).all()
        seen = [(e.actor, e.action, e.object, e.details.get("repeats")) for e in entries]
    assert ("admin", "read.users", "GET /api/users", None) in seen
    assert ("admin", "read.audit_entries", "GET /api/audit/entries", None) in seen
    probe = "GET /api/cameras/{camera_id}"
    assert seen.count(("admin", "request.not_found", probe, None)) == 1
    assert ("admin", "request.not_found", probe, 199) in seen
    assert ("unauthenticated", "request.unauthenticated", "GET /api/users", 29) in seen
    assert len(seen) <= 8, seen


def test_the_access_recorder_stops_adding_entries_when_flooded_with_distinct_keys(hub_api: HubApi):
    now = [0.0]
    recorder = AccessRecorder(hub_api.hub.db, window_s=60, clock=lambda: now[0], max_keys=3)

    def count() -> int:
        with hub_api.hub.db.session() as session:
            return len(session.scalars(select(AuditEntry).where(AuditEntry.action == "request.not_found")).all())

    for n in range(50):  # bounded: 50 distinct sources
        recorder.record(actor="unauthenticated", action="request.not_found", object="GET /api/x", outcome="denied",
                        source=f"10.0.0.{n}")
    assert count() == 3 and recorder.dropped == 47
    now[0] = 61
    recorder.record(actor="unauthenticated", action="request.not_found", object="GET /api/x", outcome="denied",
                    source="10.0.1.1")
    assert count() == 4  # the window passed: recording goes on
