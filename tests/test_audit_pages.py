"""The auditor's console, the public transparency page and the owner's activity page in a real browser (Debian's
chromium driven by Playwright, 1366x768) against a real hub on loopback, one hub for the module: the auditor
finds a case's entries and exports them (CSV, JSON and a verifiable export `canvass-audit verify` accepts, each
export on the record); the transparency page renders signed out with the figures of what the test did; the
owner sees each access to their cameras checked in the browser against the checkpoint their box witnessed, and
a changed entry fails the check. Screenshots of each state go to .cache/screenshots/<test>/."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from hub.ingest import ingest_event
from hub.tables import AuditEntry, Role
from tests.console_support import ANALYST, WebHub
from tests.test_hub_api import add_camera
from wire import messages as m

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
REASON = "armed robbery reported at the corner store"
AUDITOR = ("audrey", "correct-horse-battery")
CASE = "2026-CASE-77"
#: (camera, case number, purpose) of each access request the analyst makes (all refused: no consent given).
ASKS = [("front", CASE, "violent_crime"), ("door", "2026-OTHER-1", "missing_person"), ("front", CASE, "violent_crime"),
        ("door", "2026-OTHER-2", "property_crime")]


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    web = WebHub(tmp_path_factory.mktemp("audit-pages")).start()
    bakery, _ = web.business_with_owner("Bakery")
    garage, _ = web.business_with_owner("Garage")
    cameras = {"front": add_camera(web, bakery, "front", 40.7, -74.0, "dev-aaaaaaaaaaaa"),
               "door": add_camera(web, garage, "door", 40.7, -74.0, "dev-bbbbbbbbbbbb")}
    web.add_analyst()
    web.add_user(*AUDITOR, Role.AUDITOR)
    with web.client(web.login(*ANALYST)) as c:
        for camera, case, purpose in ASKS:
            refused = c.post("/api/access", json={"camera_id": cameras[camera], "mode": "live", "purpose": purpose,
                                                  "reason": REASON, "case_number": case})
            assert refused.status_code == 403
    web.cameras = cameras
    yield web
    web.stop()


def sign_in(page, url: str, user: tuple[str, str], ready: str) -> None:
    page.goto(url)
    page.get_by_test_id("username").fill(user[0])
    page.get_by_test_id("password").fill(user[1])
    page.get_by_test_id("sign-in").click()
    page.locator(ready).first.wait_for(timeout=15_000)


def local_input(page, hours_from_now: float) -> str:
    """A datetime-local value in the browser's own time zone."""
    return page.evaluate("h => { const d = new Date(Date.now() + h * 3600e3); "
                         "return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 19); }",
                         hours_from_now)


