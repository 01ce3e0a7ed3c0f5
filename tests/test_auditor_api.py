"""The auditor's search and exports, and the public transparency report (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
import json

from hub.tables import Role
from tests.hub_support import HubApi
from tests.test_hub_api import add_camera

REASON = "armed robbery reported at the corner store"


def test_search_export_and_transparency(hub_api: HubApi):
    bakery, owner = hub_api.business_with_owner("Bakery")
    garage, garage_owner = hub_api.business_with_owner("Garage")
    front = add_camera(hub_api, bakery, "front", 40.7, -74.0, "dev-aaaaaaaaaaaa")
    door = add_camera(hub_api, garage, "door", 40.7, -74.0, "dev-bbbbbbbbbbbb")
    hub_api.add_user("ana", "correct-horse-battery", Role.ANALYST, unit="Robbery")
    hub_api.add_user("audrey", "correct-horse-battery", Role.AUDITOR)
    analyst = hub_api.login("ana", "correct-horse-battery")
    auditor = hub_api.login("audrey", "correct-horse-battery")
    with hub_api.client(owner) as c:
        c.put(f"/api/cameras/{front}/consent", json={"sharing": "always", "modes": ["playback"]})
    with hub_api.client(analyst) as c:
        for camera, case, purpose in ((front, "2026-1", "violent_crime"), (door, "2026-2", "missing_person"),
                                      (front, "2026-3", "violent_crime")):
            c.post("/api/access", json={"camera_id": camera, "mode": "live", "purpose": purpose, "reason": REASON,
                                        "case_number": case})
        assert c.get("/api/audit/entries").status_code == 403  # analysts do not read the log
    with hub_api.client(auditor) as c:
        by_camera = c.get("/api/audit/entries", params={"camera_id": front}).json()
        actions = [json.loads(e["entry"])["action"] for e in by_camera]
        assert actions == ["consent.change", "access.request", "access.request"]  # the bakery's camera only
        by_case = c.get("/api/audit/entries", params={"case_number": "2026-2"}).json()
        assert len(by_case) == 1 and '"object":"camera:%d"' % door in by_case[0]["entry"]
        by_business = c.get("/api/audit/entries", params={"business_id": garage, "action": "access.request"}).json()
        assert len(by_business) == 1
        by_user = c.get("/api/audit/entries", params={"actor": "ana", "action": "access.request"}).json()
        assert len(by_user) == 3
        exported = c.get("/api/audit/export", params={"actor": "ana", "format": "csv"})
        assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(exported.text)))
        assert [r["case_number"] for r in rows if r["action"] == "access.request"] == ["2026-1", "2026-2", "2026-3"]
        assert all(len(r["leaf_hash"]) == 64 for r in rows)
        as_json = c.get("/api/audit/export", params={"case_number": "2026-3", "format": "json"}).json()
        assert [r["reason"] for r in as_json] == [REASON]
        exports = c.get("/api/audit/entries", params={"action": "audit.export"}).json()
        assert len(exports) == 2 and all('"actor":"audrey"' in e["entry"] for e in exports)
    with hub_api.client() as c:  # public
        report = c.get("/api/audit/transparency").json()
    [month] = report["months"].values()
    assert month["requests refused by the hub"] == 3 and month["consent changes by owners"] == 1
    [purposes] = report["by_purpose"].values()
    assert purposes == {"violent_crime": {"requests refused by the hub": 2},
                        "missing_person": {"requests refused by the hub": 1}}
    [units] = report["by_unit"].values()
    assert units == {"Robbery": {"requests refused by the hub": 3}}
