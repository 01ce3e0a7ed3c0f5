"""The owner's access log (entries about their cameras only, each provably in the log their box witnessed), the
box's witness reports, the owner's alert settings and the pure decisions of the e-mail alerts."""

from __future__ import annotations

import base64
import datetime as dt
import uuid

import pytest

from hub import audit
from hub.ingest import ingest_event
from hub.owner_alerts import OfflineCamera, Owner, back_online, offline_due, reminders_due
from hub.tables import Appliance, AuditSubject, PlateReadRow, Role, utcnow
from tests.hub_support import HubApi
from tests.test_hub_api import add_camera
from wire import checkpoint as cp
from wire import merkle
from wire import messages as m

REASON = "armed robbery reported at the corner store"


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    hub = HubApi(tmp_path_factory.mktemp("owner-activity"))
    yield hub
    hub.close()


def _witness(api: HubApi, device_id: str, note: str, seq: int) -> None:
    """The box's witness report as the MQTT link hands it to ingest."""
    envelope = m.EventEnvelope(stream=uuid.UUID(int=seq), seq=1, id=uuid.uuid4(), at=dt.datetime.now(dt.timezone.utc),
                               body=m.Witnessed(note=note))
    with api.hub.db.session() as session:
        ingest_event(session, device_id, envelope)


def _set_up(api: HubApi):
    bakery, owner = api.business_with_owner("Bakery")
    garage, _ = api.business_with_owner("Garage")
    front = add_camera(api, bakery, "front", 40.7, -74.0, "dev-aaaaaaaaaaaa")
    door = add_camera(api, garage, "door", 40.7, -74.0, "dev-bbbbbbbbbbbb")
    api.add_user("ana", "correct-horse-battery", Role.ANALYST, unit="Robbery")
    analyst = api.login("ana", "correct-horse-battery")
    with api.client(analyst) as c:
        for camera, case in ((front, "2026-1"), (door, "2026-2"), (front, "2026-3")):
            c.post("/api/access", json={"camera_id": camera, "mode": "live", "purpose": "violent_crime",
                                        "reason": REASON, "case_number": case})
    return bakery, owner, front, door


def test_the_owner_sees_every_access_to_their_cameras_each_proven_in_the_log_their_box_witnessed(api: HubApi):
    bakery, owner, front, door = _set_up(api)
    with api.client(owner) as c:
        before = c.get("/api/owner/activity").json()
    assert [e["case_number"] for e in before["entries"]] == ["2026-3", "2026-1"]  # newest first, mine only
    assert all(e["proof"] is None for e in before["entries"])  # the box has witnessed nothing yet
    assert before["witnesses"] == [{"device_id": "dev-aaaaaaaaaaaa", "appliance": "", "size": None, "note": None,
                                    "at": None}]
    signed = api.hub.checkpoint()
    _witness(api, "dev-bbbbbbbbbbbb", "not a checkpoint", 1)  # refused: not one this hub signed
    _witness(api, "dev-aaaaaaaaaaaa", signed.note, 2)
    with api.client(owner) as c:
        after = c.get("/api/owner/activity").json()
        one = c.get("/api/owner/activity", params={"limit": 1}).json()
        older = c.get("/api/owner/activity", params={"limit": 1, "before": one["next_before"]}).json()
        assert c.get("/api/owner/activity", params={"camera_id": door}).status_code == 404
    [witness] = after["witnesses"]
    assert witness["size"] == signed.size and witness["note"] == signed.note
    checkpoint = cp.parse_body(signed.note.partition("\n\n")[0] + "\n")
    for entry in after["entries"]:
        assert entry["cameras"] == [{"id": front, "name": "front", "business_id": bakery, "business": "Bakery"}]
        leaf = merkle.leaf_hash(entry["canonical"].encode())
        assert leaf.hex() == entry["leaf_hash"] and entry["witness"] == "dev-aaaaaaaaaaaa"
        proof = [base64.b64decode(h) for h in entry["proof"]]
        assert merkle.verify_inclusion(entry["index"], checkpoint.size, leaf, proof, checkpoint.root)
        tampered = entry["canonical"].replace("2026-", "2027-").encode()
        assert not merkle.verify_inclusion(entry["index"], checkpoint.size, merkle.leaf_hash(tampered), proof,
                                           checkpoint.root)
    assert [e["index"] for e in one["entries"] + older["entries"]] == [e["index"] for e in after["entries"]]
    with api.hub.db.session() as session:
        assert session.get(Appliance, 2).witnessed_size is None  # the garage's box: its report was refused