def test_the_auditor_finds_a_cases_entries_and_exports_them_and_the_export_verifies(hub: WebHub, page, screenshots,
                                                                                    tmp_path: Path):
    sign_in(page, hub.url + "/auditor", AUDITOR, "[data-testid=audit-row]")
    page.screenshot(path=screenshots / "1-newest-entries.png")
    page.get_by_label("Case number").fill(CASE)
    page.get_by_test_id("audit-search-button").click()
    rows = page.get_by_test_id("audit-row")
    page.wait_for_function("() => [...document.querySelectorAll('[data-testid=audit-row]')].length === 2")
    texts = rows.all_inner_texts()
    assert all(CASE in text and "Bakery · front" in text and "violent crime" in text and REASON in text
               for text in texts)
    assert "{" not in " ".join(texts)  # readable rows, no JSON text
    size = int(page.get_by_test_id("log-size").inner_text().replace(",", ""))
    assert size >= len(ASKS) and str(size) in page.get_by_test_id("checkpoint-note").text_content()
    page.screenshot(path=screenshots / "2-one-case.png")

    with page.expect_download() as csv_download:
        page.get_by_test_id("export-csv").click()
    exported = list(csv.DictReader(io.StringIO(Path(csv_download.value.path()).read_text())))
    assert [r["case_number"] for r in exported] == [CASE, CASE] and all(r["reason"] == REASON for r in exported)
    with page.expect_download() as json_download:
        page.get_by_test_id("export-json").click()
    assert [r["case_number"] for r in json.loads(Path(json_download.value.path()).read_text())] == [CASE, CASE]

    page.get_by_label("From (local time)").fill(local_input(page, -1))
    page.get_by_label("Until (local time)").fill(local_input(page, 1))
    with page.expect_download() as verifiable:
        page.get_by_test_id("export-verifiable").click()
    saved = tmp_path / verifiable.value.suggested_filename
    verifiable.value.save_as(saved)
    checked = subprocess.run([sys.executable, "-m", "hub.audit.verify", "verify", str(saved)], cwd=REPO,
                             capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    exported_cases = [json.loads(json.loads(line)["entry"])["case_number"] for line in saved.read_text().splitlines()
                      if '"entry"' in line]
    assert exported_cases.count(CASE) == 2

    page.get_by_label("Case number").fill("")
    page.get_by_label("From (local time)").fill("")
    page.get_by_label("Until (local time)").fill("")
    page.get_by_label("Action").fill("audit.export")
    page.get_by_test_id("audit-search-button").click()
    page.wait_for_function("() => [...document.querySelectorAll('[data-testid=audit-row]')].length === 3")
    formats = sorted(t for t in page.get_by_test_id("audit-row").all_inner_texts())
    assert all("audrey" in t for t in formats)
    assert sum("format: csv" in t for t in formats) == 1 and sum("format: verifiable" in t for t in formats) == 1
    page.screenshot(path=screenshots / "3-the-exports-on-the-record.png")
    page.get_by_label("From (local time)").fill(local_input(page, 1))  # after Until: the hub's reason, shown
    page.get_by_label("Until (local time)").fill(local_input(page, -1))
    page.get_by_test_id("audit-search-button").click()
    page.get_by_role("alert").filter(has_text="since must be before until").wait_for()
    page.screenshot(path=screenshots / "4-a-refused-search.png")
    assert [e for e in page.errors if "status of 422" not in e] == []  # the refusal, and nothing else


def test_the_transparency_page_renders_signed_out_with_the_figures_of_what_happened(hub: WebHub, page, screenshots):
    page.goto(hub.url + "/transparency")
    month = page.get_by_test_id("month").first
    month.wait_for(timeout=15_000)
    page.screenshot(path=screenshots / "1-report-signed-out.png", full_page=True)
    assert page.evaluate("sessionStorage.length") == 0  # nobody signed in
    assert month.get_attribute("data-month") == dt.datetime.now(dt.timezone.utc).strftime("%Y-%m")
    figures = month.get_by_test_id("month-figures")
    assert figures.locator("tr[data-label='requests refused by the hub'] td").inner_text() == str(len(ASKS))
    purposes = month.get_by_test_id("by-purpose")
    assert purposes.locator("tr[data-group=violent_crime] td").inner_text() == "2"
    assert purposes.locator("tr[data-group=missing_person] td").inner_text() == "1"
    assert month.get_by_test_id("by-unit").locator("tr[data-group=Robbery] td").inner_text() == str(len(ASKS))
    assert page.get_by_test_id("cameras").inner_text() == "2"
    assert page.get_by_test_id("appliances").inner_text() == "2"
    with hub.hub.db.session() as session:
        logged = session.query(AuditEntry).count()
        refusals = session.query(AuditEntry).filter(AuditEntry.action == "access.request").all()
    shown = int(page.get_by_test_id("checkpoint-size").inner_text().split()[0].replace(",", ""))
    assert page.get_by_test_id("checkpoint-note").text_content().split("\n")[1] == str(shown)
    assert max(r.leaf_index for r in refusals) < shown <= logged  # counted at a checkpoint covering them all
    zero = month.get_by_test_id("month-figures").locator("tr[data-label='requests expired undecided'] td")
    assert zero.inner_text() == "0"  # what did not happen is shown too
    assert page.errors == []


def test_the_owner_sees_each_access_checked_against_the_log_their_box_witnessed(hub: WebHub, page, screenshots):
    sign_in(page, hub.url + "/owner/activity", ("owner-1", "owner-password-1"), "[data-testid=activity-row]")
    checks = page.get_by_test_id("entry-check")
    assert checks.count() == 2 and all("not yet checked" in t for t in checks.all_inner_texts())
    page.screenshot(path=screenshots / "1-not-yet-witnessed.png")

    note = hub.hub.checkpoint().note  # the box reports the checkpoint it witnessed, through the hub's ingest
    envelope = m.EventEnvelope(stream=uuid.uuid4(), seq=1, id=uuid.uuid4(), at=dt.datetime.now(dt.timezone.utc),
                               body=m.Witnessed(note=note))
    with hub.hub.db.session() as session:
        ingest_event(session, "dev-aaaaaaaaaaaa", envelope)
    page.reload()
    page.locator("[data-check=ok]").first.wait_for(timeout=15_000)
    assert checks.count() == 2 and all(t.startswith("✓") for t in checks.all_inner_texts())
    assert "2026-OTHER" not in page.get_by_test_id("activity-rows").inner_text()  # the garage's camera: not hers
    page.screenshot(path=screenshots / "2-every-entry-checked.png")

    def lying(field: str):  # a hub that edits what it sends: the page shows the hashed text, or says it fails
        def edit(route):
            body = route.fetch().json()
            body["entries"][0][field] = body["entries"][0][field].replace(CASE, "2026-EDITED")
            route.fulfill(json=body)
        return edit

    page.route("**/api/owner/activity*", lying("case_number"))  # the copy beside the text: not what is shown
    page.reload()
    page.locator("[data-check=ok]").first.wait_for(timeout=15_000)
    assert "2026-EDITED" not in page.get_by_test_id("activity-rows").inner_text()
    assert all(t.startswith("✓") for t in checks.all_inner_texts())
    page.unroute("**/api/owner/activity*")
    page.route("**/api/owner/activity*", lying("canonical"))  # the hashed text itself: the check fails
    page.reload()
    page.locator("[data-check=bad]").first.wait_for(timeout=15_000)
    assert "2026-EDITED" in page.get_by_test_id("activity-row").first.inner_text()
    assert checks.first.inner_text().startswith("✗")
    page.screenshot(path=screenshots / "3-an-edited-entry-fails.png")
    page.unroute("**/api/owner/activity*")

    page.get_by_label("Send alerts to").fill("baker@example.org")
    page.get_by_label("Alert when a camera is offline").check()
    page.get_by_label("Minutes offline before an alert").fill("15")
    page.get_by_test_id("alerts-save").click()
    page.get_by_text("Saved.").wait_for()
    with hub.client(hub.login("owner-1", "owner-password-1")) as c:
        saved = c.get("/api/owner/alert-settings").json()
    assert saved["email"] == "baker@example.org" and saved["camera_offline_after_s"] == 900
    page.screenshot(path=screenshots / "4-alerts-saved.png", full_page=True)
    assert page.errors == []
