"""Reading recorded footage back (edge.streaming.playback.Footage): order, boundaries, gaps, damaged and missing files."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from edge.recording.h264 import NAL_SPS, iter_nals, nal_type
from edge.recording.index import SegmentIndex
from edge.streaming.playback import Footage, Waiting

T0 = 1_800_000_000_000_000
S = 1_000_000
MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof+frag_every_frame"


def clip(path: Path, seconds: int = 2) -> Path:
    """A small fMP4 like the recorder's: 15 fps, a keyframe every second."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=160x96:rate=15",
                    "-t", str(seconds), "-c:v", "libx264", "-bf", "0", "-g", "15", "-sc_threshold", "0",
                    "-movflags", MOVFLAGS, "-f", "mp4", str(path)], check=True)
    return path


@pytest.fixture
def library(tmp_path: Path):
    recordings = tmp_path / "recordings"
    index = SegmentIndex(tmp_path / "index.sqlite3")
    made = {}
    for name, start in (("a", T0), ("b", T0 + 2 * S), ("missing", T0 + 4 * S), ("c", T0 + 10 * S)):
        if name != "missing":
            clip(recordings / f"cam1/{name}.mp4")
        made[name] = index.add_segment(camera="cam1", start_us=start, end_us=start + 2 * S, size=1, frames=30,
                                       sha256="0" * 64, path=f"cam1/{name}.mp4", state="closed")
    yield index, recordings
    index.close()


def frames(footage: Footage, limit: int = 500):
    out = []
    for item in footage.frames():
        assert not isinstance(item, Waiting), "waited although everything is recorded"
        out.append(item)
        if len(out) >= limit:
            break
    return out


def test_from_a_keyframe_through_boundaries_and_gaps_to_the_window_end(library):
    index, recordings = library
    footage = Footage(index, recordings, "cam1", start_us=T0 + 1_500_000, end_us=T0 + 11 * S)
    got = frames(footage)
    times = [f.at_us for f in got]
    assert times[0] == T0 + S and got[0].keyframe  # the keyframe at or before 1.5 s
    assert times == sorted(times) and len(set(times)) == len(times)
    assert times[-1] < T0 + 11 * S  # stops at the window's end
    # 15 frames left of a, all of b (30), the missing file skipped, c up to 11 s (15)
    assert len(got) == 15 + 30 + 15
    assert [f.after_gap for f in got].count(True) == 1 and got[45].at_us == T0 + 10 * S and got[45].after_gap
    assert all(f.data.startswith(b"\x00\x00\x00\x01") for f in got)  # Annex B for WebRTC
    keyframes = [f for f in got if f.keyframe]
    assert all(NAL_SPS in {nal_type(nal) for nal in iter_nals(f.data)} for f in keyframes), "a keyframe lacks SPS"


def test_a_damaged_segment_is_skipped_and_reading_goes_on(library, tmp_path: Path):
    index, recordings = library
    (recordings / "cam1/b.mp4").write_bytes(b"this is not an mp4 file" * 100)
    got = frames(Footage(index, recordings, "cam1", start_us=T0, end_us=T0 + 11 * S))
    assert len(got) == 30 + 15  # all of a, nothing of b, c up to 11 s
    assert got[29].at_us < T0 + 2 * S and got[30].at_us == T0 + 10 * S


def test_nothing_recorded_in_the_window(library):
    index, recordings = library
    footage = Footage(index, recordings, "cam1", start_us=T0 + 6 * S, end_us=T0 + 10 * S)
    assert not footage.recorded()
    assert Footage(index, recordings, "cam1", start_us=T0 + 5 * S, end_us=T0 + 10 * S + 1).recorded()
