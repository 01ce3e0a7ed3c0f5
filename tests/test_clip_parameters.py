"""A camera whose stream settings changed between two segments (a new resolution after a reconnect): the
passthrough clip carries the later segment's SPS/PPS in-band in front of its keyframes and every frame
decodes, at its own size (edge.clips.cut)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import av
import pytest

from edge.clips.cut import cut_clip, inband_parameter_sets
from edge.errors import ClipError
from edge.recording.h264 import NAL_PPS, NAL_SPS
from edge.recording.index import SegmentIndex
from edge.recording.segment_file import MOVFLAGS
from edge.recording.storage import sha256_file

T0 = 1_800_000_000_000_000
S = 1_000_000


def segment_file(path: Path, size: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=15", "-t", "2",
                    "-c:v", "libx264", "-bf", "0", "-g", "15", "-sc_threshold", "0", "-movflags", MOVFLAGS,
                    "-f", "mp4", str(path)], check=True)
    return path


def test_a_change_of_stream_parameters_between_segments_still_decodes_every_frame(tmp_path: Path):
    recordings = tmp_path / "recordings"
    index = SegmentIndex(tmp_path / "index.sqlite3")
    for name, size, start in (("small", "160x96", T0), ("large", "320x180", T0 + 2 * S)):
        path = segment_file(recordings / f"cam1/{name}.mp4", size)
        index.add_segment(camera="cam1", start_us=start, end_us=start + 2 * S, size=path.stat().st_size,
                          frames=30, sha256=sha256_file(path), path=f"cam1/{name}.mp4", state="closed")
    cut = cut_clip(index, recordings, "cam1", from_us=T0, to_us=T0 + 4 * S, out_path=tmp_path / "clip.mp4")
    index.close()
    with av.open(str(tmp_path / "clip.mp4")) as container:
        sizes = [(f.width, f.height) for f in container.decode(video=0)]
    assert cut.frames == len(sizes) == 60
    assert sizes[:30] == [(160, 96)] * 30 and sizes[30:] == [(320, 180)] * 30

    with av.open(str(recordings / "cam1/large.mp4")) as source:
        prefix = inband_parameter_sets(bytes(source.streams.video[0].codec_context.extradata))
    with av.open(str(tmp_path / "clip.mp4")) as container:
        packets = [bytes(p) for p in container.demux(video=0) if p.size]
    assert packets[30].startswith(prefix) and not packets[0].startswith(prefix)
    nal_types = []
    offset = 0
    while offset < len(prefix):
        length = int.from_bytes(prefix[offset:offset + 4], "big")
        nal_types.append(prefix[offset + 4] & 0x1F)
        offset += 4 + length
    assert nal_types == [NAL_SPS, NAL_PPS]


def test_parameters_that_are_not_an_avcc_record_are_refused():
    with pytest.raises(ClipError, match="not an avcC record"):
        inband_parameter_sets(b"\x00\x00\x00\x01\x67")