def test_subjects_resolve_requests_clips_and_cameras_by_device_and_name(api: HubApi):
    with api.hub.db.session() as session:
        front = session.get(Appliance, 1).cameras[0]
        index = audit.append(session, actor="x", action="test.named", outcome="success",
                             object="camera:dev-aaaaaaaaaaaa/front", camera_ids=[front.id, 999_999, "7"])
        rows = session.query(AuditSubject).filter(AuditSubject.leaf_index == index).all()
        assert [(r.camera_id, r.business_id) for r in rows] == [(front.id, front.appliance.business_id)]
        read = PlateReadRow(camera_id=front.id, event_id="e-1", plate="ABC123", plate_canonical="A8C123",
                            confidence=0.9, first_seen=utcnow(), last_seen=utcnow())
        session.add(read)
        session.flush()
        for obj, expected in ((f"GET /api/reads/{read.id}/thumbnail", [front.id]),
                              (f"/api/cameras/{front.id}/consent", [front.id]), ("/api/cameras/x", []),
                              ("user:7", []), ("camera:999999", [])):
            index = audit.append(session, actor="x", action="test.read", outcome="success", object=obj)
            found = session.query(AuditSubject.camera_id).filter(AuditSubject.leaf_index == index).all()
            assert [camera_id for (camera_id,) in found] == expected, obj


def test_alert_settings_are_the_owners_own_and_bad_ones_are_refused(api: HubApi):
    owner = api.login("owner-1", "owner-password-1")
    with api.client(owner) as c:
        assert c.get("/api/owner/alert-settings").json() == {
            "email": "", "camera_offline_after_s": None, "request_emails": True, "request_reminder_after_s": None}
        wanted = {"email": "baker@example.org", "camera_offline_after_s": 600, "request_emails": False,
                  "request_reminder_after_s": 86400}
        assert c.put("/api/owner/alert-settings", json=wanted).json() == wanted
        for bad in ({**wanted, "email": "<script>@x"}, {**wanted, "camera_offline_after_s": 1},
                    {**wanted, "surprise": 1}):
            refused = c.put("/api/owner/alert-settings", json=bad)
            assert refused.status_code == 422 and "<script>" not in refused.text
        assert c.get("/api/owner/alert-settings").json() == wanted  # nothing lost
    analyst = api.login("ana", "correct-horse-battery")
    with api.client(analyst) as c:
        assert c.get("/api/owner/alert-settings").status_code == 403
        assert c.get("/api/owner/activity").status_code == 403


T0 = dt.datetime(2026, 12, 2, 4, 0, tzinfo=dt.timezone.utc)
BAKER = Owner(user_id=1, email="b@example.org", business_id=10, offline_after_s=300, reminder_after_s=3600)
QUIET = Owner(user_id=2, email="q@example.org", business_id=10, offline_after_s=None, reminder_after_s=None)
OTHER = Owner(user_id=3, email="o@example.org", business_id=20, offline_after_s=60, reminder_after_s=60)


def test_an_offline_camera_is_told_once_per_outage_past_each_owners_threshold():
    front = OfflineCamera(camera_id=5, business_id=10, name="front", offline_since=T0)
    owners = [BAKER, QUIET, OTHER]
    assert offline_due(owners, [front], {}, T0 + dt.timedelta(seconds=299)) == []
    assert offline_due(owners, [front], {}, T0 + dt.timedelta(seconds=300)) == [(BAKER, front)]
    assert offline_due(owners, [front], {(1, 5): T0}, T0 + dt.timedelta(hours=5)) == []  # told of this outage
    later = OfflineCamera(camera_id=5, business_id=10, name="front", offline_since=T0 + dt.timedelta(hours=1))
    assert offline_due(owners, [later], {(1, 5): T0}, T0 + dt.timedelta(hours=2)) == [(BAKER, later)]


