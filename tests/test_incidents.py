"""Incidents on SQLite and on a real PostgreSQL: idempotent CAD intake, NENA EIDO intake, audited updates,
listing order, who may do what, and bad input refused clearly with nothing stored and nothing echoed."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from sqlalchemy import func, select

from hub.eido import EidoDocument, EidoError, coordinates, hub_priority, incident_from_eido
from hub.tables import AuditEntry, Incident, Role
from tests.hub_support import HubApi

NOW = dt.datetime.now(dt.timezone.utc)
MARK = "Zq7-marker"  # in refused input; must never come back in an answer


def iso(moment: dt.datetime) -> str:
    return moment.isoformat()


def incident(external_id: str = "CAD-2026-0001", **fields) -> dict:
    body = {"external_id": external_id, "type": "robbery", "priority": 2, "latitude": 39.9526,
            "longitude": -75.1652, "address": "1 Market St", "reported_at": iso(NOW - dt.timedelta(minutes=10)),
            "description": "armed robbery at a corner store"}
    return {**body, **fields}


def tokens(api: HubApi) -> dict[str, str]:
    users = {"cad": Role.DISPATCH, "cad2": Role.DISPATCH, "ana": Role.ANALYST, "aud": Role.AUDITOR}
    for name, role in users.items():
        api.add_user(name, "correct-horse-battery", role)
    return {name: api.login(name, "correct-horse-battery") for name in users}


def incident_count(api: HubApi) -> int:
    with api.hub.db.session() as session:
        return session.scalar(select(func.count()).select_from(Incident))


def audit_entries(api: HubApi, prefix: str = "incident.") -> list[AuditEntry]:
    with api.hub.db.session() as session:
        rows = list(session.scalars(select(AuditEntry).where(AuditEntry.action.startswith(prefix))
                                    .order_by(AuditEntry.id)))
        session.expunge_all()
        return rows


def test_the_same_cad_id_updates_and_never_duplicates_and_every_intake_is_audited(hub_api: HubApi):
    t = tokens(hub_api)
    with hub_api.client(t["cad"]) as c:
        first = c.post("/api/incidents", json=incident())
        assert first.status_code == 201, first.text
        again = c.post("/api/incidents", json=incident(priority=1, status="closed"))
        assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
        assert again.json()["priority"] == 1 and again.json()["status"] == "closed"
        assert again.json()["source"] == "cad" and again.json()["created_by"] == "cad"
    assert incident_count(hub_api) == 1
    entries = audit_entries(hub_api)
    assert [(e.actor, e.action, e.object) for e in entries] == [
        ("cad", "incident.intake", f"incident:{first.json()['id']}"),
        ("cad", "incident.update", f"incident:{first.json()['id']}")]
    assert entries[1].details["changed"] == ["priority", "status"] and entries[1].source == "testclient"
    assert "armed robbery" not in str([e.details for e in entries])  # the description stays off the record


def test_an_update_is_audited_and_closing_works_by_patch(hub_api: HubApi):
    t = tokens(hub_api)
    with hub_api.client(t["cad"]) as c:
        incident_id = c.post("/api/incidents", json=incident()).json()["id"]
    with hub_api.client(t["ana"]) as c:
        r = c.patch(f"/api/incidents/{incident_id}", json={"status": "closed", "description": "suspect fled"})
        assert r.status_code == 200 and r.json()["status"] == "closed"
        assert r.json()["updated_at"] > r.json()["created_at"]
    update = audit_entries(hub_api)[-1]
    assert (update.actor, update.action, update.details["changed"]) == ("ana", "incident.update",
                                                                        ["description", "status"])


def test_listing_is_open_first_then_priority_then_newest(hub_api: HubApi):
    t = tokens(hub_api)
    filed = [("old-p2", 2, 50, "open"), ("new-p2", 2, 5, "open"), ("p1", 1, 40, "open"),
             ("closed-p1", 1, 1, "closed"), ("p5", 5, 1, "open")]
    with hub_api.client(t["ana"]) as c:
        for external_id, priority, minutes_ago, state in filed:
            r = c.post("/api/incidents", json=incident(external_id, priority=priority, status=state,
                                                       reported_at=iso(NOW - dt.timedelta(minutes=minutes_ago))))
            assert r.status_code == 201
        listed = c.get("/api/incidents").json()
        assert [i["external_id"] for i in listed] == ["p1", "new-p2", "old-p2", "p5", "closed-p1"]
        assert [i["external_id"] for i in c.get("/api/incidents", params={"status": "open"}).json()] == [
            "p1", "new-p2", "old-p2", "p5"]
        assert listed[0]["canvass"] == f"/api/incidents/{listed[0]['id']}/canvass"


def test_dispatch_accounts_see_and_change_only_what_they_filed_and_nothing_else(hub_api: HubApi):
    t = tokens(hub_api)
    with hub_api.client(t["cad"]) as c:
        mine = c.post("/api/incidents", json=incident("CAD-A")).json()["id"]
    with hub_api.client(t["cad2"]) as c:
        assert c.get(f"/api/incidents/{mine}").status_code == 404
        assert c.get("/api/incidents").json() == []
        assert c.patch(f"/api/incidents/{mine}", json={"status": "closed"}).status_code == 404
        assert c.post("/api/incidents", json=incident("CAD-A", priority=5)).status_code == 403
        for path in ("/api/cameras", "/api/businesses", "/api/requests", "/api/appliances", "/api/users",
                     f"/api/incidents/{mine}/canvass"):
            assert c.get(path).status_code == 403, path
        assert c.get("/api/auth/me").json()["role"] == "dispatch"
    with hub_api.client(t["aud"]) as c:
        assert c.get("/api/incidents").status_code == 403
        assert c.post("/api/incidents", json=incident("AUD-1")).status_code == 403
    with hub_api.client(t["ana"]) as c:
        assert c.get(f"/api/incidents/{mine}").json()["priority"] == 2
    assert incident_count(hub_api) == 1


def test_admins_can_make_dispatch_accounts(hub_api: HubApi):
    hub_api.business_with_owner("Bakery")  # signs the admin in
    with hub_api.client(hub_api.admin_token) as c:
        r = c.post("/api/users", json={"username": "cad-feed", "password": "correct-horse-battery",
                                       "role": "dispatch"})
        assert r.status_code == 201 and r.json()["role"] == "dispatch"


BAD_FIELDS = [
    ({"latitude": 91.0}, "latitude"),
    ({"longitude": -180.5}, "longitude"),
    ({"priority": 0}, "priority"),
    ({"priority": 6}, "priority"),
    ({"status": "pending" + MARK}, "status"),
    ({"external_id": "x" * 101}, "external_id"),
    ({"external_id": "has space " + MARK}, "external_id"),
    ({"description": MARK * 300}, "description"),
    ({"type": ""}, "type"),
    ({"address": MARK * 60}, "address"),
    ({"reported_at": "2026-12-01T10:00:00"}, "reported_at"),  # no time zone
    ({"unexpected": MARK}, "unexpected"),
]


def test_bad_fields_are_refused_clearly_with_nothing_stored_and_nothing_echoed(hub_api: HubApi):
    t = tokens(hub_api)
    with hub_api.client(t["cad"]) as c:
        for bad, where in BAD_FIELDS:
            r = c.post("/api/incidents", json=incident(**bad))
            assert r.status_code == 422, bad
            assert where in str(r.json()["detail"]) and MARK not in r.text, bad
    assert incident_count(hub_api) == 0 and audit_entries(hub_api) == []


def test_a_report_time_in_the_future_is_refused_and_an_update_to_one_too(hub_api: HubApi):
    t = tokens(hub_api)
    now = dt.datetime.now(dt.timezone.utc)  # when the test runs, not when the module was collected
    with hub_api.client(t["cad"]) as c:
        r = c.post("/api/incidents", json=incident(reported_at=iso(now + dt.timedelta(minutes=10))))
        assert r.status_code == 422 and "future" in r.json()["detail"]
        assert incident_count(hub_api) == 0
        assert c.post("/api/incidents", json=incident(reported_at=iso(now + dt.timedelta(seconds=30)))
                      ).status_code == 201  # within the clock skew allowed
        incident_id = c.get("/api/incidents").json()[0]["id"]
        r = c.patch(f"/api/incidents/{incident_id}", json={"reported_at": iso(now + dt.timedelta(days=1))})
        assert r.status_code == 422
        assert c.patch(f"/api/incidents/{incident_id}", json={"priority": None}).status_code == 422
        assert c.patch("/api/incidents/999999", json={"status": "closed"}).status_code == 404
    assert [e.action for e in audit_entries(hub_api)] == ["incident.intake"]


def test_an_oversize_body_is_refused_before_it_is_read(hub_api: HubApi):
    t = tokens(hub_api)
    with hub_api.client(t["cad"]) as c:
        r = c.post("/api/incidents", json=incident(description="x" * (2 * 1024 * 1024)))
    assert r.status_code == 413 and incident_count(hub_api) == 0


# -- NENA EIDO -----------------------------------------------------------------------------------------------

PIDF_POINT = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10" '
    'xmlns:gml="http://www.opengis.net/gml" xmlns:gs="http://www.opengis.net/pidflo/1.0" '
    'xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" entity="pres:caller@example.com">'
    '<dm:device id="d1"><gp:geopriv><gp:location-info>'
    '<gs:Circle srsName="urn:ogc:def:crs:EPSG::4326"><gml:pos>39.95260 -75.16520</gml:pos>'
    '<gs:radius uom="urn:ogc:def:uom:EPSG::9001">15</gs:radius></gs:Circle>'
    '</gp:location-info><gp:usage-rules/><gp:method>GPS</gp:method></gp:geopriv>'
    '<dm:timestamp>2026-12-02T09:58:10Z</dm:timestamp></dm:device></presence>')
PIDF_CIVIC = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10" '
    'xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" entity="pres:incident@example.com">'
    '<dm:device id="d2"><gp:geopriv><gp:location-info>'
    '<civicAddress xmlns="urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr"><country>US</country><A1>PA</A1>'
    '<A3>Philadelphia</A3><HNO>1</HNO><RD>Market</RD><STS>Street</STS><PC>19107</PC></civicAddress>'
    '</gp:location-info><gp:usage-rules/></gp:geopriv></dm:device></presence>')


EST = dt.timezone(dt.timedelta(hours=-5))
CALL_START = (NOW - dt.timedelta(minutes=20)).replace(microsecond=0)


def at(minutes_after_call: float) -> str:
    """A time of the EIDO as a PSAP in UTC-5 writes it."""
    return (CALL_START + dt.timedelta(minutes=minutes_after_call)).astimezone(EST).isoformat()


def eido(**changes) -> dict:
    """An EIDO as NENA-STA-021.1 lays it out (the shape of NENA's own call-transfer sample), trimmed."""
    document = {
        "$id": "urn:emergency:uid:incidentid:a56e556d871:psap.phila.pa.us",
        "lastUpdateTimeStamp": at(3.5),
        "updatedByAgencyReference": {"$ref": "psap.phila.pa.us"},
        "eidoVersion": "1.0",
        "issuingElementIdentification": "idx.phila.pa.us",
        "incidentComponent": {
            "$id": "urn:emergency:uid:eidodatacomponent:i1:psap.phila.pa.us",
            "lastUpdateTimeStamp": at(3),
            "updatedByAgencyReference": {"$ref": "psap.phila.pa.us"},
            "incidentTypeInternalCode": "ROB-A",
            "incidentTypeInternalText": "ROBBERY - ARMED",
            "incidentTypeCommonRegistryText": "Robbery",
            "incidentStatusCommonRegistryText": ["Active", "ResourcesAssigned"],
            "incidentCommonPriorityNumber": 8,
            "locationReference": [{"$ref": "loc-incident"}, {"$ref": "loc-caller"}],
        },
        "callComponent": [{
            "$id": "urn:emergency:uid:callid:c1:psap.phila.pa.us",
            "lastUpdateTimeStamp": at(0.7),
            "updatedByAgencyReference": {"$ref": "psap.phila.pa.us"},
            "callStartTimestamp": at(0),
            "locationReference": [{"$ref": "loc-caller"}],
        }],
        "agencyComponent": [{"$id": "psap.phila.pa.us", "lastUpdateTimeStamp": at(0),
                             "updatedByAgencyReference": {"$ref": "psap.phila.pa.us"}, "agencyType": ["psap"]}],
        "locationComponent": [
            {"$id": "loc-tower", "lastUpdateTimeStamp": at(0),
             "updatedByAgencyReference": {"$ref": "psap.phila.pa.us"},
             "locationTypeDescriptionRegistryText": "TowerLocation",
             "locationByValue": PIDF_POINT.replace("39.95260 -75.16520", "40.00000 -75.00000")},
            {"$id": "loc-caller", "lastUpdateTimeStamp": at(0.2),
             "updatedByAgencyReference": {"$ref": "psap.phila.pa.us"},
             "locationTypeDescriptionRegistryText": "Caller", "locationByValue": PIDF_POINT},
            {"$id": "loc-incident", "lastUpdateTimeStamp": at(2),
             "updatedByAgencyReference": {"$ref": "psap.phila.pa.us"},
             "locationTypeDescriptionRegistryText": "CurrentIncident", "locationByValue": PIDF_CIVIC},
        ],
        "@context": {"@vocab": "./JSON-LD_Contexts/EmergencyIncidentDataObjectType.jsonld"},
    }
    document.update(changes)
    return document


def test_an_eido_maps_to_the_incident_it_describes():
    fields = incident_from_eido(EidoDocument.model_validate(eido()))
    assert fields.external_id == "urn:emergency:uid:incidentid:a56e556d871:psap.phila.pa.us"
    assert (fields.type, fields.description, fields.priority, fields.status) == (
        "Robbery", "ROBBERY - ARMED", 1, "open")
    # The incident's own location has an address but no coordinates: the caller's position places it, and
    # the cell tower's never does.
    assert (fields.latitude, fields.longitude) == (39.9526, -75.1652)
    assert fields.address == "1 Market Street, Philadelphia, PA, 19107"
    assert fields.reported_at == CALL_START  # the call's start


def test_eido_details_status_priority_and_other_location_forms():
    closed = eido()
    closed["incidentComponent"] = {**closed["incidentComponent"], "incidentStatusCommonRegistryText": ["Closed"],
                                   "incidentCommonPriorityNumber": None}
    fields = incident_from_eido(EidoDocument.model_validate(closed))
    assert fields.status == "closed" and fields.priority == 3
    assert [hub_priority(n) for n in range(11)] == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 1]
    assert coordinates("geo:39.9526,-75.1652;u=10") == (39.9526, -75.1652)
    polygon = ('<presence xmlns:gml="http://www.opengis.net/gml"><gml:Polygon><gml:exterior><gml:LinearRing>'
               '<gml:posList>10 20 10 22 12 22 12 20 10 20</gml:posList></gml:LinearRing></gml:exterior>'
               '</gml:Polygon></presence>')
    assert coordinates(polygon) == (11.0, 21.0)
    bomb = '<!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><x><gml:pos>&b;</gml:pos></x>'
    assert coordinates(bomb) is None and coordinates("<not xml") is None
    assert coordinates(PIDF_POINT.replace("39.95260", "99.0")) is None


