"""Coverage at the hub and the canvass, on SQLite and on a real PostgreSQL: spans merged and idempotent,
cameras recording then (nearest first, facing or not, consent mode) and those that were not (with why),
bounds and roles refused clearly."""

from __future__ import annotations

import datetime as dt
import math
import uuid

import pytest
from sqlalchemy import event, func, select

from hub.canvass import CoverageGap, canvass, facing, recorded_seconds, why_not_recorded
from hub.coverage import ReportedSpan, prune_coverage, record_coverage
from hub.ingest import ingest_event
from hub.tables import (Appliance, ApplianceState, AuditEntry, Business, Camera, ConsentVersion, CoverageSpan,
                        Event, Role, Site)
from tests.hub_support import HubApi
from wire import consent as c
from wire import messages as m

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
T0 = NOW - dt.timedelta(hours=3)  # the incident, three hours ago
LAT, LON = 40.0, -75.0
M_PER_DEG = 6_371_008.8 * math.pi / 180


def offset(north_m: float, east_m: float) -> tuple[float, float]:
    return LAT + north_m / M_PER_DEG, LON + east_m / (M_PER_DEG * math.cos(math.radians(LAT)))


def minutes(n: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=n)


# -- pure ------------------------------------------------------------------------------------------------------


def test_facing_is_within_half_the_field_of_view_and_unknown_without_a_direction():
    assert facing(180, 170, 90) == "yes" and facing(180, 224, 90) == "yes"
    assert facing(180, 226, 90) == "no" and facing(0, 180, 360) == "yes" and facing(0, 180, 359) == "no"
    assert facing(350, 20, 90) == "yes"  # across north
    assert facing(None, 20, 90) == "unknown" and facing(10, None, 90) == "unknown"


def test_recorded_seconds_counts_the_union_inside_the_window():
    spans = [(minutes(-10), minutes(10)), (minutes(5), minutes(15)), (minutes(50), minutes(70))]
    assert recorded_seconds(spans, minutes(0), minutes(60)) == (15 + 10) * 60
    assert recorded_seconds([], minutes(0), minutes(60)) == 0


def test_why_a_camera_did_not_record_names_the_likeliest_reason():
    common = dict(window_from=minutes(0), window_to=minutes(60), kept_since=NOW - dt.timedelta(days=30))
    gap = CoverageGap(start=minutes(0), end=minutes(60), reason="camera unreachable")
    assert why_not_recorded(gaps=[gap], last_reported=minutes(90), online=True, **common) == \
        "not recording then: camera unreachable"
    assert why_not_recorded(gaps=[], last_reported=None, online=False, **common).startswith(
        "no coverage reported: the box has not said") and "offline" in \
        why_not_recorded(gaps=[], last_reported=None, online=False, **common)
    assert why_not_recorded(gaps=[], last_reported=minutes(-5), online=True, **common).startswith(
        "no coverage reported since")
    assert why_not_recorded(gaps=[], last_reported=minutes(90), online=True, **common) == \
        "no recording reported in the window"
    old = dict(common, window_from=NOW - dt.timedelta(days=40), window_to=NOW - dt.timedelta(days=39))
    assert why_not_recorded(gaps=[gap], last_reported=None, online=True, **old).startswith("outside retention")


# -- coverage ingest -------------------------------------------------------------------------------------------


def add_business(session, name: str) -> Business:
    business = Business(name=name)
    session.add(business)
    session.flush()
    return business


def add_camera(session, business: Business, name: str, north_m: float, east_m: float, *,
               view: float | None = None, online: bool = True, state=ApplianceState.ACTIVE,
               sharing: list[str] = ()) -> int:
    site = Site(business_id=business.id, name=f"{name} shop", address=f"{name} street 1", latitude=LAT,
                longitude=LON)
    session.add(site)
    session.flush()
    appliance = Appliance(device_id=f"dev-{uuid.uuid4().hex[:12]}", business_id=business.id, site_id=site.id,
                          cert_serial="1", certificate_pem="", online=online, state=state)
    session.add(appliance)
    session.flush()
    lat, lon = offset(north_m, east_m)
    camera = Camera(appliance_id=appliance.id, name=name, latitude=lat, longitude=lon, view_direction_deg=view)
    session.add(camera)
    session.flush()
    for version, mode in enumerate(sharing, start=1):
        session.add(ConsentVersion(camera_id=camera.id, version=version, created_by="owner",
                                   policy=c.Policy(sharing=mode).model_dump(mode="json")))
    return camera.id


