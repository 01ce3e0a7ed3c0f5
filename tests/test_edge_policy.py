"""Pure policy: segment cutting, retention choices, timestamps, H.264 parsing, names."""

from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.recording.capture import TimestampFixer, WallClockMapper, backoff_delays
from edge.recording.h264 import annexb_extradata, avcc_to_annexb, iter_nals, nal_type, parameter_sets
from edge.recording.index import Segment
from edge.recording.recorder import CUT_TOLERANCE_US, should_cut
from edge.recording.retention import DAY_US, Budget, DiskUsage, age_cutoff_us, bytes_to_free, select_evictions
from edge.recording.storage import Layout, parse_segment_name


def _segment(i: int, size: int) -> Segment:
    return Segment(i, "cam", i * 60_000_000, (i + 1) * 60_000_000, size, 900, f"p{i}", "0" * 64, "closed")


def test_cut_only_at_a_keyframe_past_the_target():
    target = 60_000_000
    assert not should_cut(segment_start_us=0, packet_wall_us=61_000_000, keyframe=False, target_us=target)
    assert not should_cut(segment_start_us=0, packet_wall_us=59_000_000, keyframe=True, target_us=target)
    assert should_cut(segment_start_us=0, packet_wall_us=60_000_000, keyframe=True, target_us=target)


def test_cut_tolerates_timestamp_jitter_at_the_boundary():
    early = 60_000_000 - CUT_TOLERANCE_US // 2
    assert should_cut(segment_start_us=0, packet_wall_us=early, keyframe=True, target_us=60_000_000)


def test_bytes_to_free_takes_the_larger_shortfall():
    assert bytes_to_free(DiskUsage(100, 1000), Budget(None, 500)) == 0
    assert bytes_to_free(DiskUsage(100, 400), Budget(None, 500)) == 100
    assert bytes_to_free(DiskUsage(900, 400), Budget(700, 500)) == 200
    assert bytes_to_free(DiskUsage(900, 100), Budget(700, 500)) == 400


@given(st.lists(st.integers(0, 10_000), max_size=40), st.integers(0, 200_000))
def test_evictions_are_the_shortest_oldest_first_prefix(sizes, need):
    segments = [_segment(i, s) for i, s in enumerate(sizes)]
    chosen = select_evictions(segments, need)
    assert chosen == segments[: len(chosen)]
    freed = sum(s.bytes for s in chosen)
    if freed < need:
        assert chosen == segments  # only when everything was not enough
    elif chosen:
        assert freed - chosen[-1].bytes < need  # one fewer would not do


def test_age_cutoff():
    assert age_cutoff_us(30 * DAY_US, 30) == 0
    assert age_cutoff_us(10 * DAY_US, 0.5) == 9.5 * DAY_US


def test_backoff_is_exponential_and_capped():
    delays = backoff_delays(0.25, 2)
    assert [next(delays) for _ in range(6)] == [0.25, 0.5, 1, 2, 2, 2]


def test_timestamps_missing_on_the_first_keyframe_are_filled_not_dropped():
    fixer = TimestampFixer(frame_duration=6000)
    assert fixer.fix(None, None) == (0, 0)
    assert fixer.fix(5999, None) == (5999, 5999)
    assert fixer.fix(None, None) == (11999, 11999)
    assert fixer.fix(11000, 11000) == (12000, 12000)  # never goes backwards


def test_wall_clock_follows_camera_time_despite_jitter_and_connect_bursts():
    mapper = WallClockMapper(Fraction(1, 90_000))
    assert mapper.wall_us(0, 1_000_000) == 1_000_000
    assert mapper.wall_us(6000, 1_000_000) == 1_000_000  # burst on connect: the true offset is 66 ms earlier
    assert mapper.wall_us(90_000, 1_963_334) == 1_933_334  # a late arrival does not move the clock
    assert mapper.wall_us(96_000, 2_000_001) == 2_000_001 - 1  # smallest delay wins, times never go back
    assert mapper.wall_us(180_000, 9_000_000) == 9_000_000  # 6 s behind the box clock: re-anchored


def test_parameter_sets_found_in_annexb():
    sps, pps, idr = b"\x67\x42\x00\x1f", b"\x68\xce\x3c\x80", b"\x65\x88\x84"
    data = b"\x00\x00\x00\x01\x09\xf0" + b"\x00\x00\x00\x01" + sps + b"\x00\x00\x01" + pps + b"\x00\x00\x00\x01" + idr
    assert [nal_type(n) for n in iter_nals(data)] == [9, 7, 8, 5]
    assert parameter_sets(data) == b"\x00\x00\x00\x01" + sps + b"\x00\x00\x00\x01" + pps
    assert parameter_sets(b"\x00\x00\x00\x01" + idr) == b""


def test_avcc_extradata_becomes_annexb_parameter_sets():
    sps, pps = b"\x67\x42\x00\x1f\xe9", b"\x68\xce\x3c\x80"
    avcc = bytes([1, 0x42, 0x00, 0x1F, 0xFF, 0xE1]) + len(sps).to_bytes(2, "big") + sps + b"\x01"
    avcc += len(pps).to_bytes(2, "big") + pps
    annexb = b"\x00\x00\x00\x01" + sps + b"\x00\x00\x00\x01" + pps
    assert avcc_to_annexb(avcc) == annexb
    assert annexb_extradata(avcc) == annexb and annexb_extradata(annexb) == annexb
    with pytest.raises(ValueError, match="avcC"):
        avcc_to_annexb(b"\x00\x01")


@given(st.integers(0, 4_102_444_800_000_000), st.sampled_from(["front", "cam-2", "a_b"]))
def test_segment_names_roundtrip(start_us, camera):
    relpath = Layout(Path("/data")).segment_relpath(camera, start_us)
    name = parse_segment_name(relpath.rsplit("/", 1)[1])
    assert name is not None and (name.camera, name.start_us, name.partial) == (camera, start_us, False)
    assert parse_segment_name(relpath.rsplit("/", 1)[1] + ".part").partial


def test_foreign_files_are_not_segments():
    for name in ["notes.txt", "front-2026.mp4", "FRONT-20261123T042549.784746Z.mp4"]:
        assert parse_segment_name(name) is None
