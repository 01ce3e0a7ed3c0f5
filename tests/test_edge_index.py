"""The SQLite segment index: range queries, holds, gaps, alarms, failure safety."""

import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.errors import SegmentIndexError
from edge.recording.index import SegmentIndex

S = 1_000_000


@pytest.fixture
def index(tmp_path: Path) -> SegmentIndex:
    return SegmentIndex(tmp_path / "index.sqlite3")


def _add(index: SegmentIndex, camera: str, start: int, end: int | None, size: int = 100) -> int:
    path = f"{camera}/{start}.mp4"
    if end is None:
        return index.open_segment(camera=camera, start_us=start, path=path)
    return index.add_segment(
        camera=camera, start_us=start, end_us=end, size=size, frames=1, sha256="0" * 64, path=path, state="closed"
    )


def test_index_uses_wal(index: SegmentIndex):
    (mode,) = sqlite3.connect(index.path).execute("PRAGMA journal_mode").fetchone()
    assert mode == "wal"


segments_strategy = st.lists(
    st.tuples(st.sampled_from(["a", "b"]), st.integers(0, 500), st.integers(1, 90), st.booleans()),
    max_size=40,
    unique_by=lambda t: (t[0], t[1]),
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(segments_strategy, st.integers(-100, 600), st.integers(0, 300))
def test_range_query_matches_a_naive_scan(tmp_path_factory, rows, start, length):
    index = SegmentIndex(tmp_path_factory.mktemp("ix") / "i.sqlite3")
    for camera, begin, duration, is_open in rows:
        _add(index, camera, begin * S, None if is_open else (begin + duration) * S)
    lo, hi = start * S, (start + length) * S
    expected = sorted(
        begin * S
        for camera, begin, duration, is_open in rows
        if camera == "a" and begin * S < hi and (is_open or (begin + duration) * S > lo)
    )
    assert [s.start_us for s in index.segments("a", from_us=lo, to_us=hi)] == expected


def test_holds_protect_overlapping_segments_until_they_expire(index: SegmentIndex):
    for i in range(5):
        _add(index, "a", i * 60 * S, (i + 1) * 60 * S)
    index.add_hold(camera="a", start_us=70 * S, end_us=130 * S, reason="request 7", expires_us=1000 * S)
    unheld = [s.start_us // S for s in index.oldest_unheld(now_us=500 * S, limit=10)]
    assert unheld == [0, 180, 240]
    assert index.held_bytes(now_us=500 * S) == 200
    after_expiry = [s.start_us // S for s in index.oldest_unheld(now_us=1000 * S, limit=10)]
    assert after_expiry == [0, 60, 120, 180, 240]


def test_hold_on_another_camera_does_not_protect(index: SegmentIndex):
    _add(index, "a", 0, 60 * S)
    index.add_hold(camera="b", start_us=0, end_us=60 * S, reason="x")
    assert len(index.oldest_unheld(now_us=0, limit=10)) == 1


def test_expired_skips_open_and_held_segments(index: SegmentIndex):
    _add(index, "a", 0, 60 * S)
    _add(index, "a", 60 * S, 120 * S)
    _add(index, "a", 120 * S, None)
    index.add_hold(camera="a", start_us=61 * S, end_us=62 * S, reason="x")
    expired = index.expired(camera="a", cutoff_us=10_000 * S, now_us=0, limit=10)
    assert [s.start_us for s in expired] == [0]


def test_gaps_open_and_close(index: SegmentIndex):
    gap = index.open_gap(camera="a", start_us=10 * S, reason="camera closed the stream")
    assert [g.id for g in index.open_gaps()] == [gap]
    index.close_gap(gap, end_us=20 * S)
    assert index.open_gaps() == []
    assert [(g.start_us, g.end_us) for g in index.gaps("a", from_us=15 * S, to_us=16 * S)] == [(10 * S, 20 * S)]


def test_a_segment_that_ends_a_gap_closes_it_in_the_same_write(index: SegmentIndex):
    """Recording resumes: the new segment's row and the gap's end are one transaction, so a reader never sees the
    segment beside a gap still open; a segment that could not be written reopens the gap."""
    gap = index.open_gap(camera="cam1", start_us=1_000, reason="camera closed the stream")
    segment = index.open_segment(camera="cam1", start_us=5_000, path="cam1/x.mp4.part", ends_gap=gap)
    (closed,) = index.gaps("cam1")
    assert closed.end_us == 5_000 and index.open_gaps() == []
    index.delete_segments([segment])
    index.reopen_gap(gap)
    assert [g.id for g in index.open_gaps()] == [gap]


def test_alarm_keeps_its_first_time(index: SegmentIndex):
    index.raise_alarm(key="k", level="warning", message="first", since_us=1)
    index.raise_alarm(key="k", level="critical", message="second", since_us=2)
    (alarm,) = index.alarms()
    assert (alarm.level, alarm.message, alarm.since_us) == ("critical", "second", 1)
    index.clear_alarm("k")
    assert index.alarms() == []


def test_failed_write_leaves_stored_rows_intact(index: SegmentIndex):
    _add(index, "a", 0, 60 * S)
    with pytest.raises(SegmentIndexError):
        _add(index, "a", 0, 60 * S)  # same path: UNIQUE violation
    assert len(index.segments("a")) == 1


def test_newer_schema_is_refused(tmp_path: Path):
    path = tmp_path / "i.sqlite3"
    SegmentIndex(path).close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(SegmentIndexError, match="newer than this agent"):
        SegmentIndex(path)