def test_an_eido_intake_files_and_then_updates_the_same_incident(hub_api: HubApi):
    t = tokens(hub_api)
    with hub_api.client(t["cad"]) as c:
        first = c.post("/api/incidents/eido", json=eido())
        assert first.status_code == 201, first.text
        assert first.json()["source"] == "eido" and first.json()["latitude"] == 39.9526
        later = eido()
        later["incidentComponent"] = {**later["incidentComponent"],
                                      "incidentStatusCommonRegistryText": ["Closed"]}
        again = c.post("/api/incidents/eido", json=later)
        assert again.status_code == 200 and again.json()["status"] == "closed"
    assert incident_count(hub_api) == 1
    assert [e.action for e in audit_entries(hub_api)] == ["incident.intake", "incident.update"]


def _without_coordinates() -> dict:
    document = eido()
    document["locationComponent"] = [loc for loc in document["locationComponent"]
                                     if loc["$id"] in ("loc-incident", "loc-tower")]
    return document


def _malformed_location() -> dict:
    document = eido()
    for loc in document["locationComponent"]:
        loc["locationByValue"] = "<presence><gml:pos>" + MARK
    return document


BAD_EIDOS = [
    (_without_coordinates(), "cannot be placed"),
    (_malformed_location(), "cannot be placed"),
    (eido(**{"$id": None}), "tracking identifier"),
    (eido(**{"$id": "urn:emergency:uid:incidentid:" + MARK * 20}), "tracking identifier"),
    (eido(incidentComponent=None), "incidentComponent"),
    (eido(lastUpdateTimeStamp="yesterday " + MARK), "lastUpdateTimeStamp"),
    (eido(eidoVersion="9.9"), "eidoVersion"),
    (eido(locationComponent="not a list " + MARK), "locationComponent"),
]


def test_an_eido_that_cannot_be_filed_is_refused_clearly_and_nothing_is_stored(hub_api: HubApi):
    t = tokens(hub_api)
    with hub_api.client(t["cad"]) as c:
        for document, expected in BAD_EIDOS:
            r = c.post("/api/incidents/eido", json=document)
            assert r.status_code == 422, expected
            assert expected in str(r.json()["detail"]) and MARK not in r.text and "presence" not in r.text
    assert incident_count(hub_api) == 0 and audit_entries(hub_api) == []


def test_malformed_json_is_a_clear_422(hub_api: HubApi):
    t = tokens(hub_api)
    with hub_api.client(t["cad"]) as c:
        r = c.post("/api/incidents/eido", content=b'{"$id": "' + MARK.encode() + b'", ',
                   headers={"content-type": "application/json"})
    assert r.status_code == 422 and MARK not in r.text


def test_the_eido_errors_never_quote_the_document():
    document = copy.deepcopy(_without_coordinates())
    with pytest.raises(EidoError) as caught:
        incident_from_eido(EidoDocument.model_validate(document))
    assert "Philadelphia" not in str(caught.value)