def span(session, camera_id: int, start: dt.datetime, end: dt.datetime, recorded: bool = True,
         reason: str = "") -> None:
    record_coverage(session, span=ReportedSpan(camera_id, start, end, recorded, reason),
                    keep_since=NOW - dt.timedelta(days=30))


class Box:
    """One appliance's event stream into `hub.ingest`, as the MQTT link hands it over."""

    def __init__(self, api: HubApi):
        self.api, self.stream, self.seq = api, uuid.uuid4(), 0
        with api.hub.db.session() as session:
            business = add_business(session, f"Shop {self.stream.hex[:6]}")
            appliance = Appliance(device_id="dev-" + self.stream.hex[:12], business_id=business.id,
                                  cert_serial="1", certificate_pem="")
            session.add(appliance)
            session.flush()
            self.device_id = appliance.device_id

    def send(self, body: m.EventBody) -> None:
        self.seq += 1
        envelope = m.EventEnvelope(stream=self.stream, seq=self.seq, id=uuid.uuid4(), at=NOW, body=body)
        with self.api.hub.db.session() as session:
            assert ingest_event(session, self.device_id, envelope).upto == self.seq

    def coverage(self, start: float, end: float, recorded: bool = True, reason: str = "") -> None:
        self.send(m.Coverage(camera="front", start=minutes(start), end=minutes(end), recorded=recorded,
                             reason=reason))

    def rows(self) -> list[tuple[dt.datetime, dt.datetime, bool, str]]:
        with self.api.hub.db.session() as session:
            return [(r.start, r.end, r.recorded, r.reason) for r in session.scalars(
                select(CoverageSpan).order_by(CoverageSpan.start))]


def test_touching_recorded_spans_become_one_row_and_repeats_change_nothing(hub_api: HubApi):
    box = Box(hub_api)
    for i in range(30):  # half an hour of one-minute reports, with the box's sub-second joins
        box.coverage(i, i + 1 - (0.01 if i % 2 and i < 29 else 0))
    assert box.rows() == [(minutes(0), minutes(30), True, "")]
    box.coverage(10, 20)  # re-sent after a crash (a new event: the outbox gave it a new sequence number)
    box.coverage(29, 30)
    assert box.rows() == [(minutes(0), minutes(30), True, "")]
    box.coverage(30, 40, recorded=False, reason="camera unreachable")
    box.coverage(30, 40, recorded=False, reason="camera unreachable")  # a repeat
    box.coverage(40, 50)
    box.coverage(52, 60)  # a hole the box did not explain: kept apart
    box.coverage(50.02, 52)  # arrives late and bridges it
    assert box.rows() == [(minutes(0), minutes(30), True, ""), (minutes(30), minutes(40), False,
                                                                "camera unreachable"),
                          (minutes(40), minutes(60), True, "")]
    with hub_api.hub.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == 0  # spans only, no event rows
    box.send(m.Health(uptime_s=1, disk_free_bytes=1, cameras_recording=1))
    with hub_api.hub.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == 1


def test_coverage_past_the_footage_max_age_is_dropped(hub_api: HubApi):
    box = Box(hub_api)
    old = (NOW - dt.timedelta(days=40) - T0).total_seconds() / 60
    box.coverage(old, old + 60)  # already past retention when it arrives: not stored
    assert box.rows() == []
    with hub_api.hub.db.session() as session:
        camera_id = session.scalar(select(Camera.id))
        session.add(CoverageSpan(camera_id=camera_id, start=minutes(old), end=minutes(old + 60), recorded=True,
                                 reason=""))
    box.coverage(0, 10)  # a new row for the camera prunes what is past retention
    assert box.rows() == [(minutes(0), minutes(10), True, "")]
    with hub_api.hub.db.session() as session:
        session.add(CoverageSpan(camera_id=camera_id, start=minutes(old), end=minutes(old + 60), recorded=True,
                                 reason=""))
        session.flush()
        assert prune_coverage(session, before=NOW - dt.timedelta(days=30)) == 1


# -- the canvass -----------------------------------------------------------------------------------------------


