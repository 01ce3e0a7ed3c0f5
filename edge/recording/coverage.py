"""Coverage reports: which spans of each camera's timeline were recorded, and which were gaps and why.

The hub answers "which cameras were recording near here, then?" from these reports without asking the boxes.

- `coverage_spans` (pure) turns closed segments and gaps into spans: neighbouring segments (a hole of up to
  the recorder's gap threshold between them) merge into one recorded span; each closed gap is a span of its
  own with the index's reason.
- `CoverageReporter.tick` (blocking: the maintenance loop runs it in a thread) sends each camera's new spans
  as `wire.messages.Coverage` events through the durable outbox, at most every `interval_s` per camera, then
  moves the camera's high-water mark in the index's meta table. The mark moves only after the outbox has the
  spans, so a crash in between re-sends them (the hub merges repeats) and nothing is lost; a hub outage
  only leaves the events waiting in the outbox. A box enrolled after days of recording starts from the mark
  0 and reports its past a bounded batch at a time, tick after tick.

Only what has closed is reported: nothing at or after the start of a camera's open segment or open gap.
Recording never waits for any of this; the reporter only reads the index and writes one meta row.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from edge.recording.index import Gap, Segment, SegmentIndex
from edge.recording.recorder import GAP_THRESHOLD_US
from wire import messages as wire

logger = logging.getLogger(__name__)

#: Neighbouring segments this close (or overlapping) are one recorded span: the recorder does not call a
#: shorter hole a gap.
JOIN_US = GAP_THRESHOLD_US
#: Segments (and gaps) read per camera per tick: a box reporting days of past recording does it in steps.
BATCH = 2000
MARK_PREFIX = "coverage_reported_us:"
_NEVER = 2**63 - 1
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


@dataclass(frozen=True, slots=True)
class Span:
    """A closed piece of one camera's timeline, [start_us, end_us): recorded, or a gap with its reason."""

    start_us: int
    end_us: int
    recorded: bool
    reason: str = ""


def coverage_spans(segments: Iterable[tuple[int, int]], gaps: Iterable[tuple[int, int, str]], *, after_us: int,
                   until_us: int, join_us: int = JOIN_US) -> list[Span]:
    """The spans of a camera's timeline that end in (after_us, until_us], oldest first.

    `segments` are (start, end) of closed segments, `gaps` (start, end, reason) of closed gaps, in any order.
    What began before `after_us` (already reported) is cut there; segments at most `join_us` apart merge."""
    items = [Span(max(start, after_us), end, True) for start, end in segments if after_us < end <= until_us]
    items += [Span(max(start, after_us), end, False, reason) for start, end, reason in gaps
              if after_us < end <= until_us]
    spans: list[Span] = []
    for item in sorted(items, key=lambda span: (span.start_us, span.end_us)):
        if item.end_us <= item.start_us:
            continue
        last = spans[-1] if spans else None
        if last is not None and last.recorded and item.recorded and item.start_us - last.end_us <= join_us:
            spans[-1] = Span(last.start_us, max(last.end_us, item.end_us), True)
        else:
            spans.append(item)
    return spans


def report_until(*, open_since: int | None, segments: list[Segment], gaps: list[Gap], batch: int) -> int:
    """How far a camera's timeline may be reported now: not into what is still open, nor past the end of a
    batch that was cut short (what comes after it was not read)."""
    until = _NEVER if open_since is None else open_since
    if len(segments) >= batch:
        until = min(until, segments[-1].end_us or until)
    if len(gaps) >= batch:
        until = min(until, gaps[-1].end_us or until)
    return until


def moment(us: int) -> dt.datetime:
    """Epoch microseconds as an aware UTC datetime (exact: no float on the way)."""
    return _EPOCH + dt.timedelta(microseconds=us)


def coverage_event(camera: str, span: Span) -> wire.Coverage:
    return wire.Coverage(camera=camera, start=moment(span.start_us), end=moment(span.end_us),
                         recorded=span.recorded, reason=span.reason[:200])


class CoverageReporter:
    """Reports the closed coverage of `cameras` through `publish` (the link's outbox: raises if it cannot
    store the event, and then the mark stays where it was and the camera is tried again next tick)."""

    def __init__(self, index: SegmentIndex, cameras: list[str], publish: Callable[[wire.EventBody], object], *,
                 interval_s: float, batch: int = BATCH, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._index = index
        self._cameras = list(cameras)
        self._publish = publish
        self._interval_s = interval_s
        self._batch = batch
        self._monotonic = monotonic
        self._due: dict[str, float] = {}
        self._failing: set[str] = set()

    def tick(self) -> int:
        """One pass over the cameras that are due; returns how many spans were queued for the hub."""
        sent = 0
        for camera in self._cameras:
            now = self._monotonic()
            if now < self._due.get(camera, 0.0):
                continue
            try:
                count, more = self.report(camera)
            except Exception:  # the index or the outbox failed: the mark has not moved, nothing is lost
                level = logging.DEBUG if camera in self._failing else logging.WARNING
                logger.log(level, "camera %s: coverage not reported this time", camera, exc_info=True)
                self._failing.add(camera)
                self._due[camera] = now + self._interval_s
                continue
            self._failing.discard(camera)
            sent += count
            # A batch cut short: the rest of the camera's past goes next tick, not an interval later.
            self._due[camera] = now if more else now + self._interval_s
        return sent

    def report(self, camera: str) -> tuple[int, bool]:
        """Queue `camera`'s spans closed since its mark and move the mark; (spans sent, whether more wait)."""
        key = MARK_PREFIX + camera
        mark = self._index.meta(key) or 0
        segments = self._index.closed_segments_after(camera, after_us=mark, limit=self._batch)
        gaps = self._index.closed_gaps_after(camera, after_us=mark, limit=self._batch)
        until = report_until(open_since=self._index.open_since(camera), segments=segments, gaps=gaps,
                             batch=self._batch)
        spans = coverage_spans([(s.start_us, s.end_us) for s in segments if s.end_us is not None],
                               [(g.start_us, g.end_us, g.reason) for g in gaps if g.end_us is not None],
                               after_us=mark, until_us=until)
        for span in spans:
            self._publish(coverage_event(camera, span))
        if spans:
            self._index.set_meta(key, max(span.end_us for span in spans))
        more = len(segments) >= self._batch or len(gaps) >= self._batch
        return len(spans), more and bool(spans)
