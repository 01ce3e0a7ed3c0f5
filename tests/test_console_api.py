"""The hub's API for the analyst's console, on SQLite and PostgreSQL: the camera list the map draws (paused
cameras apart), hot-list hits listed, served with their thumbnails and handled on the record, the plate search
(purpose and case required, audited, in the transparency report), hot-list editing and CSV import, and the
migration that brings the tables there."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import event, select, text

from hub.db import Database, alembic_config
from hub.hit_feed import HitAnnouncer, HitFeed
from hub.ingest import ingest_event, ingest_state
from hub.tables import Appliance, AuditEntry, Camera, HotListItem, PlateReadRow, PlateThumbnail, Role, utcnow
from tests.hub_support import ApiHelpers, HubApi
from tests.owner_support import put_consent
from wire import messages as m

REASON = "robbery suspect vehicle seen leaving the scene"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4 + b"\xff\xd9"


class Box:
    """An appliance row and its event stream, fed straight into the hub's ingest (the MQTT path is
    test_console_live's)."""

    def __init__(self, api: ApiHelpers, business_id: int, device_id: str, *, site_id: int | None = None,
                 name: str = "box"):
        self.api, self.device_id, self.stream, self.seq = api, device_id, uuid.uuid4(), 0
        with api.hub.db.session() as session:
            session.add(Appliance(device_id=device_id, business_id=business_id, site_id=site_id, name=name,
                                  cert_serial=device_id, certificate_pem="", online=True))

    def send(self, body) -> str:
        self.seq += 1
        envelope = m.EventEnvelope(stream=self.stream, seq=self.seq, id=uuid.uuid4(), at=utcnow(), body=body)
        with self.api.hub.db.session() as session:
            assert ingest_event(session, self.device_id, envelope).applied
        return str(envelope.id)

    def camera(self, name: str, lat: float, lon: float, view: float | None = None) -> int:
        self.send(m.CameraStatus(camera=name, status="recording"))
        with self.api.hub.db.session() as session:
            camera = session.scalar(select(Camera).join(Appliance).where(Appliance.device_id == self.device_id,
                                                                          Camera.name == name))
            camera.latitude, camera.longitude, camera.view_direction_deg = lat, lon, view
            return camera.id


def read(plate: str, at: dt.datetime, *, camera: str = "front", hit: str | None = None,
         thumbnail: bytes | None = None) -> m.PlateRead:
    return m.PlateRead(camera=camera, plate=plate, confidence=0.91, first_seen=at - dt.timedelta(seconds=3),
                       last_seen=at, hit=m.HotListHit(list_name=hit, entry_plate=plate, reason="stolen vehicle")
                       if hit else None, thumbnail_jpeg=m.PlateRead.encode_thumbnail(thumbnail) if thumbnail else None)


def consent(api: ApiHelpers, owner: str, camera_id: int, **policy) -> None:
    with api.client(owner) as c:
        r = put_consent(c, camera_id, policy)
        assert r.status_code == 200, r.text


def analyst(api: HubApi, name: str = "ana", unit: str = "Robbery") -> str:
    api.add_user(name, "correct-horse-battery", Role.ANALYST, unit=unit)
    return api.login(name, "correct-horse-battery")


def audited(api: HubApi, action: str) -> list[AuditEntry]:
    with api.hub.db.session() as session:
        entries = list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)
                                       .order_by(AuditEntry.leaf_index)))
        session.expunge_all()
    return entries


# ---------------------------------------------------------------- the camera list


def camera_queries(api: HubApi, call) -> int:
    """How many statements `call` runs that read cameras or their consent (sign-in, the audit record and the
    maintenance pass the app starts are not the list's)."""
    statements: list[str] = []

    def seen(conn, cursor, statement, *args) -> None:
        if "FROM cameras" in statement or "FROM consent_versions" in statement:
            statements.append(statement)

    event.listen(api.hub.db.engine, "before_cursor_execute", seen)
    try:
        call()
    finally:
        event.remove(api.hub.db.engine, "before_cursor_execute", seen)
    return len(statements)