@pytest.fixture
def city(hub_api: HubApi) -> dict[str, int]:
    """Cameras around (LAT, LON), their coverage around T0 (the window is T0 ± 30 min)."""
    with hub_api.hub.db.session() as session:
        bakery, garage = add_business(session, "Bakery"), add_business(session, "Garage")
        ids = {
            "north-facing-south": add_camera(session, bakery, "door", 100, 0, view=180,
                                             sharing=["off", "request_only"]),
            "east-facing-east": add_camera(session, garage, "lot", 0, 300, view=90, sharing=["always"]),
            "west-unknown": add_camera(session, garage, "side", 0, -200),
            "south-gap": add_camera(session, bakery, "back", -150, 0, view=0),
            "never-reported": add_camera(session, garage, "new", 250, 250, online=False),
            "stale": add_camera(session, bakery, "stale", -400, 0, online=False),
            "far": add_camera(session, bakery, "far", 800, 0),
            "revoked": add_camera(session, bakery, "gone", 10, 10, state=ApplianceState.REVOKED),
        }
        span(session, ids["north-facing-south"], minutes(-600), minutes(600))
        span(session, ids["east-facing-east"], minutes(-60), minutes(0))
        span(session, ids["east-facing-east"], minutes(0), minutes(60), recorded=False, reason="camera offline")
        span(session, ids["west-unknown"], minutes(-25), minutes(-20))
        span(session, ids["south-gap"], minutes(-120), minutes(-40))
        span(session, ids["south-gap"], minutes(-40), minutes(45), recorded=False, reason="disk full")
        span(session, ids["stale"], minutes(-300), minutes(-200))
        span(session, ids["far"], minutes(-60), minutes(60))
        span(session, ids["revoked"], minutes(-60), minutes(60))
    return ids


def run(api: HubApi, **overrides):
    query = dict(latitude=LAT, longitude=LON, radius_m=500, window_from=minutes(-30), window_to=minutes(30),
                 now=NOW, max_age=dt.timedelta(days=30))
    with api.hub.db.session() as session:
        return canvass(session, **{**query, **overrides})


def test_the_canvass_lists_who_recorded_nearest_first_and_who_did_not_with_why(hub_api: HubApi, city):
    result = run(hub_api)
    recording = {cam.camera_id: cam for cam in result.recording}
    assert [cam.camera_id for cam in result.recording] == [city["north-facing-south"], city["west-unknown"],
                                                           city["east-facing-east"]]
    door = recording[city["north-facing-south"]]
    assert (door.facing, door.consent_mode, door.recorded_s, door.business_name) == ("yes", "request_only",
                                                                                    3600, "Bakery")
    assert door.distance_m == pytest.approx(100, abs=0.5) and door.bearing_deg == pytest.approx(180, abs=0.1)
    assert (door.site_name, door.site_address, door.appliance_online) == ("door shop", "door street 1", True)
    lot = recording[city["east-facing-east"]]
    assert (lot.facing, lot.consent_mode, lot.recorded_s) == ("no", "always", 1800)
    assert [(g.reason, g.start, g.end) for g in lot.gaps] == [("camera offline", minutes(0), minutes(30))]
    side = recording[city["west-unknown"]]
    assert (side.facing, side.consent_mode, side.recorded_s) == ("unknown", "off", 300)
    why = {cam.camera_id: cam.why for cam in result.not_recording}
    assert [cam.camera_id for cam in result.not_recording] == [city["south-gap"], city["never-reported"],
                                                               city["stale"]]
    assert why[city["south-gap"]] == "not recording then: disk full"
    assert why[city["never-reported"]].startswith("no coverage reported: the box has not said")
    assert why[city["never-reported"]].endswith("(its appliance is offline now)")
    assert why[city["stale"]].startswith(f"no coverage reported since {minutes(-200).isoformat()}")


def test_the_radius_and_the_field_of_view_decide(hub_api: HubApi, city):
    near = run(hub_api, radius_m=120)
    assert [cam.camera_id for cam in near.recording] == [city["north-facing-south"]]
    assert near.not_recording == []
    wide = run(hub_api, radius_m=2000, fov_deg=360)
    assert city["far"] in [cam.camera_id for cam in wide.recording]
    assert {cam.facing for cam in wide.recording} == {"yes", "unknown"}
    assert city["revoked"] not in [cam.camera_id for cam in wide.recording + wide.not_recording]


def test_a_window_past_retention_says_so(hub_api: HubApi, city):
    result = run(hub_api, window_from=NOW - dt.timedelta(days=45), window_to=NOW - dt.timedelta(days=45, minutes=-30))
    assert result.recording == []
    assert {cam.why for cam in result.not_recording} == {"outside retention: footage this old is no longer kept"}


