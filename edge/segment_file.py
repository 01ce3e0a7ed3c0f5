"""One open segment: a fragmented MP4 written packet by packet, never transcoded.

Every frame is its own fragment and is flushed to the file as it is muxed
(`frag_every_frame`, `flush_packets`), and the file is fdatasync'ed every
`sync_every_frames` frames, so a SIGKILL or a power cut loses at most the
frame being written. SPS/PPS go into the MP4 header from the stream's
extradata, so cameras that send them only in the SDP still record.
"""

from __future__ import annotations

import io
import os
from fractions import Fraction
from pathlib import Path

import av

from edge.h264 import annexb_extradata, has_parameter_sets
from edge.packets import MediaPacket, StreamInfo

MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof+frag_every_frame"


def _template(first: MediaPacket) -> av.container.InputContainer:
    """A tiny demuxer over the first keyframe, whose stream describes the codec.

    `add_stream_from_template` copies codec parameters without opening an
    encoder (an encoder-backed stream would replace the camera's SPS/PPS
    with its own). SPS/PPS come from the keyframe or, for cameras that send
    them only in the SDP, from the connection's extradata."""
    keyframe = first.data
    if not has_parameter_sets(keyframe):
        keyframe = annexb_extradata(first.stream.extradata) + keyframe
    return av.open(io.BytesIO(keyframe), format="h264", options={"probesize": "32", "analyzeduration": "0"})


class SegmentFile:
    """Muxes the packets of one segment, starting with the keyframe `first`, into `path`."""

    def __init__(self, path: Path, first: MediaPacket, *, sync_every_frames: int) -> None:
        self.path = path
        self.stream = first.stream
        self.frames = 0
        self._sync_every = sync_every_frames
        self._origin: int | None = None  # dts of the first packet: segment time 0
        self._last_dts = -1
        self._file = open(path, "xb", buffering=0)  # noqa: SIM115 - closed in close()
        try:
            self._container = av.open(
                self._file, "w", format="mp4", options={"movflags": MOVFLAGS, "flush_packets": "1"}
            )
            with _template(first) as template:
                self._out = self._container.add_stream_from_template(template.streams.video[0])
            self._out.time_base = first.stream.time_base
        except BaseException:
            self._file.close()
            raise

    def write(self, packet: MediaPacket) -> None:
        """Mux one packet (timestamps rebased so the segment starts at 0)."""
        if self._origin is None:
            self._origin = packet.dts
        dts = max(packet.dts - self._origin, self._last_dts + 1)
        self._last_dts = dts
        out = av.Packet(packet.data)
        out.dts = dts
        out.pts = max(dts, packet.pts - self._origin)
        out.duration = packet.duration
        out.time_base = self.stream.time_base
        out.is_keyframe = packet.keyframe
        out.stream = self._out
        self._container.mux(out)
        self.frames += 1
        if self._sync_every and self.frames % self._sync_every == 0:
            os.fdatasync(self._file.fileno())

    @property
    def size(self) -> int:
        return self._file.tell() if not self._file.closed else self.path.stat().st_size

    def close(self) -> None:
        """Finish the file and make it durable; safe to call after a failed write."""
        try:
            self._container.close()
        finally:
            try:
                if not self._file.closed:
                    os.fdatasync(self._file.fileno())
            finally:
                self._file.close()


def frame_seconds(stream: StreamInfo) -> float:
    return float(Fraction(stream.frame_duration) * stream.time_base)