def test_the_camera_list_carries_what_the_map_labels_markers_with_in_the_same_queries_for_any_number(
        hub_api: HubApi):
    bakery, owner = hub_api.business_with_owner("Bakery")
    with hub_api.client(owner) as c:
        site = c.post(f"/api/businesses/{bakery}/sites", json={"name": "Main St shop", "address": "12 Main St",
                                                                "latitude": 40.7, "longitude": -74.0}).json()["id"]
    box = Box(hub_api, bakery, "dev-aaaaaaaaaaaa", site_id=site, name="bakery-box")
    front = box.camera("front", 40.7001, -74.0001, view=90)
    box.camera("back", 40.7002, -74.0002)
    consent(hub_api, owner, front, sharing="always", modes=["live"], plate_sharing="hits_only")
    consent(hub_api, owner, front, sharing="request_only", modes=["playback"], plate_sharing="all")  # in force
    ana = analyst(hub_api)
    with hub_api.client(ana) as c:
        cameras = c.get("/api/cameras").json()
        near = c.get("/api/cameras", params={"lat": 40.7001, "lon": -74.0001, "radius_m": 50}).json()
        assert c.get(f"/api/cameras/{front}").json() == cameras[0]
    assert [(cam["name"], cam["business_name"], cam["site_name"], cam["site_address"], cam["appliance_name"],
             cam["appliance_online"], cam["status"], cam["sharing_paused"], cam["consent_mode"], cam["plate_sharing"],
             cam["view_direction_deg"]) for cam in cameras] == [
        ("front", "Bakery", "Main St shop", "12 Main St", "bakery-box", True, "recording", False, "request_only",
         "all", 90.0),
        ("back", "Bakery", "Main St shop", "12 Main St", "bakery-box", True, "recording", False, "off", "none", None)]
    assert [cam["name"] for cam in near] == ["front", "back"] and near[0]["distance_m"] == 0.0
    assert cameras[0]["appliance"] == "dev-aaaaaaaaaaaa" and cameras[0]["business_id"] == bakery

    def listing() -> None:
        with hub_api.client(ana) as c:
            assert c.get("/api/cameras").status_code == 200

    assert camera_queries(hub_api, listing) == 2
    other = Box(hub_api, bakery, "dev-bbbbbbbbbbbb")
    for n in range(20):
        consent(hub_api, owner, other.camera(f"cam{n}", 40.71, -74.01 + n / 1000), sharing="always", modes=["live"])
    assert camera_queries(hub_api, listing) == 2  # with 22 cameras as with 2: no query per camera


def test_a_pause_the_box_reports_shows_on_the_list_apart_from_recording(hub_api: HubApi):
    bakery, owner = hub_api.business_with_owner("Bakery")
    box = Box(hub_api, bakery, "dev-aaaaaaaaaaaa")
    box.camera("front", 40.7, -74.0)

    def seen() -> tuple[str, bool]:
        with hub_api.client(owner) as c:
            [camera] = c.get("/api/cameras").json()
        return camera["status"], camera["sharing_paused"]

    box.send(m.CameraStatus(camera="front", status="recording", sharing_paused=True))
    assert seen() == ("recording", True)  # paused, and still recording
    with hub_api.hub.db.session() as session:
        ingest_state(session, "dev-aaaaaaaaaaaa", m.DeviceState(state="offline"))
    assert seen() == ("offline", True)  # the box is away: its camera is offline, the pause stands
    box.send(m.CameraStatus(camera="front", status="recording"))  # resumed (or a box that predates the field)
    assert seen() == ("recording", False)


# ---------------------------------------------------------------- hits


