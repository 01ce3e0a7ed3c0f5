"""Privacy masks: parts of the picture the owner never shares, painted out before a frame leaves the box.

This is the streamer's only transcode path, used only for cameras whose policy
has masks: the passthrough track's packets are decoded, the masked polygons
painted black in every plane, and the frames handed to aiortc, which encodes
them. Cameras without masks keep H.264 passthrough (about 2.5% of a core per
viewer instead of about 45%).

Polygons come in 0..1 image coordinates (`wire.consent.Policy.privacy_masks`)
and are rasterized once per picture size by scanline fill (even-odd, pixel
centres), so a frame costs one boolean-indexed write per plane.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

BLACK_Y, NEUTRAL_C = 16, 128  # video-range black, no colour

Polygon = Sequence[tuple[float, float]]


def rasterize(polygons: Sequence[Polygon], width: int, height: int) -> np.ndarray:
    """A (height, width) boolean image: True where a pixel centre lies inside any polygon."""
    covered = np.zeros((height, width), dtype=bool)
    centres = np.arange(width) + 0.5
    for polygon in polygons:
        points = np.array([(x * width, y * height) for x, y in polygon], dtype=float)
        x0, y0 = points[:, 0], points[:, 1]
        x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
        top, bottom = max(0, int(np.floor(y0.min()))), min(height, int(np.ceil(y0.max())) + 1)
        for row in range(top, bottom):
            y = row + 0.5
            crossing = (y0 <= y) != (y1 <= y)
            if not crossing.any():
                continue
            xs = np.sort(x0[crossing] + (y - y0[crossing]) * (x1[crossing] - x0[crossing]) / (y1[crossing] - y0[crossing]))
            inside = np.zeros(width, dtype=bool)
            for start, end in zip(xs[0::2], xs[1::2]):
                inside ^= (centres >= start) & (centres < end)
            covered[row] |= inside
    return covered


class MaskPainter:
    """Paints `polygons` out of yuv420p frames (masks cached per picture size)."""

    def __init__(self, polygons: Sequence[Polygon]) -> None:
        self.polygons = [tuple(map(tuple, polygon)) for polygon in polygons]
        self._cache: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def _masks(self, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
        key = (width, height)
        if key not in self._cache:
            luma = rasterize(self.polygons, width, height)
            chroma = rasterize(self.polygons, (width + 1) // 2, (height + 1) // 2)
            self._cache[key] = (luma, chroma)
        return self._cache[key]

    def paint(self, frame: av.VideoFrame) -> av.VideoFrame:
        """A copy of `frame` (same timing) with the masked areas black."""
        width, height = frame.width, frame.height
        if frame.format.name != "yuv420p" or width % 2 or height % 2:
            frame = frame.reformat(width=width + width % 2, height=height + height % 2, format="yuv420p")
            width, height = frame.width, frame.height
        luma, chroma = self._masks(width, height)
        planes = frame.to_ndarray()  # (height * 3 / 2, width): Y, then U and V each (height / 2, width / 2)
        y = planes[:height]
        u = planes[height:height + height // 4].reshape(height // 2, width // 2)
        v = planes[height + height // 4:].reshape(height // 2, width // 2)
        y[luma] = BLACK_Y
        u[chroma] = NEUTRAL_C
        v[chroma] = NEUTRAL_C
        painted = av.VideoFrame.from_ndarray(planes, format="yuv420p")
        painted.pts = frame.pts
        if frame.time_base is not None:
            painted.time_base = frame.time_base
        return painted


class MaskedTrack(MediaStreamTrack):
    """Decoded, masked frames from a passthrough track (`source`: a LiveTrack or PlaybackTrack)."""

    kind = "video"

    def __init__(self, source: MediaStreamTrack, polygons: Sequence[Polygon]) -> None:
        super().__init__()
        self.source = source
        self.painter = MaskPainter(polygons)
        self._decoder = av.CodecContext.create("h264", "r")

    async def recv(self) -> av.VideoFrame:
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            packet = await self.source.recv()
            painted = await asyncio.to_thread(self._decode_and_paint, packet)  # ~15 ms at 1080p: off the loop
            if painted is not None:
                return painted

    def _decode_and_paint(self, packet: av.Packet) -> av.VideoFrame | None:
        pts, time_base = packet.pts, packet.time_base
        for frame in self._decoder.decode(packet):
            frame.pts, frame.time_base = pts, time_base
            return self.painter.paint(frame)
        return None

    @property
    def packets_sent(self) -> int:
        return self.source.packets_sent

    def stop(self) -> None:
        self.source.stop()
        super().stop()
