"""Retention and reconciliation on real files, a real index and real MP4 segments."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from edge.config import CameraConfig, RecordingConfig
from edge.recording.index import SegmentIndex
from edge.recording.packets import MediaPacket, StreamInfo
from edge.recording.reconcile import probe_segment, reconcile
from edge.recording.retention import ALARM_DISK, ALARM_HOLDS, DAY_US, Retention
from edge.recording.segment_file import SegmentFile
from edge.recording.storage import PART_SUFFIX, Layout, sha256_file
from sim.clip import ClipSpec, prepare_clip

MB = 1 << 20
S = 1_000_000
NOW_US = 1_800_000_000 * S


@pytest.fixture(scope="module")
def clip_units(tmp_path_factory) -> list[bytes]:
    spec = ClipSpec(width=320, height=180, fps=15, bitrate_kbps=300, loop_seconds=4, seed=9)
    return prepare_clip(spec, "cam9", tmp_path_factory.mktemp("clips")).access_units


def write_segment(path: Path, units: list[bytes], frames: int) -> bytes:
    """A real fragmented MP4 as the recorder writes it; returns what was on disk before close()."""
    info = StreamInfo("cam1", 1, "h264", 320, 180, Fraction(1, 90_000), 6000, b"")
    packets = [MediaPacket(info, units[n], n * 6000, n * 6000, 6000, n % 15 == 0, n * 66_666) for n in range(frames)]
    path.parent.mkdir(parents=True, exist_ok=True)
    segment = SegmentFile(path, packets[0], syncer=None)
    for packet in packets:
        segment.write(packet)
    before_close = path.read_bytes()
    segment.close()
    return before_close


class Volume:
    """A simulated volume for the free-space rule: capacity minus the files on it."""

    def __init__(self, root: Path, capacity: int) -> None:
        self.root, self.capacity = root, capacity

    def free(self, _path: Path) -> int:
        return self.capacity - sum(p.stat().st_size for p in self.root.rglob("*.mp4"))


def _setup(tmp_path: Path, sizes: dict[str, list[int]], **recording) -> tuple[Layout, SegmentIndex, dict[str, list[int]]]:
    layout = Layout(tmp_path)
    layout.make_dirs()
    index = SegmentIndex(layout.index_path)
    ids: dict[str, list[int]] = {}
    for camera, camera_sizes in sizes.items():
        for n, size in enumerate(camera_sizes):
            start = NOW_US - DAY_US + n * 60 * S
            relpath = layout.segment_relpath(camera, start)
            path = layout.absolute(relpath)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"\0" * size)
            ids.setdefault(camera, []).append(
                index.add_segment(camera=camera, start_us=start, end_us=start + 60 * S, size=size, frames=900,
                                  sha256="0" * 64, path=relpath, state="closed")  # fmt: skip
            )
    return layout, index, ids


def _retention(layout, index, cameras=("a", "b"), days=30, **recording) -> Retention:
    configs = [CameraConfig(name=c, url="rtsp://127.0.0.1/x", retention_days=days) for c in cameras]
    recording.setdefault("min_free_bytes", 0)
    return Retention(configs, RecordingConfig(**recording), layout, index, clock=lambda: NOW_US / S)


def test_budget_evicts_oldest_first_across_cameras_and_keeps_held(tmp_path: Path):
    layout, index, ids = _setup(tmp_path, {"a": [MB] * 5, "b": [MB] * 5})
    held = index.segment(ids["a"][0])
    index.add_hold(camera="a", start_us=held.start_us, end_us=held.end_us, reason="request 12")
    retention = _retention(layout, index, max_bytes=5 * MB)
    result = retention.run_pass()
    left = {s.id for c in "ab" for s in index.segments(c)}
    # a0 is held; the oldest others (a1, b0, a2, b1 by start time) went first.
    assert left == {ids["a"][0], ids["a"][3], ids["a"][4], ids["b"][3], ids["b"][4]}
    assert result.evicted == 5 and result.still_needed_bytes == 0
    assert index.stored_bytes() <= 5 * MB
    assert all(layout.absolute(s.path).exists() for c in "ab" for s in index.segments(c))
    assert len(list(layout.recordings.rglob("*.mp4"))) == 5
    assert index.alarms() == []


def test_holds_over_budget_evict_all_unheld_raise_an_alarm_and_spare_open_segments(tmp_path: Path):
    layout, index, ids = _setup(tmp_path, {"a": [MB] * 6})
    index.add_hold(camera="a", start_us=0, end_us=NOW_US - DAY_US + 240 * S, reason="request 3")  # a0-a3
    open_id = index.open_segment(camera="a", start_us=NOW_US, path="a/open.mp4.part")
    result = _retention(layout, index, cameras=("a",), max_bytes=2 * MB).run_pass()
    assert {s.id for s in index.segments("a")} == {*ids["a"][:4], open_id}
    assert result.still_needed_bytes == 2 * MB
    assert [a.key for a in index.alarms()] == [ALARM_HOLDS]
    index.remove_hold(index.holds()[0].id)
    _retention(layout, index, cameras=("a",), max_bytes=2 * MB).run_pass()
    assert index.alarms() == []


def test_free_space_rule_and_alarm_when_nothing_is_left(tmp_path: Path):
    layout, index, _ = _setup(tmp_path, {"a": [MB] * 4})
    retention = _retention(layout, index, cameras=("a",), min_free_bytes=3 * MB)
    volume = Volume(layout.recordings, capacity=5 * MB)
    retention._free_bytes = volume.free
    retention.run_pass()
    assert len(index.segments("a")) == 2 and volume.free(tmp_path) == 3 * MB
    volume.capacity = 2 * MB
    retention.run_pass()
    assert index.segments("a") == []
    assert [a.key for a in index.alarms()] == [ALARM_DISK]


def test_age_expiry_follows_each_cameras_retention_days(tmp_path: Path):
    layout, index, _ = _setup(tmp_path, {"a": [10, 10], "b": [10, 10]})
    configs = [CameraConfig(name="a", url="rtsp://h/x", retention_days=0.5),
               CameraConfig(name="b", url="rtsp://h/x", retention_days=2)]  # fmt: skip
    gap = index.open_gap(camera="a", start_us=0, reason="old outage")
    index.close_gap(gap, end_us=S)
    Retention(configs, RecordingConfig(min_free_bytes=0), layout, index, clock=lambda: NOW_US / S).run_pass()
    assert index.segments("a") == [] and len(index.segments("b")) == 2
    assert index.gaps("a") == []
    assert not (layout.recordings / "a").exists(), "empty folders are removed"


def test_reconcile_recovers_quarantines_adopts_and_drops(tmp_path: Path, clip_units):
    layout = Layout(tmp_path)
    layout.make_dirs()
    index = SegmentIndex(layout.index_path)

    def rel(n: int) -> str:
        return layout.segment_relpath("cam1", NOW_US + n * 60 * S)

    # 1. the agent died while writing: an open row and its .part file
    crashed = index.open_segment(camera="cam1", start_us=NOW_US, path=rel(0) + PART_SUFFIX)
    write_segment(layout.absolute(rel(0) + PART_SUFFIX), clip_units, 30)
    # 2. power cut in the middle of the last fragment
    torn = index.open_segment(camera="cam1", start_us=NOW_US + 60 * S, path=rel(1) + PART_SUFFIX)
    torn_path = layout.absolute(rel(1) + PART_SUFFIX)
    # The muxer writes a frame's fragment when the next frame arrives (it needs the
    # duration), so while writing frame 30 the file holds 29; tear the 29th.
    on_disk_while_writing = write_segment(torn_path, clip_units, 30)
    torn_path.write_bytes(on_disk_while_writing[: -len(clip_units[28]) // 2])
    # 3. an open row whose file is garbage
    index.open_segment(camera="cam1", start_us=NOW_US + 120 * S, path=rel(2) + PART_SUFFIX)
    layout.absolute(rel(2) + PART_SUFFIX).write_bytes(b"not an mp4 at all")
    # 4. a closed row whose file vanished
    index.add_segment(camera="cam1", start_us=NOW_US - 60 * S, end_us=NOW_US, size=1, frames=1, sha256="0" * 64,
                      path=rel(-1), state="closed")  # fmt: skip
    # 5. a segment file nobody indexed, and a stray file
    write_segment(layout.absolute(rel(3)), clip_units, 20)
    (layout.recordings / "cam1" / "notes.txt").write_text("hello")

    report = reconcile(layout, index)

    segments = {s.path: s for s in index.segments("cam1")}
    assert set(segments) == {rel(0), rel(1), rel(3)}
    assert segments[rel(0)].id == crashed and segments[rel(0)].frames == 30
    assert segments[rel(1)].id == torn and segments[rel(1)].frames == 28, "a torn write costs that frame only"
    assert segments[rel(3)].start_us == NOW_US + 180 * S and segments[rel(3)].frames == 20
    for segment in segments.values():
        path = layout.absolute(segment.path)
        assert segment.state == "recovered" and sha256_file(path) == segment.sha256
        assert segment.end_us - segment.start_us == pytest.approx(segment.frames * S / 15, abs=2)
    assert sorted(report.quarantined) == sorted([rel(2) + PART_SUFFIX, "cam1/notes.txt"])
    assert (layout.quarantine / "cam1" / "notes.txt").exists()
    assert report.vanished == 1
    assert not list(layout.recordings.rglob("*.part"))
    assert reconcile(layout, index).__str__() == "0 recovered, 0 orphans indexed, 0 quarantined, 0 vanished"


def test_probe_reads_frames_of_a_real_segment(tmp_path: Path, clip_units):
    path = tmp_path / "s.mp4"
    write_segment(path, clip_units, 45)
    probe = probe_segment(path)
    assert probe is not None and probe.frames == 45 and probe.duration_us == 3_000_000
    assert probe_segment(tmp_path / "missing.mp4") is None