def test_a_shared_hit_is_listed_with_its_thumbnail_and_handled_on_the_record(hub_api: HubApi):
    bakery, owner = hub_api.business_with_owner("Bakery")
    box = Box(hub_api, bakery, "dev-aaaaaaaaaaaa")
    front = box.camera("front", 40.7, -74.0, view=180)
    consent(hub_api, owner, front, sharing="off", plate_sharing="hits_only")
    now = utcnow()
    box.send(read("ABC1234", now, thumbnail=JPEG))  # no hit: withheld under hits_only, thumbnail and all
    box.send(read("XYZ9876", now, hit="stolen", thumbnail=JPEG))
    with hub_api.hub.db.session() as session:
        assert [r.plate for r in session.scalars(select(PlateReadRow))] == ["XYZ9876"]
        assert session.scalar(select(PlateThumbnail.jpeg)) == JPEG
    ana, ben = analyst(hub_api), analyst(hub_api, "ben", unit="Patrol")
    with hub_api.client(ana) as c:
        [hit] = c.get("/api/hits").json()
        assert (hit["plate"], hit["list_name"], hit["reason"], hit["camera_name"], hit["business_name"],
                hit["latitude"], hit["longitude"], hit["view_direction_deg"], hit["confidence"], hit["state"]) == (
            "XYZ9876", "stolen", "stolen vehicle", "front", "Bakery", 40.7, -74.0, 180.0, 0.91, "new")
        image = c.get(hit["thumbnail_url"])
        assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg" and image.content == JPEG
        assert c.get(f"/api/reads/{hit['read_id'] + 1}/thumbnail").status_code == 404
        taken = c.post(f"/api/hits/{hit['id']}/acknowledge", json={"note": "unit 12 en route"}).json()
        assert (taken["state"], taken["acknowledged_by"], taken["note"]) == ("acknowledged", "ana", "unit 12 en route")
        assert c.post(f"/api/hits/{hit['id']}/acknowledge").status_code == 409
        assert c.get("/api/hits", params={"state": "new"}).json() == []
        assert c.post("/api/hits/999/dismiss").status_code == 404
    with hub_api.client(ben) as c:
        dismissed = c.post(f"/api/hits/{hit['id']}/dismiss").json()
        assert (dismissed["state"], dismissed["acknowledged_by"], dismissed["dismissed_by"]) == (
            "dismissed", "ana", "ben")
        assert c.post(f"/api/hits/{hit['id']}/acknowledge").status_code == 409  # nothing is undone
    with hub_api.client(owner) as c:  # owners see neither hits nor thumbnails
        assert c.get("/api/hits").status_code == 403 and c.get(hit["thumbnail_url"]).status_code == 403
    [acknowledged], [dismissal] = audited(hub_api, "hit.acknowledge"), audited(hub_api, "hit.dismiss")
    assert (acknowledged.actor, acknowledged.object, acknowledged.reason, acknowledged.details["plate"]) == (
        "ana", f"hit:{hit['id']}", "unit 12 en route", "XYZ9876")
    assert (dismissal.actor, dismissal.details["list_name"]) == ("ben", "stolen")
    assert [e.object for e in audited(hub_api, "read.plate_thumbnail")] == [f"GET {hit['thumbnail_url']}"]


def test_the_announcer_publishes_each_hit_stored_since_it_last_looked_once(hub_api: HubApi):
    """As the link calls it: after a batch with hits. A hit committed by a batch that then failed (SQLite commits
    each message of a batch on its own) comes back as a repeat that stores nothing: it is announced then."""
    bakery, owner = hub_api.business_with_owner("Bakery")
    box = Box(hub_api, bakery, "dev-aaaaaaaaaaaa")
    consent(hub_api, owner, box.camera("front", 40.7, -74.0), sharing="off", plate_sharing="all")
    box.send(read("OLD0001", utcnow(), hit="stolen"))  # before the hub started: listed, never announced

    async def scenario() -> list[list[str]]:
        feed = HitFeed()
        subscriber = feed.subscribe()
        announce = HitAnnouncer(hub_api.hub.db, feed)
        box.send(read("ABC1234", utcnow(), hit="stolen"))  # its batch failed after it: nobody was told
        box.send(read("XYZ9876", utcnow(), hit="stolen"))
        counts = [await asyncio.to_thread(announce), await asyncio.to_thread(announce)]  # the resend's batch, then
        await asyncio.sleep(0.05)
        got = []
        while not subscriber.queue.empty():
            got.append(subscriber.queue.get_nowait().hit.plate)
        return [counts, got]

    counts, plates_announced = asyncio.run(scenario())
    assert counts == [2, 0] and plates_announced == ["ABC1234", "XYZ9876"]


# ---------------------------------------------------------------- plate search


def search(api: HubApi, token: str, **query):
    window = {"window_from": (utcnow() - dt.timedelta(days=30)).isoformat(), "window_to": utcnow().isoformat()}
    body = {"purpose": "property_crime", "case_number": "2026-004711", "reason": REASON, **window, **query}
    body = {key: value for key, value in body.items() if value is not None}
    with api.client(token) as c:
        return c.post("/api/plates/search", json=body)


