"""The analyst's console against the real thing: Chromium, the hub with its MQTT link, a real mosquitto and a real
appliance recording a simulated street camera and reading its plates. The owner's pause on the box shows on the
map within 5 s; a hot-list plate the box reads appears on the page with its thumbnail within 2 s of the box
queuing it; an incident from the intake is canvassed on the page and the request sent from it reaches the box."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from hub.tables import Alert, Event, Role
from tests.console_support import sign_in
from tests.edge_support import EdgeProcess, config_text
from tests.hub_support import HubStack, eventually
from tests.test_alpr_agent import _alpr_section
from edge.recording.storage import Layout
from tests.owner_support import pair_box, put_consent

pytestmark = pytest.mark.slow
STREET = (40.7580, -73.9855)


@pytest.fixture
def stack(tmp_path: Path):
    hub = HubStack(tmp_path, hit_stream_keepalive_s=0.5).start()
    yield hub
    hub.stop()


def _box(stack: HubStack, tmp_path: Path, urls: list[str]) -> tuple[EdgeProcess, str, int]:
    business_id, owner = stack.business_with_owner("Corner Bakery")
    data_dir = tmp_path / "box"
    enrolled = stack.enroll(stack.claim_code(owner, business_id), data_dir / "identity", "bakery-box")
    assert enrolled.returncode == 0, enrolled.stderr
    agent = EdgeProcess(tmp_path / "edge", urls, data_dir=data_dir)
    agent.config.write_text(config_text(data_dir, urls, segment_seconds=4, coverage_report_seconds=5)
                            + _alpr_section(tmp_path))
    agent.start()
    camera_id = eventually(lambda: stack.recording_camera("cam1"), timeout=60, what="the camera at the hub")
    with stack.client(owner) as c:
        pair_box(c, c.get("/api/appliances").json()[0]["device_id"], Layout(data_dir).consent_path)
        assert c.patch(f"/api/cameras/{camera_id}", json={"latitude": STREET[0], "longitude": STREET[1],
                                                         "view_direction_deg": 0}).status_code == 200
        assert put_consent(c, camera_id, {
            "sharing": "request_only", "modes": ["playback", "clip"], "plate_sharing": "hits_only"}
        ).status_code == 200
    return agent, owner, camera_id


def _marker_status(page) -> str | None:
    marker = page.locator("[data-testid=camera-marker]").first
    return marker.get_attribute("data-status") if marker.count() else None


def test_the_console_shows_a_real_box_its_pause_its_hits_and_sends_it_requests(
        stack: HubStack, cameras, tmp_path: Path, page, screenshots: Path):
    sim = cameras(1)
    agent, owner, camera_id = _box(stack, tmp_path, sim.urls)
    stack.add_user("ana", "correct-horse-battery", Role.ANALYST, unit="Robbery")
    try:
        sign_in(page, stack.server.url, "ana", "correct-horse-battery")
        page.locator("[data-testid=camera-marker][data-status=recording]").wait_for(timeout=10_000)
        page.screenshot(path=screenshots / "1-recording.png")

        # The owner pauses sharing on the box itself: the map says so within 5 s.
        # (From the moment the command returns, the pause in force on the box: the command's own start-up, a
        # Python process, took seconds of a loaded CI machine and is not the hub's to answer for.)
        assert agent.cli("pause", "--camera", "cam1").returncode == 0
        page.locator("[data-testid=camera-marker][data-status=paused]").wait_for(timeout=5_000)
        page.screenshot(path=screenshots / "2-paused-by-the-owner.png")
        assert agent.cli("resume", "--camera", "cam1").returncode == 0

        # Every plate the street shows is wanted: the box's read reaches the page with its thumbnail.
        with stack.client(stack.login("ana", "correct-horse-battery")) as c:
            for plate in sorted({p.plate for p in sim.truths[0].passes}):
                assert c.post("/api/hotlist", json={"plate": plate, "list_name": "stolen",
                                                    "reason": "stolen vehicle"}).status_code == 201
        hit = page.locator("[data-testid=plate-hit]").first
        hit.wait_for(timeout=90_000)
        shown_at = time.time()
        hit_id = int(hit.get_attribute("data-hit-id"))
        with stack.hub.db.session() as session:
            queued = session.scalar(select(Event.at).join(Alert, Alert.event_id == Event.event_id)
                                    .where(Alert.id == hit_id))
        assert shown_at - queued.timestamp() < 2, "the hit took more than 2 s from the box to the page"
        page.locator("[data-testid=hit-thumbnail]:visible").first.wait_for(timeout=10_000)
        page.screenshot(path=screenshots / "3-hit-with-thumbnail.png")

        # An incident from the intake at the camera's street: canvassed on the page, the request reaches the box.
        with stack.client(stack.login("ana", "correct-horse-battery")) as c:
            r = c.post("/api/incidents", json={
                "external_id": "CAD-2026-0099", "type": "Armed robbery", "priority": 1, "latitude": STREET[0] + 0.0003,
                "longitude": STREET[1], "address": "7th Ave", "description": "suspect fled north",
                "reported_at": (dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=20)).isoformat()})
            assert r.status_code == 201, r.text
        listed = page.get_by_test_id("incident-list").get_by_text("Armed robbery")
        listed.wait_for(timeout=10_000)
        listed.click()
        row = page.locator(f"[data-testid=canvass-camera][data-camera-id='{camera_id}']")
        row.wait_for(timeout=30_000)
        page.screenshot(path=screenshots / "4-canvass.png")
        page.get_by_test_id("send-requests").click()
        page.get_by_test_id("ask-result").filter(has_text="pending").wait_for(timeout=15_000)
        page.screenshot(path=screenshots / "5-request-sent.png")
        on_box = eventually(lambda: json.loads(agent.cli("requests", "--json").stdout or "[]"), timeout=15,
                            what="the request on the box")
        assert on_box[0]["case_number"] == "CAD-2026-0099" and on_box[0]["held"]
        assert page.errors == []
    finally:
        assert agent.terminate() == 0
