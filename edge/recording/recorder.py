"""The writer thread of one camera: segments, gaps and the index.

It consumes the camera's packets from its own large queue (so a slow disk
never slows the camera connection), cuts a new segment at the first keyframe
past the target length, and on close hashes the file, renames it from
`.part` and indexes it. A full disk closes the open segment, wakes
retention and resumes at the next keyframe once there is room again.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import av

from edge.config import CameraConfig, RecordingConfig
from edge.errors import SegmentIndexError
from edge.recording.durability import Syncer
from edge.recording.fanout import Subscription
from edge.recording.index import SegmentIndex
from edge.recording.packets import MediaPacket, StreamLost
from edge.recording.reconcile import probe_segment
from edge.recording.segment_file import SegmentFile, trim_torn_tail
from edge.recording.storage import PART_SUFFIX, Layout, fsync_dir, sha256_file

logger = logging.getLogger(__name__)

CUT_TOLERANCE_US = 100_000  # camera timestamp jitter tolerated at a segment boundary
GAP_THRESHOLD_US = 1_000_000  # a hole this long between segments is recorded as a gap


def should_cut(*, segment_start_us: int, packet_wall_us: int, keyframe: bool, target_us: int) -> bool:
    """Start a new segment at this packet? Only at a keyframe at or past the target length."""
    return keyframe and packet_wall_us - segment_start_us >= target_us - CUT_TOLERANCE_US


def is_disk_full(exc: BaseException) -> bool:
    """A file write (ENOSPC, EDQUOT) or an index write (SQLITE_FULL) ran out of space."""
    return getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT) or getattr(exc, "disk_full", False)


@dataclass(slots=True)
class _OpenSegment:
    id: int
    relpath: str
    start_us: int
    file: SegmentFile
    last_end_us: int


@dataclass(frozen=True, slots=True)
class _Closed:
    """A closed file waiting to be renamed and indexed (kept if the index is full)."""

    id: int
    relpath: str
    start_us: int
    end_us: int
    frames: int
    torn: bool  # closed after a failed write: count the whole frames on disk


class CameraRecorder:
    """Writes one camera's packets into indexed segments."""

    def __init__(
        self,
        camera: CameraConfig,
        settings: RecordingConfig,
        layout: Layout,
        index: SegmentIndex,
        queue: Subscription,
        *,
        syncer: Syncer | None = None,
        on_disk_full: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.camera = camera
        self.settings = settings
        self.layout = layout
        self.index = index
        self.queue = queue
        self._syncer = syncer
        self._on_disk_full = on_disk_full
        self._clock = clock
        self._segment: _OpenSegment | None = None
        self._pending: list[_Closed] = []
        self._deferred_warned: set[int] = set()
        self._gap_id: int | None = None
        self._last_end_us: int | None = None
        self._write_failed = False
        self.frames_written = 0
        self.segments_closed = 0
        self._thread = threading.Thread(target=self._run, name=f"recorder-{camera.name}", daemon=True)

    # -- lifecycle ----------------------------------------------------------

    def start(self) -> None:
        gaps = [g for g in self.index.open_gaps() if g.camera == self.camera.name]
        self._gap_id = gaps[-1].id if gaps else None
        self._last_end_us = self.index.span(self.camera.name)[1]
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Drain the queue, close the open segment and end the thread.

        Call after the camera's capture has stopped so no packet is lost."""
        self.queue.close()
        self._thread.join(timeout)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def open_segment_bytes(self) -> int:
        segment = self._segment
        return segment.file.size if segment is not None else 0

    def _run(self) -> None:
        while True:
            item = self.queue.get(timeout=1.0)
            if item is None:
                if self.queue.closed and len(self.queue) == 0:
                    break
                continue
            try:
                if isinstance(item, MediaPacket):
                    self._on_packet(item)
                elif isinstance(item, StreamLost):
                    self._on_stream_lost(item)
            except Exception:
                logger.exception("camera %s: recorder error; closing the segment", self.camera.name)
                self._abort_segment()
        end = self._segment.last_end_us if self._segment else None
        self._close_segment(end)
        self._retry_pending()

    # -- packets --------------------------------------------------------------

    def _on_packet(self, packet: MediaPacket) -> None:
        segment = self._segment
        target_us = int(self.settings.segment_seconds * 1_000_000)
        if segment is not None and packet.stream.connection != segment.file.stream.connection:
            self._close_segment(segment.last_end_us)  # reconnected without a StreamLost in between
            segment = None
        if segment is not None and should_cut(
            segment_start_us=segment.start_us, packet_wall_us=packet.wall_us, keyframe=packet.keyframe, target_us=target_us
        ):
            self._close_segment(packet.wall_us)
            segment = None
        if segment is None:
            if not packet.keyframe:
                return  # a segment must start with a keyframe
            segment = self._open_segment(packet)
            if segment is None:
                return
        try:
            segment.file.write(packet)
        except (OSError, av.error.FFmpegError) as exc:
            self._on_write_error(exc)
            return
        segment.last_end_us = packet.wall_us + _duration_us(packet)
        self.frames_written += 1

    def _open_segment(self, packet: MediaPacket) -> _OpenSegment | None:
        self._retry_pending()
        start_us = packet.wall_us
        relpath = self.layout.segment_relpath(self.camera.name, start_us)
        path = self.layout.absolute(relpath + PART_SUFFIX)
        try:
            segment_id = self.index.open_segment(camera=self.camera.name, start_us=start_us, path=relpath + PART_SUFFIX,
                                                 ends_gap=self._gap_id)
        except SegmentIndexError as exc:
            self._on_write_error(exc)
            return None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            file = SegmentFile(path, packet, syncer=self._syncer)
        except (OSError, av.error.FFmpegError) as exc:
            path.unlink(missing_ok=True)
            self._forget(segment_id, reopen_gap=self._gap_id)
            self._on_write_error(exc)
            return None
        if self._write_failed:
            logger.warning("camera %s: recording again after a write failure", self.camera.name)
            self._write_failed = False
            self._clear_alarm(f"write_failed:{self.camera.name}")
        if self._gap_id is not None:
            self._gap_id = None  # closed with the segment's row (`open_segment(ends_gap=)`)
        else:
            self._record_pause_before(start_us)
        self._segment = _OpenSegment(segment_id, relpath, start_us, file, start_us)
        return self._segment

    def _record_pause_before(self, start_us: int) -> None:
        """A pause longer than `GAP_THRESHOLD_US` with no gap open (the camera sent nothing for a while without
        closing its stream) is recorded as a closed gap."""
        try:
            if self._last_end_us is not None and start_us - self._last_end_us > GAP_THRESHOLD_US:
                gap = self.index.open_gap(camera=self.camera.name, start_us=self._last_end_us, reason="not recording")
                self.index.close_gap(gap, end_us=start_us)
        except SegmentIndexError:
            logger.warning("camera %s: could not record a gap", self.camera.name, exc_info=True)

    def _on_stream_lost(self, lost: StreamLost) -> None:
        segment = self._segment
        end_us = segment.last_end_us if segment is not None else lost.at_us
        if segment is not None and segment.file.stream.connection != lost.connection:
            return
        self._close_segment(end_us)
        if lost.reason != "stopped" and self._gap_id is None:
            try:
                self._gap_id = self.index.open_gap(camera=self.camera.name, start_us=end_us, reason=lost.reason)
            except SegmentIndexError:
                logger.warning("camera %s: could not record a gap", self.camera.name, exc_info=True)

    # -- closing ----------------------------------------------------------------

    def _close_segment(self, end_us: int | None, *, torn: bool = False) -> None:
        segment, self._segment = self._segment, None
        if segment is None:
            return
        try:
            segment.file.close()
        except (OSError, av.error.FFmpegError) as exc:
            logger.warning("camera %s: closing %s failed: %s", self.camera.name, segment.relpath, exc)
        end_us = end_us if end_us is not None else segment.last_end_us
        self._last_end_us = end_us
        if segment.file.frames == 0:
            self._discard(segment)
            return
        self._pending.append(_Closed(segment.id, segment.relpath, segment.start_us, end_us, segment.file.frames, torn))
        self._retry_pending()

    def _discard(self, segment: _OpenSegment) -> None:
        try:
            segment.file.path.unlink(missing_ok=True)
        except OSError:
            logger.debug("camera %s: empty segment left for reconciliation", self.camera.name, exc_info=True)
        self._forget(segment.id)

    def _forget(self, segment_id: int, *, reopen_gap: int | None = None) -> None:
        try:
            self.index.delete_segments([segment_id])
            if reopen_gap is not None:
                self.index.reopen_gap(reopen_gap)
        except SegmentIndexError:
            logger.debug("camera %s: index row left for reconciliation", self.camera.name, exc_info=True)

    def _retry_pending(self) -> None:
        """Rename, hash and index closed files; keep any that fail for later."""
        still_pending = []
        for closed in self._pending:
            try:
                self._finalize(closed)
            except (OSError, SegmentIndexError) as exc:
                level = logging.DEBUG if closed.id in self._deferred_warned else logging.WARNING
                logger.log(level, "camera %s: finalizing %s deferred: %s", self.camera.name, closed.relpath, exc)
                self._deferred_warned.add(closed.id)
                still_pending.append(closed)
                if is_disk_full(exc):
                    self._on_disk_full()
            else:
                self._deferred_warned.discard(closed.id)
        self._pending = still_pending

    def _finalize(self, closed: _Closed) -> None:
        final = self.layout.absolute(closed.relpath)
        part = final.with_name(final.name + PART_SUFFIX)
        if part.exists():
            os.replace(part, final)
            fsync_dir(final.parent)
        end_us, frames = closed.end_us, closed.frames
        if closed.torn:
            # The failed write may have left the last frame half on disk: cut it, then count what is left.
            trim_torn_tail(final)
            probe = probe_segment(final)
            end_us, frames = (closed.start_us, 0) if probe is None else (closed.start_us + probe.duration_us, probe.frames)
        digest = sha256_file(final)
        self.index.close_segment(
            closed.id,
            end_us=end_us,
            size=final.stat().st_size,
            frames=frames,
            sha256=digest,
            path=closed.relpath,
        )
        self.segments_closed += 1

    def _abort_segment(self) -> None:
        segment = self._segment
        self._close_segment(segment.last_end_us if segment else None, torn=True)

    def _on_write_error(self, exc: BaseException) -> None:
        full = is_disk_full(exc)
        if not self._write_failed:
            logger.warning("camera %s: write failed (%s); resuming at the next keyframe", self.camera.name, exc)
        self._write_failed = True
        self._abort_segment()
        if full:
            self._on_disk_full()
        self._raise_alarm(f"write_failed:{self.camera.name}", "disk full" if full else f"write failed: {exc}")

    def _raise_alarm(self, key: str, message: str) -> None:
        try:
            self.index.raise_alarm(key=key, level="critical", message=message, since_us=int(self._clock() * 1e6))
        except SegmentIndexError:
            logger.debug("alarm %s not stored", key, exc_info=True)

    def _clear_alarm(self, key: str) -> None:
        try:
            self.index.clear_alarm(key)
        except SegmentIndexError:
            logger.debug("alarm %s not cleared", key, exc_info=True)


def _duration_us(packet: MediaPacket) -> int:
    return int(packet.duration * packet.stream.time_base * 1_000_000)
