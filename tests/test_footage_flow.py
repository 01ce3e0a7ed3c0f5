"""The footage canvass end to end on loopback: a real simulated camera recorded by a real agent process, a real
mosquitto and the hub. Incident → request → the box holds the window → the owner approves → the box cuts the clip
without transcoding, signs it and uploads it → the hub verifies it into the case → its decoded frames equal the
recorded frames over the window, it verifies offline, the hold ends. A denial and a window the box never
recorded produce no data, audited, and say so."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from hub.tables import AuditEntry, Clip, FootageRequest, Incident
from tests.cut_support import clip_frames, expected_frames
from tests.hub_support import HubStack, eventually
from tests.test_streaming import Box, enrolled_box
from tests.owner_support import decide, put_consent
from wire.evidence import parse_signed, verify_clip

pytestmark = pytest.mark.slow
REASON = "armed robbery reported at the corner store"
REQUEST_ONLY = {"sharing": "request_only", "modes": ["playback", "clip"]}
HERE = (40.7128, -74.0060)


def _utc(us: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(us / 1_000_000, dt.timezone.utc)


def _box(hub_stack: HubStack, cameras, edge, tmp_path: Path) -> Box:
    box = enrolled_box(hub_stack, cameras, edge, tmp_path, recording={"segment_seconds": 2})
    with hub_stack.client(box.owner) as c:
        assert put_consent(c, box.camera_id, REQUEST_ONLY).status_code == 200
        assert c.patch(f"/api/cameras/{box.camera_id}", json={"latitude": HERE[0], "longitude": HERE[1],
                                                              "view_direction_deg": 90}).status_code == 200
    return box


def _incident(hub_stack: HubStack) -> int:
    with hub_stack.hub.db.session() as session:
        row = Incident(external_id="CAD-2026-1", source="cad", type="robbery", priority=1, latitude=HERE[0] + 0.0005,
                       longitude=HERE[1], address="1 Main St", reported_at=dt.datetime.now(dt.timezone.utc),
                       created_by="cad")
        session.add(row)
        session.flush()
        return row.id


def _ask(hub_stack: HubStack, box: Box, window: tuple[dt.datetime, dt.datetime], incident: int) -> dict:
    with hub_stack.client(box.analyst) as c:
        r = c.post("/api/footage-requests", json={
            "camera_ids": [box.camera_id], "window_from": window[0].isoformat(), "window_to": window[1].isoformat(),
            "purpose": "violent_crime", "reason": REASON, "case_number": "2026-000777", "incident_id": incident})
    assert r.status_code == 201, r.text
    return r.json()["results"][0]


def _request(hub_stack: HubStack, request_id: int) -> FootageRequest:
    with hub_stack.hub.db.session() as session:
        return session.get(FootageRequest, request_id)


def _holds(box: Box) -> list:
    index = box.agent.index()
    try:
        return index.holds()
    finally:
        index.close()


def _closed_window(box: Box, seconds: int = 5) -> tuple[int, int]:
    """A window of `seconds` across a segment boundary, all of it in closed segments."""
    def enough():
        closed = box.agent.closed_segments("cam1")
        return closed if len(closed) >= 4 else None
    closed = eventually(enough, timeout=60, what="closed segments")
    start = closed[1].start_us + 700_000
    return start, start + seconds * 1_000_000


def test_incident_to_verified_clip_at_the_hub(hub_stack: HubStack, cameras, edge, tmp_path: Path):
    box = _box(hub_stack, cameras, edge, tmp_path)
    from_us, to_us = _closed_window(box)
    asked = _ask(hub_stack, box, (_utc(from_us), _utc(to_us)), _incident(hub_stack))
    assert asked["status"] == "pending" and asked["box_recorded_s"] == pytest.approx(5, abs=0.01)
    request_id = asked["request_id"]
    (hold,) = _holds(box)
    assert (hold.start_us, hold.end_us) == (from_us, to_us)
    listed = json.loads(box.agent.cli("requests", "--json").stdout)
    assert listed[0]["request_id"] == request_id and listed[0]["held"] and listed[0]["status"] == "pending"

    # The owner approves three of the five seconds (trimmed on the console's timeline), signed with the passkey.
    trim_from, trim_to = from_us + 1_000_000, from_us + 4_000_000
    with hub_stack.client(box.owner) as c:
        r = decide(c, request_id, approve=True, note="only the three seconds with the door",
                   window=(_utc(trim_from).isoformat(), _utc(trim_to).isoformat()))
    assert r.status_code == 200 and r.json()["status"] == "approved", r.text
    try:
        eventually(lambda: _request(hub_stack, request_id).status == "delivered", timeout=60, what="clip delivered")
    except AssertionError:
        row = _request(hub_stack, request_id)
        raise AssertionError(f"{row.status} {row.clip_stage} {row.clip_detail}\n{box.agent.log_text()[-3000:]}")
    with hub_stack.hub.db.session() as session:
        clip = session.scalar(select(Clip).where(Clip.request_id == request_id))
        assert clip.verified, clip.verification
    with hub_stack.client(box.analyst) as c:
        case = c.get("/api/cases/2026-000777").json()
        video = c.get(f"/api/clips/{clip.id}/download")
        manifest = c.get(f"/api/clips/{clip.id}/manifest")
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    assert case["requests"][0]["clip"]["verified"] is True
    clip_path, manifest_path = tmp_path / "clip.mp4", tmp_path / "manifest.json"
    clip_path.write_bytes(video.content)
    manifest_path.write_bytes(manifest.content)
    signed = parse_signed(manifest.content)
    assert verify_clip(clip_path, signed, hub_stack.hub.ca.pem) == []
    assert signed.read().request_id == request_id and not signed.read().masked

    # The clip covers only the trim: what was recorded from the keyframe at or before the trim's start to its end.
    assert (signed.read().requested_from, signed.read().requested_to) == (_utc(trim_from), _utc(trim_to))
    recorded = expected_frames(box.agent.data_dir / "recordings", box.agent.closed_segments("cam1"), trim_from,
                               trim_to)
    frames = clip_frames(clip_path)
    assert [digest for _, digest in frames] == [f.digest for f in recorded]
    assert 3 * 14 <= len(frames) < 5 * 14

    eventually(lambda: _holds(box) == [], timeout=30, what="the hold released once the clip is at the hub")
    actions = [(e.action, e.outcome) for e in _entries(hub_stack)]
    for expected in [("footage.request", "pending"), ("access.owner_decision", "success"),
                     ("access.grant", "success"), ("access.appliance_decision", "success"),
                     ("clip.upload", "success")]:
        assert expected in actions, actions


def test_a_denied_request_releases_its_hold_and_a_window_never_recorded_says_so(hub_stack: HubStack, cameras,
                                                                               edge, tmp_path: Path):
    box = _box(hub_stack, cameras, edge, tmp_path)
    incident = _incident(hub_stack)
    from_us, to_us = _closed_window(box, 3)
    denied = _ask(hub_stack, box, (_utc(from_us), _utc(to_us)), incident)
    assert len(_holds(box)) == 1
    with hub_stack.client(box.owner) as c:
        r = c.post(f"/api/footage-requests/{denied['request_id']}/decision",
                   json={"approve": False, "note": "that camera faces our stock room"})
    assert r.json()["status"] == "denied"
    eventually(lambda: _holds(box) == [], timeout=20, what="the hold released on denial")

    before = _utc(from_us) - dt.timedelta(hours=3)  # the box was not recording then
    never = _ask(hub_stack, box, (before, before + dt.timedelta(minutes=2)), incident)
    assert never["box_recorded_s"] == 0 and "nothing recorded" in never["reason"]
    with hub_stack.client(box.owner) as c:
        decide(c, never["request_id"], approve=True)
    failed = eventually(lambda: (r := _request(hub_stack, never["request_id"])).status == "failed" and r,
                        timeout=30, what="the box's failure reported")
    assert "nothing" in failed.clip_detail.lower() or "no recorded" in failed.clip_detail.lower(), failed.clip_detail
    eventually(lambda: _holds(box) == [], timeout=20, what="no hold left")
    with hub_stack.hub.db.session() as session:
        assert session.scalars(select(Clip)).all() == []
    actions = [(e.action, e.outcome) for e in _entries(hub_stack)]
    assert ("access.owner_decision", "denied") in actions and ("footage.failed", "failure") in actions


def _entries(hub_stack: HubStack) -> list[AuditEntry]:
    with hub_stack.hub.db.session() as session:
        return session.scalars(select(AuditEntry).order_by(AuditEntry.leaf_index)).all()


def test_an_approval_while_the_box_is_away_is_carried_out_when_it_returns(hub_stack: HubStack, cameras, edge,
                                                                         tmp_path: Path):
    box = _box(hub_stack, cameras, edge, tmp_path)
    from_us, to_us = _closed_window(box, 3)
    asked = _ask(hub_stack, box, (_utc(from_us), _utc(to_us)), _incident(hub_stack))
    box.agent.terminate()
    with hub_stack.client(box.owner) as c:
        r = decide(c, asked["request_id"], approve=True)
    assert r.json()["status"] == "approved" and "back online" in r.json()["reason"]
    assert _request(hub_stack, asked["request_id"]).clip_stage == "waiting"
    box.agent.start()
    try:
        eventually(lambda: _request(hub_stack, asked["request_id"]).status == "delivered", timeout=60,
                   what="the clip delivered after the box came back")
    except AssertionError:
        row = _request(hub_stack, asked["request_id"])
        raise AssertionError(f"{row.status} {row.clip_stage} {row.clip_detail}\n{box.agent.log_text()[-2500:]}")
    eventually(lambda: _holds(box) == [], timeout=30, what="the hold released")
