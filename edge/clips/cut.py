"""Cut one camera's clip out of the box's recorded segments into a single MP4 that plays in a browser.

Passthrough (the normal case): the recorded H.264 packets are copied as they are into one MP4 (`avc1`, the
codec parameters of the first segment in its header, `+faststart` so the index comes before the media and a
browser can start playing while it downloads). Nothing is decoded or re-encoded. A segment whose codec
parameters differ from the first one's (the camera's settings changed) gets its own SPS/PPS put in front of
its keyframes, in-band, the only change made to any packet.

Masked (a camera whose owner's policy has privacy masks): every frame is decoded, the masks painted out
(`edge.streaming.masks`) and the picture encoded again as H.264 — the only transcode.

Both start at the keyframe at or before the window's start (so the first frame decodes) and end with the
last frame recorded before the window's end. Clip time 0 is the first frame's recording time and clip time
t is t after it, across segment boundaries and gaps: **a gap stays a hole in the timeline** rather than being
joined. In an MP4 a hole is the last frame before the gap shown until the first frame after it (the sample's
duration spans the gap), which every browser plays as a still picture; joining would make the clip's clock
lie about when things happened. The gaps are listed with the clip, with their reasons.

Every source segment's SHA-256 is checked against the one the recorder noted at close before it is used; a
segment that fails, or that cannot be read, is left out and listed as a gap saying why. Only closed
segments are used (`edge.clips.plan.closed_segments`). Blocking work: run it in a thread.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Protocol

import av

from edge.clips.plan import (ClipGap, UsedSegment, check_window, closed_segments, gaps_inside, iso,
                             nothing_recorded, used)
from edge.errors import ClipError, NothingRecorded
from edge.recording.h264 import avcc_to_annexb, iter_nals
from edge.recording.index import Segment, SegmentIndex
from edge.recording.reading import open_recorded, recorded_packets
from wire.evidence import file_sha256

log = logging.getLogger(__name__)

TIME_BASE = Fraction(1, 90_000)  # the clip's clock: the usual one for video, exact for 15 and 30 fps
OUTPUT_OPTIONS = {"movflags": "+faststart"}
MASKED_ENCODER = {"preset": "veryfast", "crf": "23"}  # libx264; about the cameras' own quality at 1080p
Polygon = Sequence[tuple[float, float]]


@dataclass(frozen=True, slots=True)
class Cut:
    """What was cut: the actual window (first frame's time to the last frame's end), its gaps and sources."""

    camera: str
    requested_from_us: int
    requested_to_us: int
    actual_from_us: int
    actual_to_us: int
    frames: int
    gaps: tuple[ClipGap, ...]
    segments: tuple[UsedSegment, ...]
    masked: bool


class Timeline:
    """Recorded times of the frames written so far, and the clip's own clock (90 kHz ticks from the first)."""

    def __init__(self) -> None:
        self.first_us: int | None = None
        self.end_us = 0
        self.frames = 0
        self._last_us: int | None = None
        self._interval_us = 0

    def note(self, at_us: int, duration_us: int) -> None:
        if self.first_us is None:
            self.first_us = at_us
        if self._last_us is not None and 0 < at_us - self._last_us < 1_000_000:
            self._interval_us = at_us - self._last_us
        self._last_us = at_us
        self.end_us = max(self.end_us, at_us + (duration_us or self._interval_us or 1))
        self.frames += 1

    def ticks(self, at_us: int) -> int:
        assert self.first_us is not None, "note() the first frame first"
        return ((at_us - self.first_us) * 9 + 50) // 100  # µs → 1/90000 s, rounded


class ClipWriter(Protocol):
    def begin(self, stream: av.VideoStream, start_us: int) -> None: ...  # a source segment starts
    def write(self, packet: av.Packet, at_us: int) -> None: ...
    def end(self) -> None: ...  # the source segment is done
    def close(self) -> None: ...  # finish the file (moov moved to the front)


