"""A still of a camera for its owner's console: the newest keyframe in the camera's GOP cache, decoded with PyAV
and written as a JPEG with Pillow (both already on the box), no wider than asked and no larger than
`wire.messages.MAX_SNAPSHOT_BYTES` (the quality steps down until it fits).

Nothing is stored: the picture is made when the hub asks (for the camera's owner only) and goes out in the reply.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
from collections.abc import Callable

import av

from edge.recording.fanout import Fanout
from edge.recording.packets import MediaPacket
from wire import messages as m

logger = logging.getLogger(__name__)

#: JPEG qualities tried in turn until the picture fits the wire's bound.
QUALITIES = (85, 70, 55, 40, 25)


class SnapshotError(RuntimeError):
    """No still can be made; the message says why in words the owner can read."""


def decode_keyframe(packets: list[MediaPacket]) -> av.VideoFrame:
    """The first picture decoded from `packets` (a GOP: the first is a keyframe)."""
    if not packets or not packets[0].keyframe:
        raise SnapshotError("the camera has sent no picture yet")
    stream = packets[0].stream
    decoder = av.CodecContext.create(stream.codec, "r")
    if stream.extradata:
        decoder.extradata = stream.extradata
    try:
        for packet in packets:
            for frame in decoder.decode(av.Packet(packet.data)):
                return frame
        for frame in decoder.decode(None):  # the decoder may hold the keyframe back until flushed
            return frame
    except av.FFmpegError as exc:
        raise SnapshotError(f"the camera's latest picture could not be decoded ({exc})") from None
    raise SnapshotError("the camera's latest picture could not be decoded")


def jpeg_of(frame: av.VideoFrame, *, max_width: int, max_bytes: int = m.MAX_SNAPSHOT_BYTES) -> tuple[bytes, int, int]:
    """`frame` as a JPEG no wider than `max_width` and at most `max_bytes`; with its width and height."""
    image = frame.to_image()  # RGB, via Pillow
    if image.width > max_width:
        image = image.resize((max_width, max(1, round(image.height * max_width / image.width))))
    for quality in QUALITIES:
        out = io.BytesIO()
        image.save(out, format="JPEG", quality=quality, optimize=True)
        if out.tell() <= max_bytes:
            return out.getvalue(), image.width, image.height
    raise SnapshotError(f"the camera's picture does not fit in {max_bytes} bytes even at low quality")


class Snapshots:
    """Answers `SnapshotRequest` from each camera's GOP cache."""

    def __init__(self, fanout_for: Callable[[str], Fanout | None]) -> None:
        self._fanout_for = fanout_for

    def command_handlers(self) -> dict[type, Callable]:
        return {m.SnapshotRequest: self.take}

    def take(self, request: m.SnapshotRequest) -> m.SnapshotTaken:
        fanout = self._fanout_for(request.camera)
        if fanout is None:
            raise SnapshotError(f"no camera named {request.camera} on this box")
        packets = fanout.gop_cache.snapshot()
        frame = decode_keyframe(packets)
        jpeg, width, height = jpeg_of(frame, max_width=request.max_width)
        taken = dt.datetime.fromtimestamp(packets[0].wall_us / 1e6, dt.timezone.utc)
        logger.info("snapshot of %s for its owner: %dx%d, %d bytes", request.camera, width, height, len(jpeg))
        return m.SnapshotTaken(camera=request.camera, taken_at=taken, width=width, height=height,
                               jpeg=m.SnapshotTaken.encode_jpeg(jpeg))
