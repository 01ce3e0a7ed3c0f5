"""One open segment: a fragmented MP4 written packet by packet, never transcoded.

Every frame is its own fragment and is flushed to the file as it is muxed
(`frag_every_frame`, `flush_packets`), so a SIGKILL loses at most the frame
being written. The file is made durable by a `Syncer` that fdatasyncs every
open segment each sync interval (a power cut loses at most that interval),
or, with no syncer, after every frame on the writer's own thread. SPS/PPS go
into the MP4 header from the stream's extradata, so cameras that send them
only in the SDP still record.
"""

from __future__ import annotations

import io
import os
import threading
from fractions import Fraction
from pathlib import Path

import av

from edge.recording.durability import Syncer
from edge.recording.h264 import annexb_extradata, has_parameter_sets
from edge.recording.packets import MediaPacket, StreamInfo

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

    def __init__(self, path: Path, first: MediaPacket, *, syncer: Syncer | None) -> None:
        self.path = path
        self.stream = first.stream
        self.frames = 0
        self._syncer = syncer
        self._sync_lock = threading.Lock()  # the syncer never fdatasyncs a closed (or reused) descriptor
        self._dirty = False
        self._origin: int | None = None  # dts of the first packet: segment time 0
        self._last_dts = -1
        # Created here (O_EXCL: never overwrite a segment); FFmpeg writes through its own
        # file protocol, with no Python call per write, and this descriptor is kept for
        # fdatasync and the size (Linux syncs the inode whichever descriptor asks).
        self._fd: int | None = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o640)
        try:
            self._container = av.open(
                f"file:{path}", "w", format="mp4", options={"movflags": MOVFLAGS, "flush_packets": "1"}
            )
            with _template(first) as template:
                self._out = self._container.add_stream_from_template(template.streams.video[0])
            self._out.time_base = first.stream.time_base
        except BaseException:
            os.close(self._fd)
            self._fd = None
            raise
        if syncer is not None:
            syncer.register(self)

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
        if self._syncer is None:
            os.fdatasync(self._fd)
        else:
            self._dirty = True

    def sync_if_dirty(self) -> None:
        """fdatasync if frames were written since the last sync (called by the syncer's thread)."""
        with self._sync_lock:
            if self._dirty and self._fd is not None:
                self._dirty = False
                os.fdatasync(self._fd)

    @property
    def size(self) -> int:
        """Bytes on disk so far (read by other threads: by path, never by a descriptor that may close)."""
        try:
            return self.path.stat().st_size
        except OSError:
            return 0  # renamed or gone: counted by the index from now on

    def close(self) -> None:
        """Finish the file and make it durable; safe to call after a failed write."""
        if self._syncer is not None:
            self._syncer.unregister(self)
        try:
            self._container.close()
        finally:
            with self._sync_lock:
                fd, self._fd = self._fd, None
                if fd is not None:
                    try:
                        os.fdatasync(fd)
                    finally:
                        os.close(fd)


def frame_seconds(stream: StreamInfo) -> float:
    return float(Fraction(stream.frame_duration) * stream.time_base)


def trim_torn_tail(path: Path) -> int:
    """Cut a fragmented MP4 back to its last whole fragment (moof + mdat); returns the size kept.

    A write that failed part-way (ENOSPC, a crash) can leave half a fragment at the end: the index would
    then vouch (by hash) for a file whose last frame does not decode. Only top-level box headers are read.
    """
    size = path.stat().st_size
    keep = offset = 0
    with open(path, "r+b") as f:
        while offset + 8 <= size:
            f.seek(offset)
            header = f.read(16)
            length, kind = int.from_bytes(header[:4], "big"), header[4:8]
            if length == 1 and len(header) == 16:
                length = int.from_bytes(header[8:16], "big")
            if length < 8 or offset + length > size:
                break  # a box cut short: the torn tail starts here
            offset += length
            if kind != b"moof":  # after ftyp, moov, and each mdat, the file is whole up to here
                keep = offset
        if keep < size:
            f.truncate(keep)
            os.fsync(f.fileno())
    return keep
