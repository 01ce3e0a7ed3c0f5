"""Policies and grants travel over the real MQTT link; the appliance's decision comes back and is audited."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from edge.consent.guard import ConsentGuard
from hub.access.presenting import present_grant, push_policy
from hub.access.grants import issue_grant
from hub.tables import AuditEntry, Role
from tests.hub_support import HubStack, eventually
from tests.owner_support import OwnerAtHub, SoftwareAuthenticator, pair_at_box, signed_policy
from tests.test_mqtt_link import SimAppliance, enrol
from wire import consent as c
from wire import messages as m

REPO = Path(__file__).resolve().parents[1]
REASON = "armed robbery reported at the corner store"
#: Five minutes of yesterday's footage: inside what any box keeps, whenever the test runs.
_YESTERDAY = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(days=1)
WINDOW = (_YESTERDAY.isoformat(), (_YESTERDAY + dt.timedelta(minutes=5)).isoformat())


def appliance_with_guard(root: Path, identity) -> tuple[SimAppliance, ConsentGuard]:
    """A started appliance link whose consent guard answers the hub's policy and grant commands."""
    appliance = SimAppliance(root, identity)
    guard = ConsentGuard(root / "consent.sqlite3", device_id=identity.device_id, cameras=["front"],
                         grant_key_pem=identity.grant_public_key_pem, audit_key_pem=identity.audit_public_key_pem,
                         audit_origin=identity.audit_origin)
    appliance.link.handlers.update(guard.command_handlers())
    return appliance.start(), guard


def test_policy_and_grants_over_mqtt_with_decisions_audited(hub_stack: HubStack, tmp_path: Path):
    identity, _, _ = enrol(hub_stack, tmp_path / "a", "Bakery")
    appliance, guard = appliance_with_guard(tmp_path / "a", identity)
    hub = hub_stack.hub
    owner = SoftwareAuthenticator()
    pair_at_box(guard, owner)
    try:
        policy = c.Policy(sharing="always", modes=["live"])
        reply = push_policy(hub, identity.device_id, signed_policy(owner, device_id=identity.device_id,
                                                                   camera="front", version=1, policy=policy))
        assert reply.ok and reply.result == m.PolicyTaken(camera="front", version=1)

        def new_grant(**kw):
            args = dict(device_id=identity.device_id, camera="front", mode="live", analyst="ana", reason=REASON,
                        case_number="2026-000777", policy_version=1, lifetime_s=300)
            args.update(kw)
            return issue_grant(hub, **args)

        accepted, reason = present_grant(hub, identity.device_id, new_grant())
        assert (accepted, reason) == (True, "accepted")
        guard.pause("front")
        accepted, reason = present_grant(hub, identity.device_id, new_grant())
        assert (accepted, reason) == (False, "sharing paused on the appliance by its owner")
        guard.resume("front")
        accepted, reason = present_grant(hub, identity.device_id, new_grant(mode="clip"))
        assert (accepted, reason) == (False, "mode clip is not allowed for this camera")
        # An older policy pushed again (a hub trying to widen access) is refused by the box.
        stale = push_policy(hub, identity.device_id, signed_policy(owner, device_id=identity.device_id,
                                                                   camera="front", version=1, policy=policy))
        assert not stale.ok and "not newer" in stale.error
    finally:
        appliance.stop()
        guard.close()
    with hub.db.session() as session:
        decisions = [(e.outcome, e.reason) for e in session.scalars(
            select(AuditEntry).where(AuditEntry.action == "access.appliance_decision").order_by(AuditEntry.leaf_index))]
    assert decisions == [("success", "accepted"), ("denied", "sharing paused on the appliance by its owner"),
                         ("denied", "mode clip is not allowed for this camera")]


