"""The segment syncer: every open segment made durable each interval, never a closed descriptor."""

from __future__ import annotations

import os
import threading
import time
from fractions import Fraction
from pathlib import Path

import pytest

from edge.recording.durability import Syncer
from edge.recording.packets import MediaPacket, StreamInfo
from edge.recording.segment_file import SegmentFile
from sim.clip import ClipSpec, prepare_clip
from tests.edge_support import decode_all, wait_for


@pytest.fixture(scope="module")
def packets(tmp_path_factory) -> list[MediaPacket]:
    spec = ClipSpec(width=320, height=180, fps=15, bitrate_kbps=300, loop_seconds=4, seed=11)
    units = prepare_clip(spec, "cam11", tmp_path_factory.mktemp("clips")).access_units
    info = StreamInfo("cam1", 1, "h264", 320, 180, Fraction(1, 90_000), 6000, b"")
    return [MediaPacket(info, u, n * 6000, n * 6000, 6000, n % 15 == 0, n * 66_666) for n, u in enumerate(units)]


FAILED_SYNCS: list[OSError] = []


@pytest.fixture
def fdatasyncs(monkeypatch) -> list[int]:
    """Record every fdatasync (and still do it); failures go to FAILED_SYNCS (the syncer swallows them)."""
    calls: list[int] = []
    real = os.fdatasync
    FAILED_SYNCS.clear()

    def counting(fd: int) -> None:
        calls.append(fd)
        try:
            real(fd)
        except OSError as exc:
            FAILED_SYNCS.append(exc)
            raise

    monkeypatch.setattr(os, "fdatasync", counting)
    return calls


def test_dirty_segments_are_synced_by_the_syncer_not_the_writer(tmp_path: Path, packets, fdatasyncs) -> None:
    syncer = Syncer(interval_s=0.02)
    segment = SegmentFile(tmp_path / "a.mp4.part", packets[0], syncer=syncer)
    for packet in packets[:5]:
        segment.write(packet)
    assert fdatasyncs == [], "the writer itself never blocks on fdatasync"
    syncer.start()
    wait_for(lambda: fdatasyncs, timeout=5, what="a sync pass")
    count = len(fdatasyncs)
    passes = syncer.passes
    wait_for(lambda: syncer.passes >= passes + 3, timeout=5, what="three more passes")
    assert len(fdatasyncs) == count, "a file with nothing new is not synced again"
    segment.write(packets[5])
    wait_for(lambda: len(fdatasyncs) > count, timeout=5, what="the new frame synced")
    segment.close()
    syncer.stop()
    assert decode_all(tmp_path / "a.mp4.part") == 6


def test_without_a_syncer_every_frame_is_synced_inline(tmp_path: Path, packets, fdatasyncs) -> None:
    segment = SegmentFile(tmp_path / "b.mp4.part", packets[0], syncer=None)
    for packet in packets[:4]:
        segment.write(packet)
    assert len(fdatasyncs) == 4
    segment.close()


def test_closing_while_the_syncer_runs_never_syncs_a_closed_descriptor(tmp_path: Path, packets, fdatasyncs) -> None:
    """Writers open and close segments while the syncer loops: every fdatasync hits a live descriptor."""
    syncer = Syncer(interval_s=0.001)
    syncer.start()
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for k in range(15):
                segment = SegmentFile(tmp_path / f"w{n}-{k}.mp4.part", packets[0], syncer=syncer)
                for packet in packets[:3]:
                    segment.write(packet)
                    time.sleep(0.001)
                segment.close()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    syncer.stop()
    assert not errors
    assert not FAILED_SYNCS, "an fdatasync hit a closed descriptor"
    assert syncer.passes > 0 and fdatasyncs
    assert not syncer._files, "closed segments are unregistered"  # noqa: SLF001


def test_sync_interval_is_configurable_and_bounded() -> None:
    from pydantic import ValidationError

    from edge.config import RecordingConfig

    assert RecordingConfig().sync_interval_ms == 66
    assert RecordingConfig(sync_interval_ms=0).sync_interval_ms == 0
    with pytest.raises(ValidationError, match="sync_interval_ms"):
        RecordingConfig(sync_interval_ms=60_000)
