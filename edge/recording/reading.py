"""Reading recorded segments back: the frames of one segment from a moment on, as they were stored.

Shared by playback (`edge.streaming.playback`, which turns them into Annex B
for WebRTC) and the clip cutter (`edge.clips.cut`, which copies them into an
MP4 as they are). Blocking I/O: call it from a worker thread.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import av

from edge.recording.index import Segment

log = logging.getLogger(__name__)

# The MP4 header already describes the stream: probing frames for it took 40 of 70 ms per open (60 s of 1080p).
OPEN_OPTIONS = {"probesize": "32", "analyzeduration": "0"}


def open_recorded(path: Path) -> av.container.InputContainer:
    """A recorded segment opened for demuxing (OSError or av.FFmpegError if it cannot be)."""
    return av.open(str(path), options=OPEN_OPTIONS)


def recorded_packets(container: av.container.InputContainer, segment: Segment, from_us: int, *,
                     reader: str) -> Iterator[tuple[av.Packet, int]]:
    """The segment's whole frames from the keyframe at or before `from_us`, each with the wall-clock time
    (µs) it was recorded at.

    fMP4 seeks land exactly on that keyframe. A torn frame ends the read of a segment still being written
    (the recorder is mid-frame: it is whole next time); a damaged frame of a closed segment is skipped; a
    read error ends the read. `reader` names who reads, for the log ("playback of cam1").
    """
    stream = container.streams.video[0]
    tb = stream.time_base
    if from_us > segment.start_us:
        container.seek(int((from_us - segment.start_us) / 1_000_000 / tb), stream=stream, backward=True)
    try:
        for packet in container.demux(stream):
            if packet.is_corrupt:
                if segment.state == "open":
                    return
                log.warning("%s skips a damaged frame in %s", reader, segment.path)
                continue
            if packet.size == 0 or packet.pts is None:
                continue
            yield packet, segment.start_us + int(packet.pts * tb * 1_000_000)
    except av.FFmpegError as exc:  # a torn tail (the recorder is mid-frame) or a damaged file
        log.debug("%s stops reading %s: %s", reader, segment.path, exc)
