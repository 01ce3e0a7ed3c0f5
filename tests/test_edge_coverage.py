"""Coverage reports from the box: span merging (pure), and the reporter over a real index and a real outbox —
nothing lost and nothing repeated across restarts, failed writes, hub outages and days of backlog."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.link.outbox import Outbox
from edge.recording.coverage import MARK_PREFIX, CoverageReporter, Span, coverage_spans, moment
from edge.recording.index import SegmentIndex
from wire import messages as m

S = 1_000_000
NEVER = 2**63 - 1


# -- the pure merging -----------------------------------------------------------------------------------------


def test_neighbouring_segments_merge_into_one_recorded_span():
    segments = [(0, 60 * S), (60 * S, 120 * S), (120 * S + 400_000, 180 * S)]  # a 0.4 s hole is not a gap
    assert coverage_spans(segments, [], after_us=0, until_us=NEVER) == [Span(0, 180 * S, True)]


def test_a_gap_splits_the_recorded_spans_and_keeps_its_reason():
    segments = [(120 * S, 180 * S), (0, 60 * S)]  # any order
    gaps = [(60 * S, 120 * S, "connection refused")]
    assert coverage_spans(segments, gaps, after_us=0, until_us=NEVER) == [
        Span(0, 60 * S, True), Span(60 * S, 120 * S, False, "connection refused"), Span(120 * S, 180 * S, True)]


def test_a_hole_longer_than_the_gap_threshold_is_not_bridged():
    segments = [(0, 60 * S), (63 * S, 120 * S)]
    assert coverage_spans(segments, [], after_us=0, until_us=NEVER) == [Span(0, 60 * S, True),
                                                                       Span(63 * S, 120 * S, True)]


def test_only_what_ends_after_the_mark_and_by_the_limit_is_reported_and_it_is_cut_at_the_mark():
    segments = [(0, 60 * S), (60 * S, 120 * S), (120 * S, 180 * S), (180 * S, 240 * S)]
    assert coverage_spans(segments, [], after_us=90 * S, until_us=180 * S) == [Span(90 * S, 180 * S, True)]
    assert coverage_spans(segments, [], after_us=240 * S, until_us=NEVER) == []


def test_empty_and_reversed_pieces_are_dropped():
    assert coverage_spans([(5 * S, 5 * S)], [(9 * S, 3 * S, "x")], after_us=0, until_us=NEVER) == []


timeline = st.lists(st.tuples(st.integers(1, 90), st.sampled_from(["rec", "rec", "rec", "gap", "hole"])),
                    min_size=1, max_size=40)


def _build(pieces: list[tuple[int, str]]) -> tuple[list[tuple[int, int]], list[tuple[int, int, str]]]:
    segments, gaps, t = [], [], 0
    for length, kind in pieces:
        if kind == "rec":
            segments.append((t * S, (t + length) * S))
        elif kind == "gap":
            gaps.append((t * S, (t + length) * S, "offline"))
        t += length
    return segments, gaps


def _covered(spans: list[Span], recorded: bool) -> set[int]:
    return {second for span in spans if span.recorded == recorded
            for second in range(span.start_us // S, span.end_us // S)}


@given(timeline, st.lists(st.integers(0, 4000), max_size=6))
def test_reporting_in_steps_covers_exactly_what_one_report_covers_without_overlap(pieces, cuts):
    segments, gaps = _build(pieces)
    whole = coverage_spans(segments, gaps, after_us=0, until_us=NEVER)
    mark, parts = 0, []
    for until in sorted(cuts) + [NEVER]:
        spans = coverage_spans(segments, gaps, after_us=mark, until_us=until)
        parts += spans
        mark = max([mark] + [span.end_us for span in spans])
    for earlier, later in zip(parts, parts[1:]):
        assert earlier.end_us <= later.start_us  # nothing reported twice
    assert _covered(parts, True) == _covered(whole, True)
    assert _covered(parts, False) == _covered(whole, False)


# -- the reporter over a real index and outbox ---------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def index(tmp_path: Path) -> SegmentIndex:
    return SegmentIndex(tmp_path / "index.sqlite3")


@pytest.fixture
def outbox(tmp_path: Path) -> Outbox:
    box = Outbox(tmp_path / "outbox.sqlite3")
    yield box
    box.close()


def segment(index: SegmentIndex, camera: str, start_s: float, end_s: float | None) -> int:
    path = f"{camera}/{start_s}.mp4"
    if end_s is None:
        return index.open_segment(camera=camera, start_us=int(start_s * S), path=path)
    return index.add_segment(camera=camera, start_us=int(start_s * S), end_us=int(end_s * S), size=1, frames=1,
                             sha256="0" * 64, path=path, state="closed")


def gap(index: SegmentIndex, camera: str, start_s: float, end_s: float | None, reason: str) -> int:
    gap_id = index.open_gap(camera=camera, start_us=int(start_s * S), reason=reason)
    if end_s is not None:
        index.close_gap(gap_id, end_us=int(end_s * S))
    return gap_id


def sent(outbox: Outbox) -> list[m.Coverage]:
    return [m.decode(m.EventEnvelope, payload).body for _, payload in outbox.after(0, 100_000)]


def at(seconds: float) -> dt.datetime:
    return moment(int(seconds * S))


def test_closed_recording_is_reported_once_and_the_open_segment_waits(index, outbox):
    for i in range(3):
        segment(index, "front", i * 60, (i + 1) * 60)
    open_id = segment(index, "front", 180, None)
    reporter = CoverageReporter(index, ["front"], outbox.put, interval_s=60, monotonic=Clock())
    assert reporter.tick() == 1
    assert sent(outbox) == [m.Coverage(camera="front", start=at(0), end=at(180), recorded=True)]
    index.close_segment(open_id, end_us=240 * S, size=1, frames=1, sha256="0" * 64, path="front/180.mp4")
    reporter._due.clear()  # the interval has passed
    assert reporter.tick() == 1
    assert sent(outbox)[-1] == m.Coverage(camera="front", start=at(180), end=at(240), recorded=True)
    assert index.meta(MARK_PREFIX + "front") == 240 * S


def test_a_gap_is_reported_when_it_closes_with_its_reason(index, outbox):
    segment(index, "front", 0, 60)
    gap_id = gap(index, "front", 60, None, "camera unreachable")
    reporter = CoverageReporter(index, ["front"], outbox.put, interval_s=60, monotonic=Clock())
    reporter.tick()
    assert [(c.recorded, c.end) for c in sent(outbox)] == [(True, at(60))]
    index.close_gap(gap_id, end_us=300 * S)
    segment(index, "front", 300, 360)
    reporter._due.clear()
    reporter.tick()
    assert sent(outbox)[1:] == [
        m.Coverage(camera="front", start=at(60), end=at(300), recorded=False, reason="camera unreachable"),
        m.Coverage(camera="front", start=at(300), end=at(360), recorded=True)]


def test_each_camera_is_reported_at_most_once_per_interval(index, outbox):
    clock = Clock()
    reporter = CoverageReporter(index, ["front", "back"], outbox.put, interval_s=60, monotonic=clock)
    segment(index, "front", 0, 60)
    segment(index, "back", 0, 60)
    assert reporter.tick() == 2
    segment(index, "front", 60, 120)
    clock.now += 59
    assert reporter.tick() == 0
    clock.now += 1
    assert reporter.tick() == 1


def test_a_restarted_reporter_continues_from_its_mark_without_repeats(tmp_path, index, outbox):
    for i in range(3):
        segment(index, "front", i * 60, (i + 1) * 60)
    CoverageReporter(index, ["front"], outbox.put, interval_s=60).tick()
    index.close()
    index = SegmentIndex(tmp_path / "index.sqlite3")  # the agent restarts
    gap(index, "front", 180, 200, "not recording")
    segment(index, "front", 200, 260)
    CoverageReporter(index, ["front"], outbox.put, interval_s=60).tick()
    assert [(c.start, c.end, c.recorded) for c in sent(outbox)] == [
        (at(0), at(180), True), (at(180), at(200), False), (at(200), at(260), True)]
    index.close()


def test_a_failed_outbox_write_moves_no_mark_and_the_spans_go_next_time(index, outbox):
    segment(index, "front", 0, 60)
    clock = Clock()
    failing = True

    def publish(body: m.EventBody) -> None:
        if failing:
            raise OSError("disk full")
        outbox.put(body)

    reporter = CoverageReporter(index, ["front"], publish, interval_s=60, monotonic=clock)
    assert reporter.tick() == 0
    assert index.meta(MARK_PREFIX + "front") is None and sent(outbox) == []
    failing = False
    clock.now += 60
    assert reporter.tick() == 1
    assert [(c.start, c.end) for c in sent(outbox)] == [(at(0), at(60))]


def test_events_wait_in_the_outbox_through_a_hub_outage(index, outbox):
    """The hub acknowledges nothing for a while: the spans stay queued in order and none is sent twice."""
    clock = Clock()
    reporter = CoverageReporter(index, ["front"], outbox.put, interval_s=60, monotonic=clock)
    for i in range(10):
        segment(index, "front", i * 60, (i + 1) * 60 - 5)  # 5 s holes: separate spans
        reporter.tick()
        clock.now += 60
    spans = sent(outbox)
    assert len(spans) == 10 and len(outbox) == 10
    assert [c.start for c in spans] == [at(i * 60) for i in range(10)]


def test_a_box_enrolled_after_days_reports_its_past_in_bounded_batches(index, outbox):
    clock = Clock()
    for i in range(100):  # 100 minutes of segments with a gap every 25
        if i % 25 == 24:
            gap(index, "front", i * 60, (i + 1) * 60, "camera offline")
        else:
            segment(index, "front", i * 60, (i + 1) * 60)
    reporter = CoverageReporter(index, ["front"], outbox.put, interval_s=3600, batch=10, monotonic=clock)
    ticks = 0
    while reporter.tick():
        ticks += 1
        assert ticks < 50
    assert ticks >= 8  # bounded: 10 segments at a time, and the next batch at the next tick, not an hour later
    spans = sent(outbox)
    for earlier, later in zip(spans, spans[1:]):
        assert earlier.end <= later.start
    recorded = sum((c.end - c.start).total_seconds() for c in spans if c.recorded)
    assert recorded == 96 * 60
    assert [c.start for c in spans if not c.recorded] == [at(i * 60) for i in (24, 49, 74, 99)]


class MarkFailsOnce(SegmentIndex):
    """An index whose first high-water mark write fails, as if the agent died between outbox and mark."""

    failed = False

    def set_meta(self, key: str, value: int) -> None:
        if key.startswith(MARK_PREFIX) and not self.failed:
            self.failed = True
            raise OSError("power cut")
        super().set_meta(key, value)


def test_a_crash_between_outbox_and_mark_sends_the_spans_again_and_loses_none(tmp_path, outbox):
    """At least once: the hub merges the repeat into what it has (tests/test_canvass.py shows it)."""
    index = MarkFailsOnce(tmp_path / "index.sqlite3")
    segment(index, "front", 0, 60)
    clock = Clock()
    reporter = CoverageReporter(index, ["front"], outbox.put, interval_s=60, monotonic=clock)
    reporter.tick()
    segment(index, "front", 60, 120)
    clock.now += 60
    reporter.tick()
    assert [(c.start, c.end) for c in sent(outbox)] == [(at(0), at(60)), (at(0), at(120))]
    assert index.meta(MARK_PREFIX + "front") == 120 * S
    index.close()
