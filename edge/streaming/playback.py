"""Playback from the box's own buffer: recorded frames read back and sent as they were stored.

`Footage` walks a camera's segments from a moment T, oldest first, through
segment boundaries, gaps and the segment still being written; it starts at the
keyframe at or before T (fMP4 seeks land there exactly) and hands out Annex B
frames (`h264_mp4toannexb`: MP4 keeps NAL units length-prefixed and SPS/PPS in
the header, WebRTC wants start codes and SPS/PPS in front of keyframes). It is
blocking I/O and runs in a worker thread.

`Pacer` decides when each frame goes out: frames before T (from the keyframe
up to T) quickly, then at recorded pace times the speed; a gap in the
recording is skipped, not waited through; pause, speed and seek re-anchor it.
It is pure (it is given the time) and tested directly.

`PlaybackTrack` joins them for aiortc: passthrough `av.Packet`s on a 90 kHz
clock that follows the wall clock of sending, so the receiver's jitter buffer
sees a normal live stream whatever the speed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av.bitstream import BitStreamFilterContext

from edge.recording.index import Segment, SegmentIndex
from edge.recording.reading import open_recorded, recorded_packets
from edge.streaming.tracks import CLOCK, TIME_BASE, ReplayGate

log = logging.getLogger(__name__)

PRE_ROLL_PACE_S = 0.012  # frames between the keyframe and T: decodable, not worth waiting for
GAP_S = 0.5  # a segment starting this long after the previous one ended follows a gap: skipped, not waited
BEHIND_S = 0.5  # a frame this late (the reader waited for the recorder) re-anchors instead of bursting
LIVE_EDGE_WAIT_S = 0.5  # how often to look again when playback has caught up with the recorder (a reopen
# of a segment being written scans its fragments: ~70 ms for 60 s of 1080p)
KEYFRAMES_ONLY_ABOVE = 4.0  # faster than this only keyframes go out (a fast scan, not a flood of P-frames)
SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)


@dataclass(frozen=True, slots=True)
class Frame:
    """One recorded frame in Annex B, with the wall-clock time it was recorded at."""

    data: bytes
    at_us: int
    keyframe: bool
    after_gap: bool = False  # the first frame after a stretch with no recording


class Waiting:
    """Nothing recorded yet past the last frame: playback has reached the recorder (or a running gap)."""


WAITING = Waiting()


class Footage:
    """A camera's recorded frames from `start_us` to `end_us`, read from its segments in order."""

    def __init__(self, index: SegmentIndex, recordings: Path, camera: str, *, start_us: int, end_us: int) -> None:
        self.index = index
        self.recordings = recordings
        self.camera = camera
        self.start_us = start_us
        self.end_us = end_us
        self.last_us: int | None = None  # the last frame handed out
        self._gap_before = False

    def starting_at(self, start_us: int) -> Footage:
        """The same camera and window end, read from `start_us` instead (a seek)."""
        return Footage(self.index, self.recordings, self.camera, start_us=start_us, end_us=self.end_us)

    def recorded(self) -> bool:
        """Whether anything of the camera is recorded between start and end."""
        return bool(self.index.segments(self.camera, from_us=self.start_us, to_us=self.end_us))

    def frames(self) -> Iterator[Frame | Waiting]:
        """Frames in recorded order; `WAITING` when there is nothing more yet; stops at `end_us`.

        A segment still being written is read again (from after the last frame) until the recorder
        closes it; that reopening is why `WAITING` comes only when a read found nothing new.
        """
        segment = self._segment_at(self.start_us)
        while True:
            if segment is None:
                if self._recorded_beyond_end():
                    return
                yield WAITING
                segment = self._next_segment(None)
                self._gap_before = segment is not None and self.last_us is not None \
                    and segment.start_us - self.last_us > GAP_S * 1_000_000
                continue
            fresh = self.index.segment(segment.id)  # its path changes when the recorder closes it
            if fresh is None:  # removed by retention while queued: go on with what follows
                segment = self._next_segment(segment)
                continue
            new = 0
            for frame in self._read(fresh):
                if frame.at_us >= self.end_us:
                    return
                new += 1
                yield frame
            if fresh.state == "open":
                if not new:
                    yield WAITING
                continue
            following = self._next_segment(fresh)
            ended_us = fresh.end_us or self.last_us
            self._gap_before = following is not None and ended_us is not None \
                and following.start_us - ended_us > GAP_S * 1_000_000
            segment = following

    def _segment_at(self, at_us: int) -> Segment | None:
        candidates = self.index.segments(self.camera, from_us=at_us, to_us=self.end_us)
        return candidates[0] if candidates else None

    def _next_segment(self, after: Segment | None) -> Segment | None:
        since = self.start_us if self.last_us is None else self.last_us + 1
        for candidate in self.index.segments(self.camera, from_us=since, to_us=self.end_us):
            if after is None or candidate.start_us > after.start_us:
                return candidate
        return None

    def _recorded_beyond_end(self) -> bool:
        """True once the recorder has passed `end_us`: nothing more will ever come inside the window."""
        _, newest = self.index.span(self.camera)
        return newest is not None and newest >= self.end_us

    def _read(self, segment: Segment) -> Iterator[Frame]:
        """The segment's frames after `last_us` (or from the keyframe at or before `start_us`)."""
        try:
            container = open_recorded(self.recordings / segment.path)
        except (OSError, av.FFmpegError) as exc:
            log.warning("playback of %s skips segment %s: %s", self.camera, segment.path, exc)
            return
        with container:
            annexb = BitStreamFilterContext("h264_mp4toannexb", in_stream=container.streams.video[0])
            target = self.start_us if self.last_us is None else self.last_us + 1
            try:
                for packet, at_us in recorded_packets(container, segment, target, reader=f"playback of {self.camera}"):
                    if self.last_us is not None and at_us <= self.last_us:
                        continue
                    keyframe = packet.is_keyframe
                    for out in annexb.filter(packet):
                        self.last_us = at_us
                        after_gap, self._gap_before = self._gap_before, False
                        yield Frame(bytes(out), at_us, keyframe, after_gap)
            except av.FFmpegError as exc:  # the filter refused a frame of a damaged file
                log.debug("playback of %s stops reading %s: %s", self.camera, segment.path, exc)


