"""End to end: a real agent recording a real (simulated) RTSP camera reports its coverage through the outbox
and a real mosquitto; the hub merges it and the analyst's canvass lists the camera as recording then."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select

from hub.tables import Camera, CoverageSpan, Role
from tests.hub_support import HubStack, eventually

LAT, LON = 39.9526, -75.1652


def recorded_rows(stack: HubStack) -> list[tuple[dt.datetime, dt.datetime]]:
    with stack.hub.db.session() as session:
        return [(r.start, r.end) for r in session.scalars(select(CoverageSpan).where(CoverageSpan.recorded.is_(True)))]


def test_a_boxs_coverage_reaches_the_hub_and_shows_in_a_canvass(hub_stack: HubStack, cameras, edge, tmp_path: Path):
    business_id, owner = hub_stack.business_with_owner("Corner Store")
    code = hub_stack.claim_code(owner, business_id)
    data_dir = tmp_path / "box"
    enrolled = hub_stack.enroll(code, data_dir / "identity", "corner-box")
    assert enrolled.returncode == 0, enrolled.stderr
    camera = cameras(1)
    agent = edge(camera.urls, data_dir=data_dir, segment_seconds=2, coverage_report_seconds=5)
    camera_id = eventually(lambda: hub_stack.recording_camera("cam1"), timeout=60, what="camera known at hub")
    with hub_stack.client(owner) as c:  # the owner places the camera 40 m north of the point, looking south
        r = c.patch(f"/api/cameras/{camera_id}", json={"latitude": LAT + 40 / 111_195, "longitude": LON,
                                                        "view_direction_deg": 180})
        assert r.status_code == 200
    eventually(lambda: any((end - start).total_seconds() >= 6 for start, end in recorded_rows(hub_stack)),
               timeout=90, what="a merged recorded span of 6 s at the hub")
    rows = recorded_rows(hub_stack)
    assert len(rows) == 1  # segment after segment, report after report: one row
    start, end = rows[0]

    hub_stack.add_user("ana", "correct-horse-battery", Role.ANALYST)
    with hub_stack.client(hub_stack.login("ana", "correct-horse-battery")) as c:
        r = c.get("/api/canvass", params={"lat": LAT, "lon": LON, "radius_m": 100, "from": start.isoformat(),
                                          "to": end.isoformat()})
        assert r.status_code == 200, r.text
        [found] = r.json()["recording"]
    assert found["camera_id"] == camera_id and found["business_name"] == "Corner Store"
    assert found["facing"] == "yes" and found["appliance_online"] is True
    assert abs(found["recorded_s"] - (end - start).total_seconds()) < 0.01
    assert agent.terminate() == 0
    with hub_stack.hub.db.session() as session:
        assert session.get(Camera, camera_id).name == "cam1"
