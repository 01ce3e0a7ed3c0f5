"""Recording never stops for a full disk: a real budget, a real ENOSPC."""

from __future__ import annotations

import sqlite3
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from edge.recording.storage import sha256_file
from tests.edge_support import decode_all, wait_for

MB = 1 << 20


def test_small_budget_evicts_oldest_keeps_held_and_recording_goes_on(cameras, edge):
    sim = cameras(1)
    agent = edge(sim.urls, segment_seconds=3, max_bytes=4 * MB, retention_check_seconds=1)
    first = wait_for(lambda: agent.closed_segments("cam1"), timeout=60, what="a first segment")[0]
    from edge.recording.index import SegmentIndex

    writer = SegmentIndex(agent.data_dir / "index.sqlite3")  # as the hub's hold request will
    writer.add_hold(camera="cam1", start_us=first.start_us, end_us=first.end_us, reason="footage request 1")
    writer.close()
    # The budget holds about three 3-second segments, so "eight more" means eight more recorded, not kept.
    wait_for(lambda: agent.segments("cam1")[-1].start_us >= first.start_us + 8 * 3_000_000, timeout=120,
             what="eight more segments recorded")  # fmt: skip
    time.sleep(1.5)  # one more retention pass
    segments = agent.segments("cam1")
    closed = [s for s in segments if s.state != "open"]
    assert segments[0].id == first.id and agent.path(first).exists(), "the held segment stays"
    assert sum(s.bytes for s in closed) <= 4 * MB + max(s.bytes for s in closed), "budget kept (one pass behind)"
    starts = [s.start_us for s in segments[1:]]
    assert starts == sorted(starts) and segments[1].start_us > first.end_us + 9_000_000, "oldest unheld went first"
    newest = segments[-1]
    assert time.time() * 1e6 - newest.start_us < 10_000_000, "still recording"
    assert agent.terminate() == 0


@pytest.fixture
def tiny_volume(tmp_path: Path):
    mount_point = tmp_path / f"tiny-{uuid.uuid4().hex[:6]}"
    mount_point.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=9m", "tmpfs", str(mount_point)], capture_output=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.decode().strip()}")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_real_enospc_is_survived_without_a_corrupt_index(cameras, edge, tiny_volume: Path):
    sim = cameras(1)
    # The whole data dir (segments and index) on a 9 MB filesystem, no budget set.
    agent = edge(sim.urls, data_dir=tiny_volume / "data", segment_seconds=3, retention_check_seconds=30)
    wait_for(lambda: "write failed" in agent.log_text(), timeout=90, what="the disk to fill")
    filled_at_us = time.time() * 1e6
    wait_for(lambda: [s for s in agent.closed_segments("cam1") if s.start_us > filled_at_us], timeout=60,
             what="segments recorded after the disk filled")  # fmt: skip
    wait_for(lambda: agent.log_text().count("write failed") >= 2 or time.time() * 1e6 - filled_at_us > 25e6,
             timeout=40, what="more of the same")  # fmt: skip
    assert agent.terminate() == 0

    db = sqlite3.connect(agent.data_dir / "index.sqlite3")
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    db.close()
    closed = agent.closed_segments("cam1")
    assert closed and closed[-1].start_us > filled_at_us
    for segment in closed:
        path = agent.path(segment)
        assert sha256_file(path) == segment.sha256
        assert decode_all(path) == segment.frames
    assert "recording again after a write failure" in agent.log_text()