def footage_reader(index: SegmentIndex, recordings: Path) -> Callable[[str, int, int], Footage]:
    """The streamer's `footage_for` on this box: a camera's recorded frames from start_us to end_us."""

    def footage_for(camera: str, start_us: int, end_us: int) -> Footage:
        return Footage(index, recordings, camera, start_us=start_us, end_us=end_us)

    return footage_for


class Pacer:
    """When each frame should go out (monotonic seconds), given pause, speed, seeks and gaps.

    The first frame goes at once; frames before the target (pre-roll from the keyframe) every
    `PRE_ROLL_PACE_S`; from the target on, at recorded pace divided by the speed, anchored at the first
    frame sent after a start, seek, resume, speed change or gap, and re-anchored when sending fell
    `BEHIND_S` behind (the reader waited for the recorder) instead of bursting to catch up.
    """

    def __init__(self, target_us: int, speed: float = 1.0) -> None:
        self.target_us = target_us
        self.speed = speed
        self.paused = False
        self._anchor: tuple[float, int] | None = None  # (release time, recorded time)
        self._last_release: float | None = None

    def due(self, at_us: int, now: float, *, after_gap: bool = False) -> float:
        """When the frame recorded at `at_us` should go out (now or later)."""
        if self._last_release is None:
            return now
        quick = max(now, self._last_release + PRE_ROLL_PACE_S)
        if at_us < self.target_us or self._anchor is None or after_gap:
            return quick
        scheduled = self._scheduled(at_us)
        return now if scheduled < now - BEHIND_S else max(scheduled, now)

    def sent(self, at_us: int, released: float, *, after_gap: bool = False) -> None:
        """Note that the frame went out at `released`."""
        if at_us >= self.target_us and (self._anchor is None or after_gap
                                        or released > self._scheduled(at_us) + BEHIND_S):
            self._anchor = (released, at_us)
        self._last_release = released

    def _scheduled(self, at_us: int) -> float:
        anchor_release, anchor_us = self._anchor
        return anchor_release + (at_us - anchor_us) / 1_000_000 / self.speed

    def seek(self, target_us: int) -> None:
        self.target_us = target_us
        self._anchor = None

    def set_speed(self, speed: float) -> None:
        self.speed = speed
        self._anchor = None

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False
        self._anchor = None


