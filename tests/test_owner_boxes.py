"""The owner's view of their boxes, end to end.

The mask editor over a fresh snapshot of the camera: a real `canvass-edge run` recording a simulated camera,
enrolled with a real hub over mosquitto. The owner's page shows the camera's newest keyframe (a real JPEG from
the box, no wider than asked) under the mask polygons; the camera's owner alone may ask for it (an analyst, an
admin and an auditor get 403); it is audited as the owner viewing their camera and the hub keeps no copy of it
(no row beyond the audit entry, no file, `Cache-Control: no-store`).

The status view: the real box's disk and retention, and the alarms a box reports (clock, disk, a camera
offline, the box offline) in plain words, for the owner only."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from PIL import Image, ImageStat
from sqlalchemy import func, select

from hub.tables import AuditEntry, Base, Role
from tests.edge_support import wait_for
from tests.hub_support import HubStack, eventually
from tests.test_console_live import enrolled_agent
from tests.test_mqtt_link import SimAppliance, enrol
from tests.test_owner_page import _owner_name
from wire import messages as m

pytestmark = pytest.mark.slow


@pytest.fixture
def stack(tmp_path: Path):
    hub = HubStack(tmp_path)
    hub.start()
    yield hub
    hub.stop()


def _row_counts(stack: HubStack) -> dict[str, int]:
    with stack.hub.db.session() as session:
        return {name: session.scalar(select(func.count()).select_from(table))
                for name, table in Base.metadata.tables.items()}


def _hub_files(stack: HubStack) -> dict[str, int]:
    """Every file the hub keeps outside its database (the database is counted row by row instead)."""
    root = stack.settings.data_dir
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*")
            if p.is_file() and ".sqlite" not in p.name and not p.name.endswith((".db", "-wal", "-shm", ".log"))}


def test_the_owner_draws_masks_over_a_fresh_snapshot_only_they_get_and_the_hub_keeps_none(
        stack: HubStack, cameras, tmp_path: Path, page, screenshots: Path):
    agent, owner = enrolled_agent(stack, tmp_path, cameras(1).urls, alpr=False)
    stack.add_user("ana", "correct-horse-battery", Role.ANALYST)
    stack.add_user("audrey", "correct-horse-battery", Role.AUDITOR)
    try:
        camera_id = eventually(lambda: stack.recording_camera("cam1"), timeout=60, what="the camera recording")
        path = f"/api/owner/cameras/{camera_id}/snapshot"
        for token in (stack.login("ana", "correct-horse-battery"), stack.admin_token,
                      stack.login("audrey", "correct-horse-battery")):
            with stack.client(token) as staff:
                r = staff.get(path)
                assert r.status_code == 403, r.text
                assert r.headers["content-type"].startswith("application/json")

        with stack.client(owner) as c:  # "recording" at the hub can come a moment before the box's first keyframe
            wait_for(lambda: c.get(path).status_code == 200, timeout=30, interval=0.5, what="the box's first picture")
        rows, files = _row_counts(stack), _hub_files(stack)
        with stack.client(owner) as c:
            r = c.get(path)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "image/jpeg" and "no-store" in r.headers["cache-control"]
        picture = Image.open(io.BytesIO(r.content))
        picture.load()  # decodes the whole JPEG
        assert picture.format == "JPEG" and picture.size == (960, 540)  # the 1920×1080 camera, 960 wide at most
        assert r.headers["x-snapshot-size"] == "960x540" and len(r.content) <= 160 * 1024
        assert max(ImageStat.Stat(picture.convert("L")).stddev) > 10, "a picture, not a flat field"

        after = _row_counts(stack)
        changed = {name for name in after if after[name] != rows[name]}
        audit_tables = {"audit_entries", "audit_subjects", "audit_nodes", "audit_checkpoints"}
        assert changed <= audit_tables, changed  # the audit entry, nothing else
        assert _hub_files(stack) == files
        with stack.hub.db.session() as session:
            entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "camera.snapshot")).all()
            assert entries and all(e.object == f"camera:{camera_id}" and e.actor.startswith("owner-") for e in entries)
            assert entries[-1].outcome == "success"  # (any before the box's first keyframe: failures, with why)
            assert all(e.outcome == "success" or "no picture" in e.reason for e in entries)

        with stack.client(owner) as c:  # the box's health report: its disk and what it keeps
            [status] = eventually(lambda: [s for s in c.get("/api/owner/status").json() if s["reported_at"]],
                                  timeout=30, what="the box's health at the hub")
        assert status["disk_total_bytes"] > status["disk_free_bytes"] > 0 and status["online"]
        assert [(k["name"], k["retention_days"]) for k in status["cameras"]] == [("cam1", 30)]

        page.goto(f"{stack.server.url}/owner")
        page.fill("#username", entries[-1].actor)
        page.fill("#password", "owner-password-1")
        page.click("#signin button")
        assert page.get_by_test_id("retention").inner_text().startswith("cam1 keeps 30 days of video")
        assert "free of" in page.get_by_test_id("disk").inner_text()
        page.get_by_test_id("box-health").screenshot(path=screenshots / "owner-box-health.png")
        page.get_by_test_id("edit-consent").click()
        canvas = page.get_by_test_id("mask-canvas")
        page.locator("#mask-canvas[data-snapshot='960x540']").wait_for(timeout=15_000)
        box = canvas.bounding_box()
        for x, y in ((0.6, 0.1), (0.95, 0.1), (0.95, 0.6)):
            canvas.click(position={"x": x * box["width"], "y": y * box["height"]})
        page.click("#mask-close")
        assert page.locator("#mask-count").inner_text() == "1"
        assert "only you see it and the hub keeps no copy" in page.get_by_test_id("mask-snapshot-note").inner_text()
        # The canvas shows the camera's picture, not the blank field: its pixels vary outside the mask.
        spread = page.evaluate("""() => {
            const c = document.querySelector('#mask-canvas'), g = c.getContext('2d');
            const d = g.getImageData(0, 0, Math.floor(c.width / 2), c.height).data;
            let min = 255, max = 0;
            for (let i = 0; i < d.length; i += 4) { min = Math.min(min, d[i]); max = Math.max(max, d[i]); }
            return max - min; }""")
        assert spread > 40, spread
        page.screenshot(path=screenshots / "owner-mask-over-snapshot.png")
        assert page.errors == []
    finally:
        assert agent.terminate() == 0


def test_the_owner_reads_the_boxes_alarms_in_plain_words(stack: HubStack, tmp_path: Path, page, screenshots: Path):
    identity, _, owner = enrol(stack, tmp_path / "box", "Corner Bakery")
    box = SimAppliance(tmp_path / "box", identity).start()
    stack.add_user("ana", "correct-horse-battery", Role.ANALYST)
    since = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(minutes=5)
    try:
        box.link.publish_event(m.CameraStatus(camera="front", status="recording"))
        box.link.publish_event(m.CameraStatus(camera="back", status="offline", detail="connection refused"))
        box.link.publish_event(m.Health(
            uptime_s=600, disk_free_bytes=2_000_000_000, cameras_recording=1, disk_total_bytes=100_000_000_000,
            recordings_bytes=90_000_000_000,
            keep=[m.CameraKeep(camera="front", retention_days=14, oldest=since - dt.timedelta(days=13))],
            alarms=[m.BoxAlarm(key="clock:unsynchronised", level="warning", message="NTP unreachable", since=since),
                    m.BoxAlarm(key="retention:disk_budget_unmet", level="critical", message="need 12 GB more",
                               since=since)]))
        # The front camera's last day as its box reports it: recorded, a 10-minute gap and why, recorded again;
        # and a span from before the day, of which only its last hour counts.
        hour = dt.timedelta(hours=1)
        for start, end, recorded, reason in ((since - 25 * hour, since - 3 * hour, True, ""),
                                             (since - 3 * hour, since - 3 * hour + dt.timedelta(minutes=10), False,
                                              "camera offline: connection refused"),
                                             (since - 3 * hour + dt.timedelta(minutes=10), since, True, "")):
            box.link.publish_event(m.Coverage(camera="front", start=start, end=end, recorded=recorded,
                                              reason=reason))
        with stack.client(owner) as c:
            [status] = eventually(lambda: [s for s in c.get("/api/owner/status").json() if s["reported_at"]],
                                  what="the health at the hub")
        texts = [a["text"] for a in status["alarms"]]
        assert any(t.startswith("The box's clock is not synchronised") and "NTP unreachable" in t for t in texts)
        assert any(t.startswith("The box's disk is too small") for t in texts)
        assert any(t.startswith("The box's disk is almost full") for t in texts)  # 2 of 100 GB free
        assert any(t.startswith("Camera back is offline") for t in texts)
        assert {(k["name"], k["retention_days"]) for k in status["cameras"]} == {("front", 14), ("back", None)}
        with stack.client(owner) as c:
            front = eventually(lambda: next(k for k in c.get("/api/owner/status").json()[0]["cameras"]
                                            if k["name"] == "front" and k["gaps_last_day"]), what="the coverage")
        # 24 h back from the request: ~20 h 55 min of the first span (clipped at the day's start) + 2 h 50 min.
        assert 23.5 * 3600 < front["recorded_last_day_s"] < 23.9 * 3600
        assert front["gaps_last_day"] == 1 and front["recent_gaps"][0]["reason"].startswith("camera offline")
        with stack.client(stack.login("ana", "correct-horse-battery")) as analyst:
            assert analyst.get("/api/owner/status").status_code == 403

        page.goto(f"{stack.server.url}/owner")
        page.fill("#username", _owner_name(stack))
        page.fill("#password", "owner-password-1")
        page.click("#signin button")
        alarms = page.get_by_test_id("alarm")
        alarms.first.wait_for()
        assert alarms.count() == 4
        assert page.get_by_test_id("retention").inner_text().startswith("front keeps 14 days of video")
        assert "2.0 GB free of 100 GB; video takes 90 GB" in page.get_by_test_id("disk").inner_text()
        coverage = page.locator("[data-testid=coverage][data-camera=front]").inner_text()
        assert "front recorded 23 h" in coverage and "of the last 24 hours, 1 gap" in coverage
        assert "camera offline: connection refused" in coverage
        page.get_by_test_id("box-health").screenshot(path=screenshots / "owner-box-alarms.png")

        # A picture the box cannot give (this simulated box takes no snapshot command): the owner is told why, and
        # the attempt is on the record as a failure with that reason.
        front = stack.recording_camera("front")
        with stack.client(owner) as c:
            refused = c.get(f"/api/owner/cameras/{front}/snapshot")
        assert refused.status_code == 422 and "no picture of this camera now" in refused.json()["detail"]
        with stack.hub.db.session() as session:
            [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "camera.snapshot")).all()
            assert entry.outcome == "failure" and "no picture of this camera now" in entry.reason

        box.stop()  # the box goes away: the hub hears that it is offline
        with stack.client(owner) as c:
            eventually(lambda: not c.get("/api/owner/status").json()[0]["online"], what="the box offline at the hub")
        page.reload()
        page.get_by_text("The box is offline").wait_for(timeout=15_000)
        page.get_by_test_id("box-health").screenshot(path=screenshots / "owner-box-offline.png")
        assert page.errors == []
    finally:
        box.stop()
