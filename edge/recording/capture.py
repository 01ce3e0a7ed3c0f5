"""One RTSP connection per camera: open, demux, timestamp, fan out, reconnect.

Runs in its own thread (PyAV demuxing blocks). A closed socket ends the
connection at once; a frozen camera is noticed by FFmpeg's socket timeout
within `frozen_after_s`. The thread then publishes `StreamLost` and reconnects with capped exponential
backoff, logging a repeating failure once at WARNING and then at DEBUG.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from fractions import Fraction

import av

from edge.config import CameraConfig, CaptureConfig
from edge.errors import CameraError
from edge.recording.fanout import Fanout
from edge.recording.h264 import parameter_sets
from edge.recording.packets import MediaPacket, StreamInfo, StreamLost
from wire.urls import redact_url

logger = logging.getLogger(__name__)

DEFAULT_FPS = 15
REANCHOR_AFTER_US = 2_000_000  # camera time falling this far behind the box clock re-anchors


def backoff_delays(initial: float, cap: float) -> Iterator[float]:
    """Capped exponential backoff: initial, 2x, 4x, ... never above cap."""
    delay = initial
    while True:
        yield delay
        delay = min(cap, delay * 2)


class WallClockMapper:
    """Maps a connection's camera timestamps to box wall-clock microseconds.

    wall = camera time + the smallest (arrival - camera time) seen so far:
    the least-delayed packet shows the true offset, so the burst a camera
    sends on connect and later network jitter do not shift the times. The
    result follows the camera's smooth timestamps, never runs ahead of the
    box clock, never goes backwards, and re-anchors if it falls more than
    REANCHOR_AFTER_US behind (camera clock drift)."""

    def __init__(self, time_base: Fraction) -> None:
        self._us_per_tick = time_base * 1_000_000
        self._offset: int | None = None
        self._last = -(1 << 62)

    def wall_us(self, ticks: int, now_us: int) -> int:
        camera_us = int(ticks * self._us_per_tick)
        offset = now_us - camera_us
        if self._offset is None or offset < self._offset or offset - self._offset > REANCHOR_AFTER_US:
            self._offset = offset
        wall = max(camera_us + self._offset, self._last)
        self._last = wall
        return wall


class TimestampFixer:
    """Fills in missing timestamps and keeps DTS strictly increasing."""

    def __init__(self, frame_duration: int) -> None:
        self.frame_duration = frame_duration
        self._last_dts: int | None = None

    def fix(self, pts: int | None, dts: int | None) -> tuple[int, int]:
        if dts is None:
            dts = pts
        if dts is None:
            dts = 0 if self._last_dts is None else self._last_dts + self.frame_duration
        if self._last_dts is not None and dts <= self._last_dts:
            dts = self._last_dts + 1
        if pts is None or pts < dts:
            pts = dts
        self._last_dts = dts
        return pts, dts


class CameraCapture:
    """The capture thread of one camera."""

    def __init__(
        self,
        camera: CameraConfig,
        settings: CaptureConfig,
        fanout: Fanout,
        *,
        clock: Callable[[], float] = time.time,
        on_state: Callable[[str, str], None] | None = None,
    ) -> None:
        self.camera = camera
        self.settings = settings
        self.fanout = fanout
        self._clock = clock
        self._on_state = on_state or (lambda state, detail: None)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"capture-{camera.name}", daemon=True)
        self._connection = 0
        self._delivered = False  # packets went out on this connection and no StreamLost yet
        self.packets = 0
        self.last_packet_us: int | None = None

    def start(self) -> None:
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the thread to end without waiting (lets several cameras stop at once)."""
        self._stop.set()

    def stop(self, timeout: float | None = None) -> None:
        """Ask the thread to end and wait for it (it notices within the read timeout)."""
        self._stop.set()
        self._thread.join(timeout)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def _now_us(self) -> int:
        return int(self._clock() * 1_000_000)

    def _run(self) -> None:
        delays = backoff_delays(self.settings.backoff_initial_s, self.settings.backoff_max_s)
        warned = False
        while not self._stop.is_set():
            self._connection += 1
            self._delivered = False
            try:
                for _ in self._stream_once():
                    if warned:
                        logger.warning("camera %s: recovered", self.camera.name)
                        warned = False
                        delays = backoff_delays(self.settings.backoff_initial_s, self.settings.backoff_max_s)
                reason = "stopped" if self._stop.is_set() else "camera closed the stream"
            except CameraError as exc:
                reason = str(exc)
            except Exception as exc:  # a camera must never kill its thread
                logger.exception("camera %s: unexpected capture error", self.camera.name)
                reason = f"unexpected error: {exc.__class__.__name__}"
                self._lost(reason)
            if self._stop.is_set():
                break
            self._on_state("offline", reason)
            level = logging.DEBUG if warned else logging.WARNING
            logger.log(level, "camera %s (%s): %s; reconnecting", self.camera.name, self.camera.safe_url, reason)
            warned = True
            self._stop.wait(next(delays))
        self._on_state("stopped", "")

    def _lost(self, reason: str) -> None:
        """Tell consumers the connection ended (once, and before the slow close)."""
        if self._delivered:
            self._delivered = False
            self.fanout.publish(StreamLost(self.camera.name, self._connection, self._now_us(), reason))

    def _open(self) -> av.container.InputContainer:
        options = {
            "rtsp_transport": "tcp",
            "analyzeduration": "100000",
            "probesize": "100000",
            "fflags": "nobuffer",
            # FFmpeg's own socket timeout (connect and every read), checked in C. PyAV's
            # read timeout would instead take the GIL in FFmpeg's interrupt callback on
            # every small socket read (dozens per frame), which cost more CPU than the
            # whole remux once four cameras and their writers share the GIL. FFmpeg
            # retries a timed-out RTSP read once, so half of frozen_after_s.
            "timeout": str(int(self.settings.frozen_after_s / 2 * 1_000_000)),
        }
        try:
            return av.open(self.camera.url, options=options, timeout=(self.settings.open_timeout_s, None))
        except (av.error.FFmpegError, OSError) as exc:
            raise CameraError(f"cannot open: {_describe(exc, self.camera.url)}") from None

    def _stream_once(self) -> Iterator[MediaPacket]:
        """Open the camera and publish its packets until it fails or we stop."""
        container = self._open()
        try:
            if not container.streams.video:
                raise CameraError("no video stream")
            stream = container.streams.video[0]
            if stream.codec_context.name != "h264":
                raise CameraError(f"codec {stream.codec_context.name} is not H.264")
            info = self._stream_info(stream)
            fixer = TimestampFixer(info.frame_duration)
            mapper = WallClockMapper(info.time_base)
            self._on_state("online", f"{info.width}x{info.height}")
            try:
                for packet in container.demux(stream):
                    if self._stop.is_set():
                        break
                    if packet.size == 0:
                        continue
                    data = bytes(packet)
                    if not info.extradata and packet.is_keyframe:
                        info = _with_extradata(info, parameter_sets(data))
                    pts, dts = fixer.fix(packet.pts, packet.dts)
                    now_us = self._now_us()
                    media = MediaPacket(
                        stream=info,
                        data=data,
                        pts=pts,
                        dts=dts,
                        duration=packet.duration or info.frame_duration,
                        keyframe=packet.is_keyframe,
                        wall_us=mapper.wall_us(dts, now_us),
                    )
                    self.packets += 1
                    self.last_packet_us = now_us
                    self._delivered = True
                    self.fanout.publish(media)
                    yield media
            except (av.error.FFmpegError, OSError) as exc:
                reason = f"read failed: {_describe(exc, self.camera.url)}"
                self._lost(reason)
                raise CameraError(reason) from None
            self._lost("stopped" if self._stop.is_set() else "camera closed the stream")
        finally:
            container.close()  # may wait out the read timeout on a frozen camera

    def _stream_info(self, stream: av.video.stream.VideoStream) -> StreamInfo:
        rate = stream.average_rate or stream.guessed_rate or DEFAULT_FPS
        time_base = stream.time_base or Fraction(1, 90_000)
        frame_duration = max(1, round(1 / (Fraction(rate) * time_base)))
        return StreamInfo(
            camera=self.camera.name,
            connection=self._connection,
            codec="h264",
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            time_base=time_base,
            frame_duration=frame_duration,
            extradata=bytes(stream.codec_context.extradata or b""),
        )


def _with_extradata(info: StreamInfo, extradata: bytes) -> StreamInfo:
    return replace(info, extradata=extradata) if extradata else info


def _describe(exc: BaseException, url: str) -> str:
    """An error message with the camera URL (and its credentials) redacted."""
    text = str(exc).replace(url, redact_url(url))
    return text or exc.__class__.__name__