def test_a_told_outage_ends_with_the_camera_back_or_a_newer_outage():
    told = {(1, 5): T0, (1, 6): T0, (2, 7): T0}
    assert back_online(told, {5: None, 6: T0 + dt.timedelta(minutes=1), 7: T0}) == ([(1, 5)], [(1, 6)])


def test_reminders_go_to_the_owners_of_the_requests_business_past_their_time():
    pending = [(1, 10, T0), (2, 20, T0 + dt.timedelta(minutes=59))]
    assert reminders_due([BAKER, QUIET, OTHER], pending, T0 + dt.timedelta(minutes=59)) == {}
    assert reminders_due([BAKER, QUIET, OTHER], pending, T0 + dt.timedelta(hours=1)) == {1: [BAKER], 2: [OTHER]}


@pytest.mark.parametrize("search, index", [
    (dict(case_number="2026-1"), "ix_audit_entries_case_number"),
    (dict(purpose="violent_crime"), "ix_audit_entries_purpose"),
    (dict(actor="ana"), "ix_audit_entries_actor"),
    (dict(outcome="denied"), "ix_audit_entries_outcome"),
    (dict(camera_id=1), "ix_audit_subjects_camera"),
    (dict(business_id=1), "ix_audit_subjects_business"),
])
def test_each_search_is_an_indexed_lookup_never_a_scan_of_the_log(api: HubApi, search: dict, index: str):
    """SQLite's plan for the auditor's and the owner's searches: the filter's index, no pass over every entry."""
    from hub.audit.search import Search, search_query

    query = search_query(Search(**search), limit=100, newest_first=True)
    sql = str(query.compile(api.hub.db.engine, compile_kwargs={"literal_binds": True}))
    with api.hub.db.engine.connect() as connection:
        plan = " | ".join(row[-1] for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
    assert index in plan, plan
    assert "SCAN audit_entries" not in plan and "SCAN audit_subjects" not in plan, plan


def test_migration_0012_indexes_the_entries_already_logged_and_goes_down_and_up(tmp_path):
    from alembic import command
    from sqlalchemy import text

    from hub.db import Database, alembic_config

    database = Database(f"sqlite:///{tmp_path / 'hub.db'}")
    command.upgrade(alembic_config(database.engine), "0009")
    now = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.timezone.utc)
    with database.engine.begin() as connection:
        connection.execute(text("INSERT INTO businesses (id, name, created_at) VALUES (1, 'Bakery', :t)"), {"t": now})
        connection.execute(text(
            "INSERT INTO appliances (id, device_id, business_id, name, state, cert_serial, certificate_pem, "
            "enrolled_at, online, last_event_seq, hotlist_version_acked) VALUES (1, 'dev-aaaaaaaaaaaa', 1, '', "
            "'ACTIVE', '1', '', :t, false, 0, -1)"), {"t": now})
        connection.execute(text("INSERT INTO cameras (id, appliance_id, name, status, plate_sharing) VALUES "
                                "(1, 1, 'front', 'RECORDING', 'NONE')"))
        for index, obj, details in ((0, "camera:1", '{"purpose": "traffic"}'),
                                    (1, "camera:dev-aaaaaaaaaaaa/front", "{}"),
                                    (2, "plates", '{"purpose": "emergency", "read_cameras": [1]}'),
                                    (3, "user:7", "{}")):
            connection.execute(text(
                "INSERT INTO audit_entries (leaf_index, at, actor, action, object, outcome, source, reason, "
                "case_number, details) VALUES (:i, :t, 'ana', 'test', :o, 'success', '', '', '', :d)"),
                {"i": index, "t": now, "o": obj, "d": details})
    database.migrate()
    with database.engine.begin() as connection:
        purposes = connection.execute(text("SELECT purpose FROM audit_entries ORDER BY leaf_index")).scalars().all()
        subjects = connection.execute(text("SELECT leaf_index, camera_id, business_id FROM audit_subjects "
                                           "ORDER BY leaf_index")).all()
    assert purposes == ["traffic", "", "emergency", ""]
    assert [tuple(s) for s in subjects] == [(0, 1, 1), (1, 1, 1), (2, 1, 1)]
    command.downgrade(alembic_config(database.engine), "0009")
    database.migrate()
    database.dispose()
