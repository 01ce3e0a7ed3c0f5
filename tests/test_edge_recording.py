"""The recorder against real simulated RTSP cameras and real files.

Each test runs `canvass-edge run` as its own process, so SIGKILL and
SIGTERM are real; the index is read from SQLite like `canvass-edge` does.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from edge.recording.storage import sha256_file
from tests.edge_support import decode_all, wait_for

FRAME_US = 1_000_000 // 15
S = 1_000_000


def _now_us() -> int:
    return int(time.time() * S)


@pytest.mark.slow
def test_four_cameras_record_contiguous_decodable_segments(cameras, edge):
    sim = cameras(4)
    agent = edge(sim.urls, segment_seconds=10)
    wait_for(lambda: all(len(agent.closed_segments(f"cam{n}")) >= 12 for n in range(1, 5)), timeout=240,
             what="12 closed segments per camera")  # fmt: skip
    assert agent.terminate() == 0
    assert not list(agent.data_dir.rglob("*.part")), "a graceful stop closes every segment"

    for n in range(1, 5):
        segments = agent.segments(f"cam{n}")
        assert all(s.state == "closed" for s in segments)
        for previous, current in zip(segments, segments[1:]):
            assert abs(current.start_us - previous.end_us) < FRAME_US, "segments must be contiguous"
        for segment in segments[:-1]:
            duration = segment.end_us - segment.start_us
            assert 10 * S - FRAME_US <= duration <= 11 * S + FRAME_US, "cut at the first keyframe past 10 s"
        for segment in segments:
            path = agent.path(segment)
            assert sha256_file(path) == segment.sha256
            assert decode_all(path) == segment.frames
            assert abs(segment.frames * FRAME_US - (segment.end_us - segment.start_us)) <= 2 * FRAME_US


def test_sigkill_mid_segment_loses_at_most_one_frame_and_recovers(cameras, edge):
    sim = cameras(1)
    agent = edge(sim.urls, segment_seconds=10)
    first = wait_for(lambda: agent.closed_segments("cam1"), timeout=60, what="a closed segment")[0]
    wait_for(lambda: _now_us() > first.end_us + 5 * S, timeout=30, what="half a segment")
    killed_us = _now_us()
    agent.kill()
    partial = [s for s in agent.segments("cam1") if s.state == "open"]
    assert len(partial) == 1 and partial[0].path.endswith(".part")

    agent.start()
    wait_for(lambda: len(agent.closed_segments("cam1")) >= 2 and any(s.state == "open" for s in agent.segments("cam1")),
             timeout=60, what="recording to resume")  # fmt: skip
    assert agent.terminate() == 0

    recovered = next(s for s in agent.segments("cam1") if s.id == partial[0].id)
    assert recovered.state == "recovered"
    assert not recovered.path.endswith(".part")
    path = agent.path(recovered)
    assert sha256_file(path) == recovered.sha256
    assert decode_all(path) == recovered.frames
    # Every frame that reached the agent before the kill is on disk, bar at most
    # one (plus 50 ms for frames still in flight from the camera).
    assert recovered.end_us >= killed_us - FRAME_US - 50_000
    after = [s for s in agent.segments("cam1") if s.start_us > recovered.start_us]
    assert after, "recording resumed after the restart"
    gaps = agent.index().gaps("cam1")
    assert any(g.start_us == recovered.end_us and g.end_us == after[0].start_us for g in gaps)


def test_camera_restart_records_a_gap_and_resumes_within_5_s(cameras, edge):
    sim = cameras(1)
    agent = edge(sim.urls, segment_seconds=10)
    wait_for(lambda: agent.segments("cam1"), timeout=60, what="recording")
    time.sleep(2)
    sim.stop()
    stopped_us = _now_us()
    wait_for(lambda: agent.index().open_gaps(), timeout=10, what="the gap to be noticed")
    time.sleep(3)
    sim.start()
    back_us = _now_us()
    resumed = wait_for(lambda: [s for s in agent.segments("cam1") if s.start_us > stopped_us], timeout=30,
                       what="a segment after the camera returned")[0]  # fmt: skip
    assert resumed.start_us - back_us <= 5 * S
    (gap,) = agent.index().gaps("cam1")
    assert stopped_us - S <= gap.start_us <= stopped_us + FRAME_US  # the end of the last frame received
    assert gap.end_us == resumed.start_us
    status = json.loads(agent.cli("status", "--json").stdout)
    assert status["cameras"][0]["state"] == "online" and status["cameras"][0]["recording"]
    assert agent.terminate() == 0
    assert "camera cam1" in agent.log_text() and "reconnecting" in agent.log_text()


def test_frozen_camera_is_detected_within_10_s_and_recording_resumes(cameras, edge):
    sim = cameras(1)
    agent = edge(sim.urls, segment_seconds=10)
    wait_for(lambda: agent.segments("cam1"), timeout=60, what="recording")
    time.sleep(1)
    sim.freeze()
    frozen_at = time.monotonic()
    wait_for(lambda: agent.index().open_gaps(), timeout=15, interval=0.1, what="the frozen camera to be noticed")
    detected_after = time.monotonic() - frozen_at
    print(f"frozen camera noticed after {detected_after:.1f} s")
    assert detected_after <= 10, f"frozen camera noticed after {detected_after:.1f} s"
    sim.thaw()
    thawed_us = _now_us()
    wait_for(lambda: [s for s in agent.segments("cam1") if s.start_us > thawed_us], timeout=30, what="recording again")
    assert agent.terminate() == 0


def test_camera_with_sps_pps_only_in_the_sdp_records_decodable_segments(cameras, edge):
    sim = cameras(1, params_in_sdp=True)
    agent = edge(sim.urls, segment_seconds=4)
    wait_for(lambda: len(agent.closed_segments("cam1")) >= 2, timeout=60, what="two segments")
    assert agent.terminate() == 0
    for segment in agent.segments("cam1"):
        assert decode_all(agent.path(segment)) == segment.frames > 0


def test_segments_command_lists_paths_times_and_hashes(cameras, edge):
    sim = cameras(1)
    agent = edge(sim.urls, segment_seconds=3)
    wait_for(lambda: len(agent.closed_segments("cam1")) >= 2, timeout=60, what="two segments")
    assert agent.terminate() == 0
    listed = json.loads(agent.cli("segments", "--camera", "cam1", "--json").stdout)
    assert len(listed) == len(agent.segments("cam1"))
    for item in listed:
        assert {"path", "start", "end", "sha256"} <= item.keys()
        assert sha256_file(Path(item["path"])) == item["sha256"]
    middle = listed[1]
    ranged = json.loads(agent.cli("segments", "--camera", "cam1", "--from", middle["start"], "--to", middle["end"], "--json").stdout)
    assert [r["path"] for r in ranged] == [middle["path"]]
    bad = agent.cli("segments", "--camera", "nope", "--json")
    assert bad.returncode == 2 and "no camera named 'nope'" in bad.stderr
