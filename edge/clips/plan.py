"""What a clip is made of, decided on plain data: which segments, which gaps, and what to say when there is
nothing. No I/O here; `edge.clips.cut` reads the files.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from edge.errors import ClipError, StillRecording
from edge.recording.index import Gap, Segment

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


@dataclass(frozen=True, slots=True)
class ClipGap:
    """A stretch inside the clip's actual window with no video, and why (the index's reason, or why a
    recorded segment could not be used)."""

    start_us: int
    end_us: int
    reason: str


@dataclass(frozen=True, slots=True)
class UsedSegment:
    """A recorded segment the clip took frames from, with the hash and size the recorder noted at close."""

    path: str
    start_us: int
    end_us: int
    sha256: str
    bytes: int


def to_datetime(us: int) -> dt.datetime:
    """Epoch microseconds as an aware UTC datetime, exactly (no float rounding)."""
    return EPOCH + dt.timedelta(microseconds=us)


def to_us(when: dt.datetime) -> int:
    """An aware datetime as epoch microseconds, exactly."""
    if when.tzinfo is None:
        raise ClipError(f"time {when.isoformat()} has no time zone")
    delta = when - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def iso(us: int) -> str:
    return to_datetime(us).isoformat().replace("+00:00", "Z")


def check_window(from_us: int, to_us: int) -> None:
    if to_us <= from_us:
        raise ClipError(f"the window ends ({iso(to_us)}) at or before it starts ({iso(from_us)})")


def closed_segments(segments: Sequence[Segment], *, to_us: int) -> list[Segment]:
    """The segments to cut from (those the index lists for the window, oldest first).

    A window that reaches into the segment still being written is refused (StillRecording): its hash is
    known only when it closes, and the manifest lists each source segment's hash as recorded at close."""
    for segment in segments:
        if segment.state == "open" and segment.start_us < to_us:
            raise StillRecording(
                f"the window reaches into footage still being recorded (the segment that began at "
                f"{iso(segment.start_us)} is being written); export it once that segment has closed",
                open_since_us=segment.start_us)
    return [s for s in segments if s.state != "open"]


def used(segment: Segment) -> UsedSegment:
    assert segment.end_us is not None and segment.sha256 is not None, "a closed segment has an end and a hash"
    return UsedSegment(segment.path, segment.start_us, segment.end_us, segment.sha256, segment.bytes)


def gaps_inside(gaps: Iterable[Gap | ClipGap], *, from_us: int, to_us: int) -> tuple[ClipGap, ...]:
    """The gaps overlapping [from_us, to_us), cut to it, oldest first (a gap still open runs to `to_us`)."""
    inside = []
    for gap in gaps:
        start, end = max(gap.start_us, from_us), min(to_us if gap.end_us is None else gap.end_us, to_us)
        if start < end:
            inside.append(ClipGap(start, end, gap.reason))
    return tuple(sorted(inside, key=lambda g: (g.start_us, g.end_us)))


def nothing_recorded(camera: str, from_us: int, to_us: int, before: Segment | None, after: Segment | None) -> str:
    """Why a window has no clip, with what was recorded nearest it."""
    text = f"nothing of camera {camera} is recorded from {iso(from_us)} to {iso(to_us)}"
    if before is None and after is None:
        return f"{text}; the camera has no recordings at all"
    nearest = []
    if before is not None:
        ended = before.end_us if before.end_us is not None else before.start_us
        nearest.append(f"the last recording before it ended at {iso(ended)}")
    if after is not None:
        nearest.append(f"recording resumed at {iso(after.start_us)}")
    return f"{text}; {' and '.join(nearest)}"
