"""The hub's API fuzzed from its own OpenAPI schema (schemathesis): no input gives a 5xx; and bounded load on
sign-in over real HTTP on loopback, checked against the throttle's invariants.

Every operation is called both signed out and as an admin (so the fuzzing
reaches past authentication), on a hub with a business, an owner, an
appliance and a camera already in it. schemathesis needs the schema when the
module is collected, so the hub is built then, in a temporary directory.

The sign-in load runs on a hub of its own served by uvicorn, from many 127.0.x.y addresses at once; every
loop is bounded in count and in time, and nothing is asserted about how long anything took.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from hub.tables import Appliance, AuditEntry, Camera, Role, SignInCounter
from tests.hub_support import HubApi, HubServer
from tests.test_sign_in_hardening import PASSWORD, WRONG, ServedHub, at_once

_ROOT = Path(tempfile.mkdtemp(prefix="canvass-fuzz-"))
HUB = HubApi(_ROOT)
#: The live hit stream does not end while its client stays (server-sent events): an in-process client would wait
#: for its end forever. tests/test_hits_stream.py drives it over real HTTP.
schema = schemathesis.openapi.from_asgi("/openapi.json", HUB.app).exclude(path="/api/hits/stream")


@pytest.fixture(scope="module", autouse=True)
def seeded_hub():
    business_id, _ = HUB.business_with_owner("Bakery")
    with HUB.hub.db.session() as session:
        appliance = Appliance(device_id="dev-aaaaaaaaaaaa", business_id=business_id, cert_serial="1",
                              certificate_pem="")
        session.add(appliance)
        session.flush()
        session.add(Camera(appliance_id=appliance.id, name="front", latitude=40.7, longitude=-74.0))
    yield HUB
    HUB.close()
    shutil.rmtree(_ROOT, ignore_errors=True)


#: What the in-process hub (no broker, no SFU) says to a stream request that passed every check before it.
NOT_STREAMING = {"detail": "streaming is not running on this hub"}

#: Path parameters that name rows the seeded hub has, so generated bodies reach past the 404 (user 2 is the
#: owner: revoking the admin's own sessions would sign the fuzzing out).

KNOWN = {"business_id": 1, "camera_id": 1, "user_id": 2, "entry_id": 1, "device_id": "dev-aaaaaaaaaaaa"}


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case):
    generated = dict(case.path_parameters or {})
    known = {k: KNOWN.get(k, v) for k, v in generated.items()}
    generated_headers = dict(case.headers or {})
    for path_parameters in ([generated, known] if known != generated else [generated]):
        case.path_parameters = path_parameters
        for auth in (None, f"Bearer {HUB.admin_token}"):
            # The admin's token replaces whatever Authorization header was generated.
            case.headers = {**generated_headers, "Authorization": auth} if auth else generated_headers
            response = case.call()
            if response.status_code == 503 and response.json() == NOT_STREAMING:
                continue  # a request good enough to stream, to a hub with no media path (this one has no broker)
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:500]}")


# Bounded load on sign-in (hub.throttle): the default limits, 5 per (account, address), 20 per address.

PAIR_LIMIT, SOURCE_LIMIT = 5, 20
LOAD_TIME_S = 240
USERS = ("ana", "ben", "cat")


@pytest.fixture(scope="module")
def load_hub(tmp_path_factory):
    hub = ServedHub(tmp_path_factory.mktemp("sign-in-load"))
    for name in USERS:
        hub.add_user(name, Role.ANALYST)
    yield hub
    hub.close()


def fresh_counters(hub: ServedHub) -> None:
    with hub.api.hub.db.session() as session:
        session.execute(delete(SignInCounter))


def attempt(hub: ServedHub, name: str, password: str, source: str) -> tuple[str, str, int]:
    r = hub.login(name, password, source)
    assert r.status_code in (200, 401, 423, 429), f"{r.status_code} {r.text[:300]}"
    if r.status_code in (423, 429):
        assert int(r.headers["Retry-After"]) > 0
    return name, source, r.status_code


def test_bounded_spray_across_names_and_addresses_is_held_to_the_limits(load_hub: ServedHub):
    """Rounds of simultaneous wrong passwords, 8 addresses × 6 names (half unknown), at most 12 rounds or
    LOAD_TIME_S: no pair is checked more than 5 times, no address more than 20, and each real user still
    signs in from an address of their own."""
    fresh_counters(load_hub)
    addresses = [f"127.0.2.{n}" for n in range(1, 9)]
    names = [*USERS, "nobody", "root", "admin"]
    results: list[tuple[str, str, int]] = []
    deadline = time.monotonic() + LOAD_TIME_S
    for _ in range(12):
        if time.monotonic() > deadline:
            break
        burst = [(name, source) for source in addresses for name in names]
        results += at_once([lambda n=n, s=s: attempt(load_hub, n, WRONG, s) for n, s in burst])
    checked = Counter((name, source) for name, source, status in results if status == 401)
    assert checked and max(checked.values()) <= PAIR_LIMIT
    per_address = Counter(source for _, source, status in results if status == 401)
    assert max(per_address.values()) <= SOURCE_LIMIT
    for n, name in enumerate(USERS):
        assert load_hub.login(name, PASSWORD, f"127.0.3.{n + 1}").status_code == 200


#: One pair's share of a burst: (user, address index, wrong guesses, where the right password goes or None).
PAIR_BURST = st.tuples(st.sampled_from(USERS), st.integers(0, 2), st.integers(PAIR_LIMIT + 1, 12),
                       st.none() | st.integers(0, 12))


@given(st.lists(PAIR_BURST, min_size=1, max_size=3, unique_by=lambda t: (t[0], t[1])))
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
def test_bounded_simultaneous_attempts_never_check_more_than_the_limits(load_hub: ServedHub, pairs):
    """Up to three (name, address) pairs, each with more wrong guesses than its lock allows and perhaps the
    right password among them, all sent at once (39 requests at most): per pair at most 5 failed checks per
    success, per address at most 20, never a 5xx."""
    fresh_counters(load_hub)
    burst = []
    for name, address, wrong, right_at in pairs:
        passwords = [WRONG] * wrong
        if right_at is not None:
            passwords.insert(min(right_at, wrong), PASSWORD)
        burst += [(name, password, f"127.0.4.{address + 1}") for password in passwords]
    results = at_once([lambda n=n, pw=pw, a=a: attempt(load_hub, n, pw, a) for n, pw, a in burst])
    failed = Counter((name, source) for name, source, status in results if status == 401)
    signed_in = Counter((name, source) for name, source, status in results if status == 200)
    for pair, count in failed.items():
        assert count <= PAIR_LIMIT * (1 + signed_in[pair]), (pair, results)
    assert max(Counter(source for _, source, status in results if status == 401).values(), default=0) <= SOURCE_LIMIT


# ---------------------------------------------------------------- explicit abuse cases beside the generated ones

#: Issue 18 item 8's inputs, sent to every operation that can take them: numbers past 64 bits, a datetime that
#: overflows in UTC, NaN and infinities, lone surrogates. Each must be a clear 4xx, never a 500.
BAD_BODIES = [b'{"x": NaN}', b'{"x": Infinity}', b'{"x": 1e400}', b'{"x": 9223372036854775808}',
              b'{"x": "\\ud800"}', b'{"\\udfff": 1}']
BAD_TIME = "0001-01-01T00:00:00+14:00"


def _fill(path: str, overrides: dict) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(overrides.get(m.group(1), KNOWN.get(m.group(1), 1))), path)


def _is(schema: dict, kind: str, fmt: str | None = None) -> bool:
    options = schema.get("anyOf", [schema])
    return any(o.get("type") == kind and (fmt is None or o.get("format") == fmt) for o in options)


def _explicit_cases():
    """(method, url, query, body) for every operation: each integer path parameter at 2^63, each date-time
    query parameter before year 1 in UTC, and every bad JSON body for the operations that take one."""
    for path, methods in HUB.app.openapi()["paths"].items():
        for method, operation in methods.items():
            parameters = operation.get("parameters", [])
            for p in parameters:
                if p["in"] == "path" and _is(p.get("schema", {}), "integer"):
                    yield method.upper(), _fill(path, {p["name"]: 2**63}), {}, None
                if p["in"] == "query" and _is(p.get("schema", {}), "string", "date-time"):
                    yield method.upper(), _fill(path, {}), {p["name"]: BAD_TIME}, None
            if "requestBody" in operation:
                for body in BAD_BODIES:
                    yield method.upper(), _fill(path, {}), {}, body


def test_explicit_abuse_cases_never_reach_a_500():
    failures, cases = [], list(_explicit_cases())
    assert len(cases) > 50  # every id path, date-time query and JSON body of the API
    with HUB.client(HUB.admin_token) as client:
        for method, url, query, body in cases:
            headers = {"content-type": "application/json"} if body is not None else {}
            response = client.request(method, url, params=query, content=body, headers=headers)
            if response.status_code >= 500 or (body is not None and response.status_code < 400):
                failures.append(f"{method} {url} {query or body!r}: {response.status_code}")
    assert not failures, failures


# ---------------------------------------------------------------- bounded load: bodies and signed-out writes

def test_a_body_over_the_limit_is_refused_before_it_is_parsed(tmp_path: Path):
    api = HubApi(tmp_path, max_body_bytes=64 * 1024)
    server = HubServer(api.hub)
    server.start()
    try:
        url = f"http://127.0.0.1:{server.port}"
        huge = json.dumps({"code": "x" * (4 * 1024 * 1024), "csr_pem": "y"}).encode()
        response = httpx.post(f"{url}/api/enroll", content=huge, headers={"content-type": "application/json"},
                              timeout=30)
        assert response.status_code == 413 and len(response.content) < 200
        assert "larger than 65536 bytes" in response.json()["detail"]

        def chunks():  # no Content-Length: the limit is applied while the body streams in
            for _ in range(64):
                yield b"x" * 8192

        streamed = httpx.post(f"{url}/api/enroll", content=chunks(), headers={"content-type": "application/json"},
                              timeout=30)
        assert streamed.status_code == 413
        assert httpx.get(f"{url}/api/health", timeout=5).json()["ok"] is True
    finally:
        server.stop()
        api.close()


def test_signed_out_callers_cannot_flood_the_audit_log(hub_api: HubApi):
    """40 bad claim codes from one address (bounded loop): 10 are judged and audited, the rest get 429 and
    only the first of them is on the record; a failed key rotation names the source, not the claimed box."""
    with hub_api.client() as c:
        codes = [c.post("/api/enroll", json={"code": f"AAAAA-BBBBB-CCCCC-{i:05d}", "csr_pem": "x"}).status_code
                 for i in range(40)]
        rotate = c.post("/api/enroll/rotate", json={"device_id": "dev-aaaaaaaaaaaa", "csr_pem": "x",
                                                     "proof_b64": "AAAA"})
    assert codes[:10] == [403] * 10 and set(codes[10:]) == {429}
    assert rotate.status_code == 403
    with hub_api.hub.db.session() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action.in_(
            ["appliance.enroll", "appliance.rotate_key"])).order_by(AuditEntry.leaf_index)).all()
        assert len(entries) == 12 and all(e.actor == "unauthenticated" and e.source for e in entries)
        assert "throttled" in entries[10].reason
        assert entries[11].action == "appliance.rotate_key" and entries[11].details == {
            "claimed_device_id": "dev-aaaaaaaaaaaa"}