def plates(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [r["plate"] for r in response.json()["reads"]]


@pytest.mark.parametrize("missing", ["purpose", "case_number", "reason"])
def test_a_plate_search_without_its_purpose_case_or_reason_is_refused_and_nothing_is_run(hub_api: HubApi,
                                                                                          missing: str):
    ana = analyst(hub_api)
    refused = search(hub_api, ana, plate="ABC1234", **{missing: None})
    assert refused.status_code == 422 and missing in refused.text
    assert search(hub_api, ana, plate="ABC1234", purpose="curiosity").status_code == 422
    assert audited(hub_api, "plates.search") == []


def test_a_plate_search_finds_shared_reads_as_the_box_matches_and_is_on_the_record_and_in_the_report(
        hub_api: HubApi):
    bakery, owner = hub_api.business_with_owner("Bakery")
    box = Box(hub_api, bakery, "dev-aaaaaaaaaaaa")
    front, door = box.camera("front", 40.7, -74.0), box.camera("door", 40.8, -74.1)
    for camera in (front, door):
        consent(hub_api, owner, camera, sharing="off", plate_sharing="all")
    now = utcnow()
    box.send(read("8OB1234", now - dt.timedelta(hours=3), thumbnail=JPEG))
    box.send(read("BOB1235", now - dt.timedelta(hours=2)))
    box.send(read("XYZ9876", now - dt.timedelta(hours=1), camera="door"))
    box.send(read("BOB1234", now - dt.timedelta(days=40), camera="door"))  # outside any allowed window
    ana = analyst(hub_api)
    assert plates(search(hub_api, ana, plate="BOB1234")) == ["8OB1234"]  # O/0, B/8 as the box matches
    assert plates(search(hub_api, ana, plate="bob 1234", max_edits=1)) == ["BOB1235", "8OB1234"]  # newest first
    assert plates(search(hub_api, ana, plate="B?B12*")) == ["BOB1235", "8OB1234"]
    assert plates(search(hub_api, ana, plate="*9876", camera_ids=[door])) == ["XYZ9876"]
    assert plates(search(hub_api, ana, plate="*9876", camera_ids=[front])) == []
    assert plates(search(hub_api, ana, plate="*1234", area={"latitude": 40.7, "longitude": -74.0,
                                                            "radius_m": 100})) == ["8OB1234"]
    truncated = search(hub_api, ana, plate="B0B*", limit=1).json()
    assert [r["plate"] for r in truncated["reads"]] == ["BOB1235"] and truncated["truncated"]
    found = search(hub_api, ana, plate="8OB1234").json()["reads"][0]
    assert found["thumbnail_url"] == f"/api/reads/{found['id']}/thumbnail" and found["camera_name"] == "front"
    long_ago = (now - dt.timedelta(days=45)).isoformat()
    for refused, why in ((search(hub_api, ana, plate="AB*"), "at least 3"),
                         (search(hub_api, ana, plate="AB*1", max_edits=1), "whole plate"),
                         (search(hub_api, ana, plate="BOB1234", window_from=long_ago), "longer than 31 days"),
                         (search(hub_api, ana, plate="BOB1234", window_from=(now + dt.timedelta(hours=1)).isoformat(),
                                 window_to=(now + dt.timedelta(hours=2)).isoformat()), "future")):
        assert refused.status_code == 422 and why in refused.json()["detail"]
    owner_search = search(hub_api, owner, plate="BOB1234")
    assert owner_search.status_code == 403
    entries = audited(hub_api, "plates.search")
    assert len(entries) == 8 and all(e.actor == "ana" and e.case_number == "2026-004711" and e.reason == REASON
                                     for e in entries)
    assert (entries[0].details["plate"], entries[0].details["purpose"], entries[0].details["found"],
            entries[0].details["unit"]) == ("BOB1234", "property_crime", 1, "Robbery")
    assert entries[5].details["area"] == {"latitude": 40.7, "longitude": -74.0, "radius_m": 100.0}
    with hub_api.client() as c:  # the public report
        report = c.get("/api/audit/transparency").json()
    [month] = report["months"].values()
    assert month["plate searches"] == 8
    [purposes] = report["by_purpose"].values()
    [units] = report["by_unit"].values()
    assert purposes["property_crime"]["plate searches"] == 8 and units["Robbery"]["plate searches"] == 8


# ---------------------------------------------------------------- hot lists


def test_hot_list_entries_are_edited_and_expired_on_the_record(hub_api: HubApi):
    from hub import hotlist

    ana = analyst(hub_api)
    with hub_api.client(ana) as c:
        added = c.post("/api/hotlist", json={"plate": "XYZ9876", "list_name": "stolen", "reason": "stolen vehicle",
                                             "region": "NY"}).json()
        c.post("/api/hotlist", json={"plate": "XYZ9876", "list_name": "amber", "reason": "amber alert"})
        later = (utcnow() + dt.timedelta(days=7)).isoformat()
        edited = c.patch(f"/api/hotlist/{added['id']}", json={"reason": "stolen, armed", "expires_at": later})
        assert edited.status_code == 200, edited.text
        assert (edited.json()["reason"], edited.json()["region"], edited.json()["expired"]) == (
            "stolen, armed", "NY", False)
        assert edited.json()["version"] == added["version"] + 2
        assert c.patch(f"/api/hotlist/{added['id']}", json={"list_name": "amber"}).status_code == 409
        assert c.patch(f"/api/hotlist/{added['id']}", json={"reason": None}).status_code == 422
        cleared = c.patch(f"/api/hotlist/{added['id']}", json={"expires_at": None}).json()
        assert cleared["expires_at"] is None
        expired = c.post(f"/api/hotlist/{added['id']}/expire").json()
        assert expired["expired"] and c.post(f"/api/hotlist/{added['id']}/expire").status_code == 409
        assert c.post("/api/hotlist/999/expire").status_code == 404
        assert [e["expired"] for e in c.get("/api/hotlist").json()] == [True, False]
    with hub_api.hub.db.session() as session:
        assert [e.list_name for e in hotlist.current(session).entries] == ["amber"]  # the boxes stop matching it
    [update, clearing] = audited(hub_api, "hotlist.update")
    assert update.details["changes"] == {"reason": "stolen, armed", "expires_at": later}
    assert clearing.details["changes"] == {"expires_at": None}
    assert [e.details["plate"] for e in audited(hub_api, "hotlist.expire")] == ["XYZ9876"]


def import_csv(api: HubApi, token: str, text: str | bytes, *, dry_run: bool):
    with api.client(token) as c:
        return c.post("/api/hotlist/import", params={"dry_run": str(dry_run).lower()},
                      content=text.encode() if isinstance(text, str) else text, headers={"Content-Type": "text/csv"})


def test_a_csv_import_previews_each_row_and_stores_only_a_clean_file(hub_api: HubApi):
    ana = analyst(hub_api)
    with hub_api.client(ana) as c:
        c.post("/api/hotlist", json={"plate": "KNOWN1", "list_name": "stolen", "reason": "on the list already"})
    tomorrow = (utcnow() + dt.timedelta(days=1)).date().isoformat()
    faulty = ("Plate,State,List,Reason,Expiry\n"
              f"ABC-1234,NY,stolen,stolen vehicle,{tomorrow}\n"
              "AB#12,NY,stolen,stolen vehicle,\n"
              "XYZ9876,NJ,stolen,stolen vehicle,31/12/2027\n"
              "QRS5555,NJ,stolen,stolen vehicle,2020-01-01\n"
              "abc 1234,CT,stolen,again,\n"
              "KNOWN1,,stolen,a second time,\n"
              "MNO4321,,amber,,\n")
    for dry_run in (True, False):
        answer = import_csv(hub_api, ana, faulty, dry_run=dry_run)
        assert answer.status_code == (200 if dry_run else 422), answer.text
        preview = answer.json()
        assert (preview["stored"], preview["added"], preview["failed"], preview["problems"]) == (False, 0, 6, [])
        rows = {row["line"]: row for row in preview["rows"]}
        assert rows[2]["outcome"] == "add" and rows[2]["plate"] == "ABC1234" and rows[2]["expires_at"].startswith(
            (dt.date.fromisoformat(tomorrow) + dt.timedelta(days=1)).isoformat())
        assert "bad plate 'AB#12'" in rows[3]["errors"][0]
        assert "bad date '31/12/2027'" in rows[4]["errors"][0]
        assert "has passed" in rows[5]["errors"][0]
        assert rows[6]["errors"] == ["duplicate: ABC1234 is on list 'stolen' at line 2 too"]
        assert "on list 'stolen' already" in rows[7]["errors"][0]
        assert rows[8]["errors"] == ["a reason is needed (3 to 500 characters)"]
    with hub_api.client(ana) as c:
        assert [e["plate"] for e in c.get("/api/hotlist").json()] == ["KNOWN1"]  # nothing stored
    unknown = import_csv(hub_api, ana, "plate,colour,list,reason\nABC1234,red,stolen,stolen\n", dry_run=True).json()
    assert unknown["problems"] == ["unknown column 'colour' (known: plate, state, list, reason, expiry)"]
    assert import_csv(hub_api, ana, "plate,list\n", dry_run=True).json()["problems"] == ["missing column reason"]
    assert import_csv(hub_api, ana, b"plate,list,reason\n\xff\xfe,x,y\n", dry_run=True).status_code == 422
    clean = "\ufeffplate,state/region,list,reason,expires\nABC1234,NY,stolen,stolen vehicle,\nMNO4321,,amber,amber alert,\n"
    assert import_csv(hub_api, ana, clean, dry_run=True).json()["added"] == 2
    with hub_api.client(ana) as c:
        assert len(c.get("/api/hotlist").json()) == 1  # a dry run stores nothing
    stored = import_csv(hub_api, ana, clean, dry_run=False).json()
    assert stored["stored"] and stored["added"] == 2 and stored["version"] is not None
    with hub_api.hub.db.session() as session:
        assert sorted((i.plate, i.region, i.list_name) for i in session.scalars(select(HotListItem))) == [
            ("ABC1234", "NY", "stolen"), ("KNOWN1", "", "stolen"), ("MNO4321", "", "amber")]
    [entry] = audited(hub_api, "hotlist.import")
    assert entry.actor == "ana" and entry.details["entries"] == [{"plate": "ABC1234", "list": "stolen"},
                                                                 {"plate": "MNO4321", "list": "amber"}]


# ---------------------------------------------------------------- the migration


def test_migration_0009_fills_existing_reads_and_hits_and_goes_down_and_up(tmp_path: Path,
                                                                             database_url: str | None):
    database = Database(database_url or f"sqlite:///{tmp_path / 'hub.db'}")
    command.upgrade(alembic_config(database.engine), "0008")
    try:
        now = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.timezone.utc)
        with database.engine.begin() as connection:
            connection.execute(text("INSERT INTO businesses (id, name, created_at) VALUES (1, 'Bakery', :t)"),
                               {"t": now})
            connection.execute(text(
                "INSERT INTO appliances (id, device_id, business_id, name, state, cert_serial, certificate_pem, "
                "enrolled_at, online, last_event_seq, hotlist_version_acked) VALUES (1, 'dev-aaaaaaaaaaaa', 1, '', "
                "'ACTIVE', '1', '', :t, false, 0, -1)"), {"t": now})
            connection.execute(text("INSERT INTO cameras (id, appliance_id, name, status, plate_sharing) VALUES "
                                    "(1, 1, 'front', 'RECORDING', 'NONE')"))
            connection.execute(text(
                "INSERT INTO plate_reads (id, camera_id, event_id, plate, confidence, first_seen, last_seen, hotlist) "
                "VALUES (1, 1, 'e1', '8OB1234', 0.9, :t, :t, 'stolen: cars')"), {"t": now})
            connection.execute(text(
                "INSERT INTO alerts (id, camera_id, appliance_id, kind, priority, message, at, event_id) VALUES "
                "(1, 1, 1, 'hotlist_hit', 'high', '8OB1234 on stolen: cars: seen near the bank', :t, 'e1')"),
                {"t": now})
        database.migrate()
        with database.session() as session:
            read_row = session.get(PlateReadRow, 1)
            assert read_row.plate_canonical == "8081234"
            from hub.tables import Alert

            alert = session.get(Alert, 1)
            assert (alert.read_id, alert.list_name, alert.reason, alert.note) == (
                1, "stolen: cars", "seen near the bank", "")
            assert session.get(Camera, 1).sharing_paused is False
        command.downgrade(alembic_config(database.engine), "0008")
        with database.engine.begin() as connection:
            assert connection.execute(text("SELECT count(*) FROM alerts")).scalar() == 1
        database.migrate()
    finally:
        database.dispose()