def test_owner_pause_command_on_the_box(tmp_path: Path):
    config = tmp_path / "edge.toml"
    config.write_text(f'[appliance]\nid = "shop-1"\ndata_dir = "{tmp_path / "data"}"\n'
                      '[[cameras]]\nname = "front"\nurl = "rtsp://127.0.0.1:8554/cam1"\n')

    def edge(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "edge.cli", *args, "--config", str(config)],
                              capture_output=True, text=True, cwd=REPO, timeout=60)

    assert edge("pause", "--camera", "nope").returncode == 2
    done = edge("pause", "--camera", "front")
    assert done.returncode == 0 and "paused for camera front" in done.stdout
    guard = ConsentGuard(tmp_path / "data" / "consent.sqlite3")
    assert guard.paused("front")
    guard.close()
    assert edge("resume", "--camera", "front").returncode == 0
    guard = ConsentGuard(tmp_path / "data" / "consent.sqlite3")
    assert not guard.paused("front")
    guard.close()
    assert edge("access-log", "--json").stdout.strip() == "[]"


def test_owner_consent_and_analyst_request_end_to_end(hub_stack: HubStack, tmp_path: Path):
    """Owner pairs a passkey with the box, signs consent in the hub → the signed policy reaches the box → analyst
    asks → the box accepts; an approval signed with the passkey → the box accepts."""
    identity, business_id, owner = enrol(hub_stack, tmp_path / "a", "Bakery")
    appliance, guard = appliance_with_guard(tmp_path / "a", identity)
    hub_stack.add_user("ana", "correct-horse-battery", Role.ANALYST)
    analyst = hub_stack.login("ana", "correct-horse-battery")
    try:
        appliance.link.publish_event(m.CameraStatus(camera="front", status="recording"))
        with hub_stack.client(owner) as c:
            eventually(lambda: c.get("/api/cameras").json(), what="camera known to the hub")
            camera_id = c.get("/api/cameras").json()[0]["id"]
            passkey = OwnerAtHub(c)
            passkey.pair(guard)
            assert passkey.put_consent(camera_id, {"sharing": "always", "modes": ["live"]}).status_code == 200
        eventually(lambda: guard.policy("front") is not None, what="policy on the box")
        with hub_stack.client(analyst) as c:
            r = c.post("/api/access", json={"camera_id": camera_id, "mode": "live", "purpose": "property_crime", "reason": REASON,
                                            "case_number": "2026-000900"})
            assert r.status_code == 201 and r.json()["status"] == "accepted", r.text
            guard.pause()
            r = c.post("/api/access", json={"camera_id": camera_id, "mode": "live", "purpose": "property_crime", "reason": REASON,
                                            "case_number": "2026-000901"})
            assert r.status_code == 201 and (r.json()["status"], r.json()["reason"]) == (
                "refused_by_appliance", "sharing paused on the appliance by its owner")
            guard.resume()
        # request_only: footage needs the owner's approval, which the box checks on the signed log.
        with hub_stack.client(owner) as c:
            passkey.client = c
            passkey.put_consent(camera_id, {"sharing": "request_only", "modes": ["playback"]})
        eventually(lambda: guard.policy("front").version == 2, what="policy v2 on the box")
        footage = {"camera_id": camera_id, "mode": "playback", "purpose": "violent_crime", "reason": REASON, "case_number": "2026-000902",
                   "window_from": WINDOW[0], "window_to": WINDOW[1]}
        with hub_stack.client(analyst) as c:
            r = c.post("/api/access", json=footage)
            assert r.status_code == 202 and r.json()["status"] == "pending_owner_approval"
            request_id = r.json()["request_id"]
        with hub_stack.client(owner) as c:
            passkey.client = c
            assert [q["status"] for q in c.get("/api/requests").json()] == ["pending"]
            unsigned = c.post(f"/api/requests/{request_id}/decision", json={"approve": True, "note": "ok"})
            assert unsigned.status_code == 422 and "signed with your passkey" in unsigned.json()["detail"]
            r = passkey.decide(request_id, approve=True, note="ok for police", path="requests")
            assert r.status_code == 200 and r.json()["status"] == "accepted", r.text
            assert c.post(f"/api/requests/{request_id}/decision", json={"approve": True}).status_code == 409
        with hub_stack.client(analyst) as c:
            r = c.post("/api/access", json={**footage, "case_number": "2026-000903"})
        with hub_stack.client(owner) as c:
            r = c.post(f"/api/requests/{r.json()['request_id']}/decision", json={"approve": False})
            assert r.json()["status"] == "denied_by_owner"
    finally:
        appliance.stop()
        guard.close()
