"""A torn last fragment is cut off (edge.recording.segment_file.trim_torn_tail) so a closed segment always decodes whole."""

from __future__ import annotations

import subprocess
from pathlib import Path

import av
import pytest

from edge.recording.segment_file import MOVFLAGS, trim_torn_tail


def fragmented(path: Path) -> Path:
    subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=160x96:rate=15", "-t", "1",
                    "-c:v", "libx264", "-bf", "0", "-g", "15", "-movflags", MOVFLAGS, "-f", "mp4", str(path)],
                   check=True)
    return path


def decoded(path: Path) -> int:
    with av.open(str(path)) as container:
        container.streams.video[0].codec_context.options = {"err_detect": "explode"}
        return sum(1 for _ in container.decode(video=0))


def test_a_whole_file_is_left_alone(tmp_path: Path):
    path = fragmented(tmp_path / "a.mp4")
    size = path.stat().st_size
    assert trim_torn_tail(path) == size == path.stat().st_size


@pytest.mark.parametrize("cut", [1, 7, 100, 600])
def test_half_a_fragment_at_the_end_is_cut_back_to_the_last_whole_frame(tmp_path: Path, cut: int):
    whole = fragmented(tmp_path / "whole.mp4")
    frames = decoded(whole)
    data = whole.read_bytes()
    torn = tmp_path / "torn.mp4"
    torn.write_bytes(data + data[-600:][:cut])  # the start of another fragment, cut short
    kept = trim_torn_tail(torn)
    assert kept == len(data) and torn.read_bytes() == data
    assert decoded(torn) == frames


def test_a_frame_cut_inside_its_mdat_is_dropped(tmp_path: Path):
    whole = fragmented(tmp_path / "whole.mp4")
    frames = decoded(whole)
    data = whole.read_bytes()
    torn = tmp_path / "torn.mp4"
    last_mdat = data.rindex(b"mdat") - 4
    torn.write_bytes(data[:last_mdat + 20])  # the last frame's data cut short (and the index after it)
    trim_torn_tail(torn)
    assert decoded(torn) == frames - 1
