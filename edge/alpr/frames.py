"""Frames for plate reading from a camera's fan-out: decode, motion gating, rate limit, latest-frame slot.

One thread per camera. While the scene is idle only keyframes are decoded
(one a second on a typical camera) and compared with the previous one; on
motion every packet is decoded from that keyframe on and a frame is offered
for analysis at most `analysis_fps` times a second, when it differs from the
last one offered. Only the region that moved (the bounding box of the changed
pixels, with a margin) is analysed: a passing car fills more of the detector's
input than it would in the whole frame, and a plate-like sign that never
moves is never read. The plates being tracked stay in it (with the bumper
around them): a car that stopped at a barrier while something else moves (the
next car, a pedestrian) is still read, not cut out of the picture until its
track ends. While a plate is being tracked and nothing moves (a car that
stopped) the whole frame is analysed. After `idle_after_s` without
motion it goes back to keyframes only. The offered frame sits in a one-frame slot: when analysis is
busy a newer frame replaces it (counted in `dropped`), so analysis never
queues up and never holds the recorder back (its fan-out queue is its own and
drops to the next keyframe when full).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import av
import cv2
import numpy as np

from edge.alpr.base import Box
from edge.recording.fanout import Subscription
from edge.recording.packets import MediaPacket, StreamInfo

logger = logging.getLogger(__name__)

MOTION_SIZE = (160, 90)  # motion is judged on a small grey picture
PIXEL_CHANGE = 25  # grey levels a pixel must change by to count
REGION_MARGIN = 0.25  # of the moving region's size, on each side
MIN_REGION = 320  # pixels: a smaller region is grown to this (the detector's input size)



@dataclass(frozen=True, slots=True)
class AnalysisFrame:
    camera: str
    wall_us: int
    image: np.ndarray  # BGR, the part of the frame to analyse
    origin: tuple[int, int] = (0, 0)  # where `image` sits in the whole frame
    moving: bool = True  # offered for motion (False: a still frame while a plate is tracked)


@dataclass(frozen=True, slots=True)
class Motion:
    fraction: float  # share of the small picture's pixels that changed
    box: tuple[int, int, int, int] | None  # bounding box of the changes in the small picture (x, y, w, h)


def motion(previous: np.ndarray | None, current: np.ndarray) -> Motion:
    """Which pixels changed by more than `PIXEL_CHANGE` grey levels (everything, with nothing to compare)."""
    if previous is None or previous.shape != current.shape:
        return Motion(1.0, None)
    changed = cv2.absdiff(current, previous) > PIXEL_CHANGE
    count = int(np.count_nonzero(changed))
    if not count:
        return Motion(0.0, None)
    x, y, w, h = cv2.boundingRect(changed.astype(np.uint8))
    return Motion(count / changed.size, (x, y, w, h))


def region_of(box: Box | None, small: tuple[int, int], full: tuple[int, int], *, keep: list[Box] | tuple[Box, ...] = ()
              ) -> Box:
    """`box` (in the small picture) scaled to the full frame, with a margin, at least `MIN_REGION`, grown to hold
    each plate of `keep` (full-frame boxes: the plates being tracked) with one plate width around it, clamped to
    the frame, even-aligned. No `box`: the whole frame."""
    full_w, full_h = full
    if box is None:
        return 0, 0, full_w, full_h
    sx, sy = full_w / small[0], full_h / small[1]
    x, y, w, h = box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy
    grow_w, grow_h = max(w * (1 + 2 * REGION_MARGIN), MIN_REGION), max(h * (1 + 2 * REGION_MARGIN), MIN_REGION)
    left, top = x + w / 2 - grow_w / 2, y + h / 2 - grow_h / 2
    right, bottom = x + w / 2 + grow_w / 2 + 1, y + h / 2 + grow_h / 2 + 1
    for px, py, pw, ph in keep:  # one plate width either side and as much above and below (the bumper)
        cx, cy = px + pw / 2, py + ph / 2
        left, right = min(left, cx - 1.5 * pw), max(right, cx + 1.5 * pw + 1)
        top, bottom = min(top, cy - pw), max(bottom, cy + pw + 1)
    x0, y0 = int(max(0, left)) & ~1, int(max(0, top)) & ~1
    x1, y1 = min(full_w, int(right)) & ~1, min(full_h, int(bottom)) & ~1
    return x0, y0, x1 - x0, y1 - y0


def bgr_region(frame: av.VideoFrame, region: tuple[int, int, int, int]) -> np.ndarray:
    """The region of a decoded frame as BGR, converting only that region (from the planar YUV 4:2:0)."""
    x, y, w, h = region
    if (x, y, w, h) == (0, 0, frame.width, frame.height) or frame.format.name != "yuv420p":
        return frame.to_ndarray(format="bgr24")[y:y + h, x:x + w]
    planes = frame.to_ndarray(format="yuv420p")
    height, width = frame.height, frame.width
    luma = planes[:height, :width]
    chroma = planes[height:].reshape(2, height // 2, width // 2)
    i420 = np.concatenate([luma[y:y + h, x:x + w].ravel(),
                           chroma[0, y // 2:(y + h) // 2, x // 2:(x + w) // 2].ravel(),
                           chroma[1, y // 2:(y + h) // 2, x // 2:(x + w) // 2].ravel()]).reshape(h * 3 // 2, w)
    return cv2.cvtColor(i420, cv2.COLOR_YUV2BGR_I420)


class FrameSlot:
    """The newest frame waiting for analysis, per camera; shared with the analysis worker."""

    def __init__(self) -> None:
        self._frames: dict[str, AnalysisFrame] = {}
        self._ready = threading.Condition()
        self.dropped: dict[str, int] = {}

    def put(self, frame: AnalysisFrame) -> None:
        with self._ready:
            if frame.camera in self._frames:
                self.dropped[frame.camera] = self.dropped.get(frame.camera, 0) + 1
            self._frames[frame.camera] = frame
            self._ready.notify()

    def take(self, order: list[str], timeout: float) -> AnalysisFrame | None:
        """The waiting frame of the first camera in `order` that has one; waits up to `timeout`."""
        with self._ready:
            if not self._frames:
                self._ready.wait(timeout)
            for camera in order:
                if camera in self._frames:
                    return self._frames.pop(camera)
            return None

    def wake(self) -> None:
        with self._ready:
            self._ready.notify_all()


class CameraFrames(threading.Thread):
    """Decodes one camera's packets into analysis frames (see the module docstring)."""

    def __init__(self, camera: str, subscription: Subscription, slot: FrameSlot, *, analysis_fps: float,
                 motion_threshold: float, idle_after_s: float, tracked: Callable[[str], list[Box]]) -> None:
        super().__init__(name=f"alpr-frames-{camera}", daemon=True)
        self.camera = camera
        self.subscription = subscription
        self.slot = slot
        self.min_gap_us = int(1_000_000 / analysis_fps)
        self.motion_threshold = motion_threshold
        self.idle_after_us = int(idle_after_s * 1_000_000)
        self.tracked = tracked  # where the camera's plates being tracked were last seen: keep analysing them
        self.decoded = 0
        self.offered = 0
        self._stopping = threading.Event()
        self._decoder: av.CodecContext | None = None
        self._stream: StreamInfo | None = None
        self._active = False
        self._last_motion_us = 0
        self._last_offered_us = 0
        self._reference: np.ndarray | None = None

    def stop(self) -> None:
        self._stopping.set()
        self.subscription.close()
        self.join(timeout=5)

    def run(self) -> None:
        while not self._stopping.is_set():
            item = self.subscription.get(timeout=0.5)
            if isinstance(item, MediaPacket):
                try:
                    self._handle(item)
                except av.FFmpegError as exc:
                    logger.debug("camera %s: undecodable packet (%s); waiting for the next keyframe", self.camera, exc)
                    self._decoder = None
            elif item is not None:  # the connection was lost: start again at the next keyframe
                self._decoder, self._reference = None, None

    def _handle(self, packet: MediaPacket) -> None:
        if self._decoder is None or packet.stream is not self._stream:
            if not packet.keyframe:
                return
            self._open(packet.stream)
        if packet.keyframe and self._active and not self._wanted(packet.wall_us):
            self._active = False  # idle from this keyframe on
        if not (self._active or packet.keyframe):
            return
        assert self._decoder is not None
        for frame in self._decoder.decode(av.Packet(packet.data)):
            self.decoded += 1
            self._consider(frame, packet.wall_us)

    def _open(self, stream: StreamInfo) -> None:
        decoder = av.CodecContext.create(stream.codec, "r")
        if stream.extradata:
            decoder.extradata = stream.extradata
        decoder.thread_count = 1
        self._decoder, self._stream = decoder, stream

    def _wanted(self, wall_us: int) -> bool:
        return wall_us - self._last_motion_us < self.idle_after_us or bool(self.tracked(self.camera))

    def _consider(self, frame: av.VideoFrame, wall_us: int) -> None:
        if self._active and wall_us - self._last_offered_us < self.min_gap_us:
            return
        small = frame.reformat(width=MOTION_SIZE[0], height=MOTION_SIZE[1], format="gray").to_ndarray()
        change = motion(self._reference, small)
        self._reference = small
        moved = change.fraction >= self.motion_threshold
        if moved:
            self._last_motion_us = wall_us
            self._active = True
        tracked = self.tracked(self.camera)
        if moved or (self._active and tracked):
            self._last_offered_us = wall_us
            self.offered += 1
            region = region_of(change.box if moved else None, MOTION_SIZE, (frame.width, frame.height), keep=tracked)
            self.slot.put(AnalysisFrame(self.camera, wall_us, bgr_region(frame, region), (region[0], region[1]),
                                        moving=moved))