def cut_clip(index: SegmentIndex, recordings: Path, camera: str, *, from_us: int, to_us: int, out_path: Path,
             masks: Sequence[Polygon] = ()) -> Cut:
    """Cut `camera`'s footage of [from_us, to_us) into `out_path` (an MP4); ClipError and its kinds
    (NothingRecorded, StillRecording) say why not. Blocking."""
    check_window(from_us, to_us)
    segments = closed_segments(index.segments(camera, from_us=from_us, to_us=to_us), to_us=to_us)
    if not segments:
        before, after = index.nearest(camera, before_us=from_us, after_us=to_us)
        raise NothingRecorded(nothing_recorded(camera, from_us, to_us, before, after))
    timeline = Timeline()
    writer: ClipWriter = MaskedEncode(out_path, masks, timeline) if masks else PassthroughMux(out_path, timeline)
    try:
        sources, skipped = copy_window(writer, segments, recordings, timeline, from_us=from_us, to_us=to_us,
                                       reader=f"clip of {camera}")
    except BaseException:
        _close_after_failure(writer)
        raise
    writer.close()
    if timeline.first_us is None:
        reasons = "; ".join(f"{iso(g.start_us)}: {g.reason}" for g in skipped) or "no frame before the window's end"
        raise NothingRecorded(f"nothing of camera {camera} from {iso(from_us)} to {iso(to_us)} can be cut: {reasons}")
    gaps = gaps_inside([*index.gaps(camera, from_us=timeline.first_us, to_us=timeline.end_us), *skipped],
                       from_us=timeline.first_us, to_us=timeline.end_us)
    return Cut(camera, from_us, to_us, timeline.first_us, timeline.end_us, timeline.frames, gaps,
               tuple(sources), bool(masks))


def _close_after_failure(writer: ClipWriter) -> None:
    """Close a clip whose cut failed (the caller removes the file); the first error is the one to report."""
    try:
        writer.close()
    except (OSError, av.FFmpegError):
        log.debug("closing a failed clip failed too", exc_info=True)


def copy_window(writer: ClipWriter, segments: Sequence[Segment], recordings: Path, timeline: Timeline, *,
                from_us: int, to_us: int, reader: str) -> tuple[list[UsedSegment], list[ClipGap]]:
    """Hand every frame of the window (from the keyframe at or before `from_us`) to `writer`, segment after
    segment; returns the segments used and the ones left out (as gaps, with the reason)."""
    sources: list[UsedSegment] = []
    skipped: list[ClipGap] = []
    for segment in segments:
        path = recordings / segment.path
        problem = source_problem(path, segment)
        if problem is None:
            try:
                container = open_recorded(path)
            except (OSError, av.FFmpegError) as exc:
                problem = f"recorded segment unreadable: {exc}"
        if problem is not None:
            log.warning("%s leaves out %s: %s", reader, segment.path, problem)
            skipped.append(ClipGap(segment.start_us, segment.end_us or segment.start_us, problem))
            continue
        with container:
            before = timeline.frames
            finished = _copy_segment(writer, container, segment, timeline, from_us=from_us, to_us=to_us,
                                     reader=reader)
        if timeline.frames > before:
            sources.append(used(segment))
        if finished:
            break
    return sources, skipped


def _copy_segment(writer: ClipWriter, container: av.container.InputContainer, segment: Segment,
                  timeline: Timeline, *, from_us: int, to_us: int, reader: str) -> bool:
    """Copy one segment's frames of the window; True once a frame at or past `to_us` was seen."""
    stream = container.streams.video[0]
    writer.begin(stream, segment.start_us)
    try:
        for packet, at_us in recorded_packets(container, segment, from_us, reader=reader):
            if at_us >= to_us:
                return True
            timeline.note(at_us, round(packet.duration * stream.time_base * 1_000_000) if packet.duration else 0)
            writer.write(packet, at_us)
    finally:
        writer.end()
    return False


def source_problem(path: Path, segment: Segment) -> str | None:
    """Why a recorded segment cannot vouch for a clip: missing, or not the bytes the recorder hashed."""
    try:
        digest, size = file_sha256(path)
    except OSError as exc:
        return f"recorded segment missing or unreadable: {exc.strerror}"
    if digest != segment.sha256 or size != segment.bytes:
        return "recorded segment changed since it was closed (its SHA-256 no longer matches the index)"
    return None


def inband_parameter_sets(extradata: bytes) -> bytes:
    """An avcC record's SPS/PPS as 4-byte length-prefixed NAL units, the way MP4 samples carry NAL units."""
    if len(extradata) < 7 or extradata[0] != 1 or extradata[4] & 3 != 3:
        raise ClipError("a recorded segment's codec parameters are not an avcC record with 4-byte NAL lengths")
    return b"".join(len(nal).to_bytes(4, "big") + nal for nal in iter_nals(avcc_to_annexb(extradata)))


