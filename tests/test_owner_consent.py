"""The hub cannot speak for an owner: attacks a compromised hub (or its admin) would try, carried over the real
MQTT link to a real consent guard, each refused by the box with the reason in its access log."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from sqlalchemy import select

from edge.consent.guard import ConsentGuard
from hub import audit
from hub.access.grants import issue_grant
from hub.access.presenting import present_grant, push_policy
from hub.tables import ConsentVersion, FootageRequest, Role
from tests.hub_support import HubStack, eventually
from tests.owner_support import OwnerAtHub, SoftwareAuthenticator, signed_approval
from tests.test_consent_link import REASON, WINDOW, appliance_with_guard
from tests.test_mqtt_link import enrol
from wire import consent as c
from wire import owner as wo

REQUEST_ONLY = {"sharing": "request_only", "modes": ["playback"]}


def _setup(hub_stack: HubStack, tmp_path: Path):
    """A box with a camera, its owner's passkey registered at the hub and paired at the box, a signed
    request_only policy in force there, an analyst and an admin."""
    identity, _, owner_token = enrol(hub_stack, tmp_path / "a", "Bakery")
    appliance, guard = appliance_with_guard(tmp_path / "a", identity)
    appliance.link.publish_event(c_status())
    with hub_stack.client(owner_token) as client:
        eventually(lambda: client.get("/api/cameras").json(), what="camera known to the hub")
        camera_id = client.get("/api/cameras").json()[0]["id"]
        owner = OwnerAtHub(client)
        owner.pair(guard)
        assert owner.put_consent(camera_id, REQUEST_ONLY).status_code == 200
    eventually(lambda: guard.policy("front") is not None, what="the owner's policy on the box")
    hub_stack.add_user("ana", "correct-horse-battery", Role.ANALYST)
    hub_stack.add_user("root", "correct-horse-battery", Role.ADMIN)
    return identity, appliance, guard, owner, owner_token, camera_id


def c_status():
    from wire import messages as m

    return m.CameraStatus(camera="front", status="recording")


def test_hub_admin_cannot_approve_for_the_owner(hub_stack: HubStack, tmp_path: Path):
    """The attack from the issue: an admin requests footage from another business's request_only camera and
    approves it; the hub refuses, and when the hub's own code is made to issue the grant anyway (a compromised
    hub: the admin's approval on the signed log, even a passkey signature by a key the hub holds), the box
    refuses it."""
    identity, appliance, guard, owner, owner_token, camera_id = _setup(hub_stack, tmp_path)
    admin = hub_stack.login("root", "correct-horse-battery")
    footage = {"camera_id": camera_id, "mode": "playback", "purpose": "violent_crime", "reason": REASON,
               "case_number": "2026-000950", "window_from": WINDOW[0], "window_to": WINDOW[1]}
    try:
        with hub_stack.client(admin) as c_admin:
            r = c_admin.post("/api/access", json=footage)
            assert r.status_code == 202, r.text
            request_id = r.json()["request_id"]
            r = c_admin.post(f"/api/requests/{request_id}/decision", json={"approve": True, "note": "approved"})
            assert r.status_code == 403 and "only the camera's owner approves" in r.json()["detail"]
            assert c_admin.post(f"/api/requests/{request_id}/approval-document").status_code == 403
        # The hub's database and keys in the attacker's hands: the admin's approval goes on the signed log as
        # if it were the owner's, and the hub signs a grant carrying it.
        hub = hub_stack.hub
        window = tuple(dt.datetime.fromisoformat(w) for w in WINDOW)
        with hub.db.session() as session:
            approval_index = audit.append(
                session, actor="root", action="access.owner_decision", outcome=audit.Outcome.SUCCESS,
                object=f"camera:{camera_id}", reason="approved", case_number="2026-000950", approved=True,
                request_id=request_id, camera="front", device_id=identity.device_id, mode="playback",
                window_from=WINDOW[0], window_to=WINDOW[1])
        grant = dict(device_id=identity.device_id, camera="front", mode="playback", analyst="root", reason=REASON,
                     case_number="2026-000950", policy_version=1, lifetime_s=300, window=window,
                     approval_index=approval_index)
        accepted, why = present_grant(hub, identity.device_id, issue_grant(hub, **grant))
        assert (accepted, why) == (False, "this camera needs its owner's approval for each request, and the grant "
                                          "carries none signed by the owner")
        hub_key = SoftwareAuthenticator()  # a passkey the hub made and holds: never paired at the box
        forged = signed_approval(hub_key, device_id=identity.device_id, camera="front", request_id=request_id,
                                 mode="playback", case_number="2026-000950", window=window)
        accepted, why = present_grant(hub, identity.device_id, issue_grant(hub, **grant, owner_approval=forged))
        assert not accepted and why == "the approval is not the owner's: signed by a key that is not one of the " \
                                       "owner keys held here"
        refused = [row for row in guard.access_log() if row["grant_id"] and row["case_number"] == "2026-000950"]
        assert [(row["accepted"], row["analyst"]) for row in refused] == [(0, "root"), (0, "root")]
        assert "signed by the owner" in refused[0]["decision"] and "not the owner's" in refused[1]["decision"]
    finally:
        appliance.stop()
        guard.close()


def test_a_policy_written_into_the_hubs_database_by_hand_is_refused_by_the_box(hub_stack: HubStack,
                                                                                tmp_path: Path):
    identity, appliance, guard, owner, owner_token, camera_id = _setup(hub_stack, tmp_path)
    hub = hub_stack.hub
    wide_open = c.Policy(sharing="always", modes=["live", "playback", "clip"], max_session_s=3600)
    document = c.canonical(c.PolicyDocument(device_id=identity.device_id, camera="front", version=2,
                                            issued_at=dt.datetime.now(dt.timezone.utc), policy=wide_open))
    stolen = owner.authenticator.sign("{}").assertion  # a real assertion of the owner's, over something else
    by_hand = [
        (wo.OwnerSigned(document=document, assertion=stolen), "the owner's signature is over another document"),
        (SoftwareAuthenticator().sign(document), "signed by a key that is not one of the owner keys held here"),
    ]
    try:
        for signed, why in by_hand:
            with hub.db.session() as session:
                session.query(ConsentVersion).filter_by(camera_id=camera_id, version=2).delete()
                session.add(ConsentVersion(camera_id=camera_id, version=2, policy=wide_open.model_dump(mode="json"),
                                           created_by="owner", signed=signed.model_dump_json()))
            reply = push_policy(hub, identity.device_id, signed)  # what the hub does with the row in force
            assert not reply.ok and why in reply.error
            hub.link.push_policies([identity.device_id])  # … and again when the box comes back online
        eventually(lambda: sum(1 for row in guard.access_log() if row["decision"].startswith("policy refused"))
                   >= 4, what="every push refused in the box's access log")
        assert guard.policy("front").version == 1 and guard.policy("front").policy.sharing == "request_only"
        refusals = {row["decision"] for row in guard.access_log() if not row["accepted"]}
        assert refusals == {f"policy refused: {why}" for _, why in by_hand}
        with hub_stack.client(hub_stack.login("ana", "correct-horse-battery")) as analyst:
            r = analyst.post("/api/access", json={"camera_id": camera_id, "mode": "live", "purpose": "emergency",
                                                  "reason": REASON, "case_number": "2026-000951"})
        assert r.json()["status"] == "refused_by_appliance", r.text  # the hub thought it may; the box said no
    finally:
        appliance.stop()
        guard.close()


def test_a_stale_but_validly_signed_policy_replayed_by_the_hub_is_refused(hub_stack: HubStack, tmp_path: Path):
    identity, appliance, guard, owner, owner_token, camera_id = _setup(hub_stack, tmp_path)
    hub = hub_stack.hub
    try:
        with hub_stack.client(owner_token) as client:
            owner.client = client
            r = owner.put_consent(camera_id, {"sharing": "off"})
            assert r.status_code == 200 and r.json()["version"] == 2
            # Signed for version 3, then a newer one saved first: the hub refuses the stale one too.
            late = client.post(f"/api/cameras/{camera_id}/consent/document", json={"sharing": "always",
                                                                                   "modes": ["live"]})
            assert owner.put_consent(camera_id, {"sharing": "off", "plate_sharing": "hits_only"}).status_code == 200
            r = client.put(f"/api/cameras/{camera_id}/consent",
                           json=owner.authenticator.sign(late.json()["document"]).model_dump())
            assert r.status_code == 409 and "next version is 4" in r.json()["detail"]
        eventually(lambda: guard.policy("front").version == 3, what="version 3 on the box")
        with hub.db.session() as session:
            first = session.scalar(select(ConsentVersion).where(ConsentVersion.camera_id == camera_id,
                                                                ConsentVersion.version == 1))
            replayed = wo.OwnerSigned.model_validate_json(first.signed)
        reply = push_policy(hub, identity.device_id, replayed)
        assert not reply.ok and "policy version 1 is not newer than 3" in reply.error
        assert guard.policy("front").version == 3 and guard.policy("front").policy.sharing == "off"
        assert guard.access_log()[-1]["decision"] == "policy refused: policy version 1 is not newer than 3"
    finally:
        appliance.stop()
        guard.close()


def test_only_the_owner_signs_consent_and_bad_signatures_lose_nothing(hub_stack: HubStack, tmp_path: Path):
    identity, appliance, guard, owner, owner_token, camera_id = _setup(hub_stack, tmp_path)
    try:
        with hub_stack.client(hub_stack.login("root", "correct-horse-battery")) as admin:
            r = admin.post(f"/api/cameras/{camera_id}/consent/document", json={"sharing": "always"})
            assert r.status_code == 403 and "only the camera's owner" in r.json()["detail"]
        with hub_stack.client(owner_token) as client:
            document = client.post(f"/api/cameras/{camera_id}/consent/document",
                                   json={"sharing": "always", "modes": ["live"]}).json()["document"]
            for signed, status, words in [
                (SoftwareAuthenticator().sign(document), 422, "not signed with your passkey"),
                (owner.authenticator.sign(document).model_copy(update={"document": document.replace(
                    '"live"', '"playback"')}), 422, "over another document"),
            ]:
                r = client.put(f"/api/cameras/{camera_id}/consent", json=signed.model_dump())
                assert r.status_code == status and words in r.json()["detail"], r.text
                assert document[:20] not in r.text  # no echo of the input
            r = client.put(f"/api/cameras/{camera_id}/consent", json={"document": "{}", "assertion": {}})
            assert r.status_code == 422
            assert client.get(f"/api/cameras/{camera_id}/consent").json()["version"] == 1
    finally:
        appliance.stop()
        guard.close()


def test_an_approval_is_signed_for_exactly_the_request_and_trim(hub_stack: HubStack, tmp_path: Path):
    identity, appliance, guard, owner, owner_token, camera_id = _setup(hub_stack, tmp_path)
    footage = {"camera_id": camera_id, "mode": "playback", "purpose": "violent_crime", "reason": REASON,
               "case_number": "2026-000960", "window_from": WINDOW[0], "window_to": WINDOW[1]}
    try:
        with hub_stack.client(hub_stack.login("ana", "correct-horse-battery")) as analyst:
            first = analyst.post("/api/access", json=footage).json()["request_id"]
            second = analyst.post("/api/access", json={**footage, "case_number": "2026-000961"}).json()["request_id"]
        with hub_stack.client(owner_token) as client:
            owner.client = client
            for_first = client.post(f"/api/requests/{first}/approval-document").json()["document"]
            r = client.post(f"/api/requests/{second}/decision", json={
                "approve": True, "signed_approval": owner.authenticator.sign(for_first).model_dump()})
            assert r.status_code == 422 and "another request" in r.json()["detail"]
            with hub_stack.hub.db.session() as session:
                assert session.get(FootageRequest, second).status == "pending"  # nothing decided
            r = owner.decide(second, approve=True, path="requests")
            assert r.status_code == 200 and r.json()["status"] == "accepted", r.text
    finally:
        appliance.stop()
        guard.close()


def test_the_box_honours_an_owners_approval_for_one_grant_only(hub_stack: HubStack, tmp_path: Path):
    """The owner approves a request and the box accepts its grant; a compromised hub then signs a second grant
    (a new id, the same request, case, window, approval entry and the owner's own signed approval): the box
    remembers the approval it honoured and refuses, with the reason in its access log."""
    identity, appliance, guard, owner, owner_token, camera_id = _setup(hub_stack, tmp_path)
    footage = {"camera_id": camera_id, "mode": "playback", "purpose": "violent_crime", "reason": REASON,
               "case_number": "2026-000962", "window_from": WINDOW[0], "window_to": WINDOW[1]}
    try:
        with hub_stack.client(hub_stack.login("ana", "correct-horse-battery")) as analyst:
            request_id = analyst.post("/api/access", json=footage).json()["request_id"]
        with hub_stack.client(owner_token) as client:
            owner.client = client
            r = owner.decide(request_id, approve=True, path="requests")
            assert r.status_code == 200 and r.json()["status"] == "accepted", r.text
        with hub_stack.hub.db.session() as session:
            row = session.get(FootageRequest, request_id)
            approval_index, owner_approval = row.approval_index, row.owner_approval
        window = tuple(dt.datetime.fromisoformat(w) for w in WINDOW)
        again = issue_grant(hub_stack.hub, device_id=identity.device_id, camera="front", mode="playback",
                            analyst="ana", reason=REASON, case_number="2026-000962", policy_version=1,
                            lifetime_s=300, window=window, approval_index=approval_index,
                            owner_approval=owner_approval)
        accepted, why = present_grant(hub_stack.hub, identity.device_id, again)
        assert not accepted and why.startswith("the owner's approval was already honoured for grant ")
        log = [row for row in guard.access_log() if row["case_number"] == "2026-000962"]
        assert [row["accepted"] for row in log] == [1, 0]
        assert "already honoured" in log[1]["decision"]
    finally:
        appliance.stop()
        guard.close()
    # The memory is in the box's consent database: a restarted guard still refuses the approval.
    reopened = ConsentGuard(tmp_path / "a" / "consent.sqlite3", device_id=identity.device_id)
    try:
        approval = hashlib.sha256(wo.OwnerSigned.model_validate_json(owner_approval).document.encode()).hexdigest()
        assert reopened.store.approval_honoured(approval, "playback") == log[0]["grant_id"]
    finally:
        reopened.close()
