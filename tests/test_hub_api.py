"""The hub's API on SQLite and on a real PostgreSQL: sign-in, lockout, TOTP, roles, registry, audit."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pyotp
import pytest
from pydantic import ValidationError
from sqlalchemy import select

from hub.tables import Appliance, AuditEntry, Camera, Role
from hub.settings import DEVELOPMENT_SECRET, HubSettings
from tests.hub_support import HubApi

REPO = Path(__file__).resolve().parents[1]


def audit_actions(api: HubApi) -> list[tuple[str, str, str]]:
    with api.hub.db.session() as session:
        return [(e.actor, e.action, e.outcome) for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def test_lockout_after_five_failed_sign_ins(hub_api: HubApi):
    hub_api.add_user("ana", "correct-horse-battery", Role.ANALYST)
    with hub_api.client() as c:
        for _ in range(5):
            r = c.post("/api/auth/login", json={"username": "ana", "password": "wrong-password"})
            assert r.status_code == 401
        r = c.post("/api/auth/login", json={"username": "ana", "password": "correct-horse-battery"})
        assert r.status_code == 423 and "locked" in r.json()["detail"]
    failures = [a for a in audit_actions(hub_api) if a[1] == "auth.login"]
    assert failures == [("ana", "auth.login", "failure")] * 5 + [("ana", "auth.login", "denied")]


def test_failures_below_the_limit_do_not_lock_and_success_resets(hub_api: HubApi):
    hub_api.add_user("ana", "correct-horse-battery", Role.ANALYST)
    with hub_api.client() as c:
        for _ in range(4):
            assert c.post("/api/auth/login", json={"username": "ana", "password": "nope"}).status_code == 401
        assert c.post("/api/auth/login", json={"username": "ana", "password": "correct-horse-battery"}).status_code == 200
        for _ in range(4):
            assert c.post("/api/auth/login", json={"username": "ana", "password": "nope"}).status_code == 401
        assert c.post("/api/auth/login", json={"username": "ana", "password": "correct-horse-battery"}).status_code == 200


def test_sessions_expire_and_sign_out(hub_api: HubApi):
    hub_api.add_user("ana", "correct-horse-battery", Role.ANALYST)
    token = hub_api.login("ana", "correct-horse-battery")
    with hub_api.client(token) as c:
        assert c.get("/api/auth/me").json()["username"] == "ana"
        assert c.post("/api/auth/logout").status_code == 204
        assert c.get("/api/auth/me").status_code == 401
    with hub_api.client("not-a-token") as c:
        assert c.get("/api/cameras").status_code == 401


def test_totp_second_factor(hub_api: HubApi):
    hub_api.add_user("ana", "correct-horse-battery", Role.ANALYST)
    token = hub_api.login("ana", "correct-horse-battery")
    with hub_api.client(token) as c:
        secret = c.post("/api/auth/totp/setup", json={"password": "correct-horse-battery"}).json()["secret"]
        totp = pyotp.TOTP(secret)
        assert c.post("/api/auth/totp/enable", json={"password": "correct-horse-battery",
                                                     "code": "000000" if totp.now() != "000000"
                                                     else "111111"}).status_code == 400
        assert c.post("/api/auth/totp/enable", json={"password": "correct-horse-battery",
                                                     "code": totp.now()}).status_code == 204
    with hub_api.client() as c:
        r = c.post("/api/auth/login", json={"username": "ana", "password": "correct-horse-battery"})
        assert r.status_code == 401 and r.json()["detail"] == "wrong user name, password or one-time code"
        # The code that enabled the factor is spent: the next time step's code (accepted one step early) signs in.
        r = c.post("/api/auth/login", json={"username": "ana", "password": "correct-horse-battery",
                                            "totp": totp.at(time.time() + totp.interval)})
        assert r.status_code == 200


def test_role_changes_are_admin_only_and_audited(hub_api: HubApi):
    business_id, owner = hub_api.business_with_owner("Bakery")
    with hub_api.client(hub_api.admin_token) as c:
        r = c.post("/api/users", json={"username": "ana", "password": "correct-horse-battery", "role": "analyst"})
        assert r.status_code == 201
        user_id = r.json()["id"]
        r = c.put(f"/api/users/{user_id}/role", json={"role": "auditor"})
        assert r.status_code == 200 and r.json()["role"] == "auditor"
        r = c.put(f"/api/users/{user_id}/role", json={"role": "owner"})
        assert r.status_code == 422  # an owner needs a business
    with hub_api.client(owner) as c:
        assert c.put(f"/api/users/{user_id}/role", json={"role": "admin"}).status_code == 403
    assert ("admin", "user.role_change", "success") in audit_actions(hub_api)
    with hub_api.hub.db.session() as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "user.role_change"))
        assert entry.details == {"before": "analyst", "after": "auditor"} and entry.object == "user:ana"


def add_camera(api: HubApi, business_id: int, name: str, lat: float, lon: float, device_id: str) -> int:
    with api.hub.db.session() as session:
        appliance = Appliance(device_id=device_id, business_id=business_id, cert_serial="1", certificate_pem="")
        session.add(appliance)
        session.flush()
        camera = Camera(appliance_id=appliance.id, name=name, latitude=lat, longitude=lon)
        session.add(camera)
        session.flush()
        return camera.id


def test_owner_sees_only_their_own_business(hub_api: HubApi):
    bakery, bakery_owner = hub_api.business_with_owner("Bakery")
    garage, garage_owner = hub_api.business_with_owner("Garage")
    mine = add_camera(hub_api, bakery, "front", 40.7128, -74.0060, "dev-aaaaaaaaaaaa")
    theirs = add_camera(hub_api, garage, "door", 40.7130, -74.0062, "dev-bbbbbbbbbbbb")
    with hub_api.client(bakery_owner) as c:
        assert [cam["id"] for cam in c.get("/api/cameras").json()] == [mine]
        assert [cam["id"] for cam in c.get("/api/cameras", params={"lat": 40.7128, "lon": -74.006}).json()] == [mine]
        assert c.get(f"/api/cameras/{theirs}").status_code == 404
        assert c.patch(f"/api/cameras/{theirs}", json={"view_direction_deg": 90}).status_code == 404
        assert c.get(f"/api/businesses/{garage}/sites").status_code == 404
        assert c.post(f"/api/businesses/{garage}/claim-codes", json={}).status_code == 404
        assert [b["id"] for b in c.get("/api/businesses").json()] == [bakery]
        assert [a["business_id"] for a in c.get("/api/appliances").json()] == [bakery]
        assert c.patch(f"/api/cameras/{mine}", json={"view_direction_deg": 90}).status_code == 200
    with hub_api.client(hub_api.admin_token) as c:
        assert sorted(cam["id"] for cam in c.get("/api/cameras").json()) == sorted([mine, theirs])


def test_cameras_within_radius_nearest_first(hub_api: HubApi):
    business, _ = hub_api.business_with_owner("Bakery")
    # Along a meridian one degree of latitude is about 111.2 km; 0.001° ≈ 111 m.
    near = add_camera(hub_api, business, "near", 51.5000, -0.1200, "dev-aaaaaaaaaaa1")
    mid = add_camera(hub_api, business, "mid", 51.5030, -0.1200, "dev-aaaaaaaaaaa2")
    far = add_camera(hub_api, business, "far", 51.5100, -0.1200, "dev-aaaaaaaaaaa3")
    add_camera(hub_api, business, "other-side", -51.5, 179.9, "dev-aaaaaaaaaaa4")
    with hub_api.client(hub_api.admin_token) as c:
        got = c.get("/api/cameras", params={"lat": 51.5001, "lon": -0.1200, "radius_m": 500}).json()
        assert [cam["id"] for cam in got] == [near, mid]
        assert got[0]["distance_m"] == pytest.approx(11.1, abs=0.5)
        assert got[1]["distance_m"] == pytest.approx(322.4, abs=1)
        got = c.get("/api/cameras", params={"lat": 51.5001, "lon": -0.1200, "radius_m": 2000}).json()
        assert [cam["id"] for cam in got] == [near, mid, far]
        assert c.get("/api/cameras", params={"lat": 91, "lon": 0}).status_code == 422
        assert c.get("/api/cameras", params={"lat": 51.5}).status_code == 422


def test_analysts_cannot_administer(hub_api: HubApi):
    hub_api.business_with_owner("Bakery")
    hub_api.add_user("ana", "correct-horse-battery", Role.ANALYST)
    token = hub_api.login("ana", "correct-horse-battery")
    with hub_api.client(token) as c:
        assert c.post("/api/businesses", json={"name": "X"}).status_code == 403
        assert c.post("/api/users", json={"username": "x", "password": "correct-horse-battery",
                                          "role": "admin"}).status_code == 403
        assert c.post("/api/appliances/dev-aaaaaaaaaaaa/revoke", json={"reason": "nope"}).status_code == 403


def test_bad_input_gets_clear_errors(hub_api: HubApi):
    with hub_api.client() as c:
        r = c.post("/api/auth/login", json={"username": "a", "password": "b", "extra": 1})
        assert r.status_code == 422 and "extra" in r.text
        r = c.post("/api/enroll", json={"code": "x", "csr_pem": "not a csr"})
        assert r.status_code == 403  # the code is checked first and is unknown


def test_production_refuses_the_default_secret(tmp_path: Path):
    with pytest.raises(ValidationError, match="development default"):
        HubSettings(environment="production", data_dir=tmp_path, secret_key=DEVELOPMENT_SECRET)
    HubSettings(environment="production", data_dir=tmp_path, secret_key="x" * 32)


def test_a_hub_without_a_secret_of_its_own_refuses_to_start_unless_told_it_is_development(tmp_path: Path):
    with pytest.raises(ValidationError, match="no server secret: run `canvass-hub --data .* init`"):
        HubSettings(data_dir=tmp_path)  # production is the default
    assert HubSettings(environment="development", data_dir=tmp_path).secret_key == DEVELOPMENT_SECRET
    cli = [sys.executable, "-m", "hub.cli", "--data", str(tmp_path / "hub")]
    refused = subprocess.run([*cli, "run"], capture_output=True, text=True, cwd=REPO, timeout=60,
                             env={k: v for k, v in os.environ.items() if not k.startswith("CANVASS_HUB_")})
    assert refused.returncode == 2 and "no server secret" in refused.stderr and "Traceback" not in refused.stderr
    made = subprocess.run([*cli, "init"], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert made.returncode == 0, made.stderr
    secret_file = tmp_path / "hub" / "keys" / "server-secret"
    assert secret_file.stat().st_mode & 0o777 == 0o600 and len(secret_file.read_text()) >= 48
    first = secret_file.read_text()
    assert subprocess.run([*cli, "init"], capture_output=True, cwd=REPO, timeout=60).returncode == 0
    assert secret_file.read_text() == first  # init never replaces a secret (tokens and claim codes depend on it)
    assert HubSettings(data_dir=tmp_path / "hub").secret_key == first


def test_run_before_init_says_what_to_run(tmp_path: Path):
    env = {**os.environ, "CANVASS_HUB_SECRET_KEY": "s" * 40}
    done = subprocess.run([sys.executable, "-m", "hub.cli", "--data", str(tmp_path / "hub"), "run"],
                          capture_output=True, text=True, cwd=REPO, timeout=60, env=env)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"run `canvass-hub --data {tmp_path / 'hub'} init` first" in done.stderr


def test_create_admin_cli_non_interactive(tmp_path: Path):
    subprocess.run([sys.executable, "-m", "hub.cli", "--data", str(tmp_path / "hub"), "init"], check=True,
                   capture_output=True, cwd=REPO, timeout=60)
    cmd = [sys.executable, "-m", "hub.cli", "--data", str(tmp_path / "hub"), "create-admin", "--username", "root-admin",
           "--password-stdin"]
    weak = subprocess.run(cmd, input="short\n", capture_output=True, text=True, cwd=REPO)
    assert weak.returncode == 2 and "at least 12" in weak.stderr
    ok = subprocess.run(cmd, input="a-long-enough-password\n", capture_output=True, text=True, cwd=REPO)
    assert ok.returncode == 0, ok.stderr
    again = subprocess.run(cmd, input="a-long-enough-password\n", capture_output=True, text=True, cwd=REPO)
    assert again.returncode == 1 and "already exists" in again.stderr
    shouted = subprocess.run([*cmd[:-2], "ROOT-ADMIN", "--password-stdin"], input="another-long-passphrase\n",
                             capture_output=True, text=True, cwd=REPO)
    assert shouted.returncode == 1 and "already exists" in shouted.stderr and "Traceback" not in shouted.stderr
    named = subprocess.run([*cmd[:-2], "second-admin", "--password-stdin"], input="second-admin-passphrase\n",
                           capture_output=True, text=True, cwd=REPO)
    assert named.returncode == 2 and "user name" in named.stderr
    api = HubApi(tmp_path)
    try:
        assert api.login("root-admin", "a-long-enough-password")
        assert (tmp_path / "hub" / "hub.db").exists()
        assert ((tmp_path / "hub" / "ca" / "ca.key").stat().st_mode & 0o777) == 0o600
        assert ((tmp_path / "hub" / "keys" / "grant-signing.key").stat().st_mode & 0o777) == 0o600
    finally:
        api.close()