class PlaybackTrack(MediaStreamTrack):
    """A camera's recorded footage as a passthrough H.264 track, with pause, speed and seek."""

    kind = "video"

    def __init__(self, footage: Footage, name: str = "playback") -> None:
        super().__init__()
        self.name = name
        self._footage = footage
        self._frames = footage.frames()
        self._pacer = Pacer(footage.start_us)
        self._pending: Frame | None = None
        self._changed = asyncio.Event()
        self._seek_to: int | None = None
        self._start = time.monotonic()
        self._last_pts = -1
        self.packets_sent = 0
        self._gate = ReplayGate(self._replay, busy=lambda: self._seek_to is not None)
        self.position_us: int | None = None  # the recorded time of the last frame sent
        self.finished: str | None = None  # why the footage ran out, once it has

    # -- controls (the streamer's loop) ---------------------------------------------------

    def pause(self) -> None:
        self._pacer.pause()
        self._changed.set()

    def resume(self) -> None:
        self._pacer.resume()
        self._changed.set()

    def set_speed(self, speed: float) -> None:
        if speed not in SPEEDS:
            raise ValueError(f"speed {speed} is not one of {', '.join(map(str, SPEEDS))}")
        self._pacer.set_speed(speed)
        self._changed.set()

    def seek(self, at_us: int) -> None:
        """Play from `at_us` (inside the footage's window; the caller checks)."""
        self._seek_to = at_us
        self._changed.set()

    def request_keyframe(self, now: float) -> bool:
        """A receiver asked for a keyframe: play again from the keyframe at or before the position, now or when
        `ReplayGate` lets; True if it starts now. Before the first frame nothing is replayed: that one is a
        keyframe."""
        return self._gate.request(now)

    def _replay(self) -> bool:
        if self.position_us is None or self.readyState != "live":
            return False
        self.seek(self.position_us)
        return True

    @property
    def paused(self) -> bool:
        return self._pacer.paused

    @property
    def speed(self) -> float:
        return self._pacer.speed

    # -- aiortc ---------------------------------------------------------------------------

    async def recv(self) -> av.Packet:
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            if self._seek_to is not None:
                await self._apply_seek()
            if self._pacer.paused:
                await self._wait_for_change(None)
                continue
            frame = await self._next_frame()
            if frame is None:
                continue
            if self._pacer.paused or self._seek_to is not None:
                continue  # a control came while the frame was read: it waits (pending) or goes with the seek
            now = time.monotonic()
            due = self._pacer.due(frame.at_us, now, after_gap=frame.after_gap)
            if due > now and not await self._wait_for_change(due - now):
                continue  # a control changed while waiting: decide again
            self._pending = None
            return self._packet(frame, due)

    async def _next_frame(self) -> Frame | None:
        if self._pending is not None:
            if self._pacer.speed > KEYFRAMES_ONLY_ABOVE and not self._pending.keyframe:
                self._pending = None  # read at a slower speed than is now asked for: keyframes only
                return None
            return self._pending
        try:
            item = await asyncio.to_thread(next, self._frames, None)
        except Exception as exc:  # the index or a file unreadable: end the session with the reason
            log.warning("playback %s failed", self.name, exc_info=True)
            self.finished = f"playback failed on the appliance: {exc}"
            self.stop()
            raise MediaStreamError from exc
        if item is None:
            self.finished = "reached the end of the granted footage window"
            self.stop()
            raise MediaStreamError
        if isinstance(item, Waiting):
            await self._wait_for_change(LIVE_EDGE_WAIT_S)
            return None
        if self._pacer.speed > KEYFRAMES_ONLY_ABOVE and not item.keyframe:
            return None
        self._pending = item
        return item

    async def _apply_seek(self) -> None:
        at_us, self._seek_to = self._seek_to, None
        old, self._pending = self._frames, None
        await asyncio.to_thread(old.close)
        self._footage = self._footage.starting_at(at_us)
        self._frames = self._footage.frames()
        self._pacer.seek(at_us)

    async def _wait_for_change(self, timeout: float | None) -> bool:
        """Sleep until a control changes (False) or `timeout` passes (True)."""
        self._changed.clear()
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
            return False
        except TimeoutError:
            return True

    def _packet(self, frame: Frame, released: float) -> av.Packet:
        self._pacer.sent(frame.at_us, released, after_gap=frame.after_gap)
        pts = max(self._last_pts + 1, int((released - self._start) * CLOCK))
        self._last_pts = pts
        packet = av.Packet(frame.data)
        packet.pts = packet.dts = pts
        packet.time_base = TIME_BASE
        packet.is_keyframe = frame.keyframe
        self.packets_sent += 1
        self.position_us = frame.at_us
        return packet

    def stop(self) -> None:
        self._gate.close()
        super().stop()
        self._changed.set()