class PassthroughMux:
    """Copies recorded packets into one MP4 on the clip's clock; decodes and encodes nothing."""

    def __init__(self, path: Path, timeline: Timeline) -> None:
        self._output = av.open(str(path), "w", format="mp4", options=OUTPUT_OPTIONS)
        self._timeline = timeline
        self._out: av.VideoStream | None = None
        self._extradata = b""
        self._prefix = b""  # SPS/PPS for the keyframes of a segment whose parameters differ from the first's
        self._in_time_base = Fraction(1, 90_000)
        self._last_dts: int | None = None

    def begin(self, stream: av.VideoStream, start_us: int) -> None:
        extradata = bytes(stream.codec_context.extradata or b"")
        if self._out is None:
            self._out = self._output.add_stream_from_template(stream)
            self._out.time_base = TIME_BASE
            self._extradata = extradata
        self._prefix = b"" if extradata == self._extradata else inband_parameter_sets(extradata)
        self._in_time_base = stream.time_base

    def write(self, packet: av.Packet, at_us: int) -> None:
        tb = self._in_time_base
        dts_us = at_us if packet.dts is None else at_us + int((packet.dts - packet.pts) * tb * 1_000_000)
        dts = self._timeline.ticks(dts_us)
        dts = dts if self._last_dts is None else max(dts, self._last_dts + 1)  # a re-anchored clock never
        self._last_dts = dts  # goes back: frames are never dropped (a P-frame needs its keyframe)
        out = packet
        if self._prefix and packet.is_keyframe:
            out = av.Packet(self._prefix + bytes(packet))
            out.is_keyframe = True
        out.duration = int(packet.duration * tb / TIME_BASE) if packet.duration else 0
        out.stream = self._out
        out.time_base = TIME_BASE
        out.dts = dts
        out.pts = max(dts, self._timeline.ticks(at_us))
        self._output.mux(out)

    def end(self) -> None:
        pass

    def close(self) -> None:
        self._output.close()


class MaskedEncode:
    """Decodes recorded frames, paints the owner's privacy masks out and encodes H.264 (libx264)."""

    def __init__(self, path: Path, masks: Sequence[Polygon], timeline: Timeline) -> None:
        from edge.streaming.masks import MaskPainter  # (it loads aiortc: only a masked clip needs it)

        self._output = av.open(str(path), "w", format="mp4", options=OUTPUT_OPTIONS)
        self._painter = MaskPainter(masks)
        self._timeline = timeline
        self._encoder: av.VideoStream | None = None
        self._decoder: av.VideoCodecContext | None = None
        self._start_us = 0
        self._time_base = Fraction(1, 90_000)
        self._rate: Fraction | None = None
        self._last_pts: int | None = None

    def begin(self, stream: av.VideoStream, start_us: int) -> None:
        self._decoder = stream.codec_context
        self._decoder.thread_type = "AUTO"
        self._start_us, self._time_base = start_us, stream.time_base
        self._rate = self._rate or stream.average_rate or stream.guessed_rate

    def write(self, packet: av.Packet, at_us: int) -> None:
        assert self._decoder is not None
        for frame in self._decoder.decode(packet):
            self._encode(frame)

    def end(self) -> None:
        if self._decoder is not None:
            for frame in self._decoder.decode(None):  # frames the decoder's threads still hold
                self._encode(frame)
            self._decoder = None

    def _encode(self, frame: av.VideoFrame) -> None:
        at_us = self._start_us + int(frame.pts * self._time_base * 1_000_000)
        painted = self._painter.paint(frame)
        pts = self._timeline.ticks(at_us)
        pts = pts if self._last_pts is None else max(pts, self._last_pts + 1)
        self._last_pts = pts
        painted.pts, painted.time_base = pts, TIME_BASE
        encoder = self._encoder or self._open_encoder(painted)
        for packet in encoder.encode(painted):
            self._output.mux(packet)

    def _open_encoder(self, frame: av.VideoFrame) -> av.VideoStream:
        encoder = self._output.add_stream("libx264", rate=self._rate or 15)
        encoder.width, encoder.height, encoder.pix_fmt = frame.width, frame.height, "yuv420p"
        encoder.time_base = encoder.codec_context.time_base = TIME_BASE
        encoder.options = dict(MASKED_ENCODER)
        self._encoder = encoder
        return encoder

    def close(self) -> None:
        try:
            if self._encoder is not None:
                for packet in self._encoder.encode(None):
                    self._output.mux(packet)
        finally:
            self._output.close()