def test_the_canvass_takes_a_fixed_number_of_queries_whatever_the_cameras(hub_api: HubApi, city):
    statements: list[str] = []
    engine = hub_api.hub.db.engine
    listener = lambda conn, cursor, statement, *args: statements.append(statement)  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        run(hub_api, radius_m=2000)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    # cameras, coverage, consent, last reports, and the registered cameras (no appliance) in the same box
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) <= 5


# -- the API ---------------------------------------------------------------------------------------------------


def analyst_and_incident(api: HubApi) -> tuple[str, int]:
    api.add_user("ana", "correct-horse-battery", Role.ANALYST)
    token = api.login("ana", "correct-horse-battery")
    with api.client(token) as client:
        r = client.post("/api/incidents", json={"external_id": "CAD-9", "type": "robbery", "latitude": LAT,
                                                "longitude": LON, "reported_at": T0.isoformat()})
        assert r.status_code == 201
        return token, r.json()["id"]


def test_an_incidents_canvass_is_its_report_time_give_or_take_half_an_hour_and_is_audited(hub_api: HubApi, city):
    token, incident_id = analyst_and_incident(hub_api)
    with hub_api.client(token) as client:
        r = client.get(f"/api/incidents/{incident_id}/canvass")
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["window_from"], body["window_to"]) == (
            minutes(-30).isoformat().replace("+00:00", "Z"), minutes(30).isoformat().replace("+00:00", "Z"))
        assert [cam["camera_id"] for cam in body["recording"]][0] == city["north-facing-south"]
        narrow = client.get(f"/api/incidents/{incident_id}/canvass",
                            params={"from": minutes(-25).isoformat(), "to": minutes(-20).isoformat()}).json()
        assert {cam["camera_id"] for cam in narrow["recording"]} == {city["north-facing-south"],
                                                                    city["west-unknown"], city["east-facing-east"]}
        point = client.get("/api/canvass", params={"lat": LAT, "lon": LON, "radius_m": 120,
                                                   "from": minutes(-30).isoformat(), "to": minutes(30).isoformat()})
        assert [cam["camera_id"] for cam in point.json()["recording"]] == [city["north-facing-south"]]
    with hub_api.hub.db.session() as session:
        entries = list(session.scalars(select(AuditEntry).where(AuditEntry.action == "read.canvass")
                                       .order_by(AuditEntry.id)))
        assert [(e.actor, e.object) for e in entries] == [("ana", f"incident:{incident_id}")] * 2 + [("ana", "point")]
        assert entries[2].details["radius_m"] == 120 and entries[2].details["recording"] == 1


def test_bad_canvass_requests_are_refused_clearly(hub_api: HubApi, city):
    token, incident_id = analyst_and_incident(hub_api)

    def point(**params):
        query = {"lat": LAT, "lon": LON, "from": minutes(-30).isoformat(), "to": minutes(30).isoformat(), **params}
        return client.get("/api/canvass", params=query)

    with hub_api.client(token) as client:
        assert point(radius_m=2001).status_code == 422
        assert point(radius_m=0).status_code == 422
        assert point(lat=91).status_code == 422
        r = point(**{"from": minutes(30).isoformat(), "to": minutes(-30).isoformat()})
        assert r.status_code == 422 and r.json()["detail"] == "the window ends before it starts"
        r = point(**{"from": minutes(-30).isoformat(), "to": (minutes(-30) + dt.timedelta(days=2)).isoformat()})
        assert r.status_code == 422 and "longer than 24 h" in r.json()["detail"]
        r = point(**{"from": (NOW + dt.timedelta(hours=1)).isoformat(),
                     "to": (NOW + dt.timedelta(hours=2)).isoformat()})
        assert r.status_code == 422 and "future" in r.json()["detail"]
        assert point(**{"from": "not-a-time"}).status_code == 422
        assert point(fov_deg=361).status_code == 422
        assert client.get("/api/incidents/987654/canvass").status_code == 404
        client.patch(f"/api/incidents/{incident_id}", json={"status": "closed"})
        r = client.get(f"/api/incidents/{incident_id}/canvass")
        assert r.status_code == 409 and "closed" in r.json()["detail"]
    for role in (Role.DISPATCH, Role.AUDITOR):
        hub_api.add_user(role.value + "1", "correct-horse-battery", role)
        with hub_api.client(hub_api.login(role.value + "1", "correct-horse-battery")) as client:
            assert point().status_code == 403
    with hub_api.hub.db.session() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)
                              .where(AuditEntry.action == "read.canvass")) == 0
