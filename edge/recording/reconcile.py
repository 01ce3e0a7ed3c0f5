"""Make the index agree with the files on disk at start, with no manual repair.

- A segment still marked open (the agent died while writing it): its `.part`
  file is probed; readable frames are kept (renamed, hashed, indexed as
  `recovered`), an unreadable file is quarantined.
- Indexed files that vanished are dropped from the index.
- Files nobody indexed (orphans) are indexed if readable, else quarantined.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av

from edge.recording.index import SegmentIndex
from edge.recording.storage import PART_SUFFIX, Layout, fsync_dir, parse_segment_name, sha256_file

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Probe:
    """What a segment file holds: its frame count and duration."""

    frames: int
    duration_us: int


@dataclass(slots=True)
class ReconcileReport:
    recovered: list[str] = field(default_factory=list)
    orphans_indexed: list[str] = field(default_factory=list)
    quarantined: list[str] = field(default_factory=list)
    vanished: int = 0

    def __str__(self) -> str:
        return (
            f"{len(self.recovered)} recovered, {len(self.orphans_indexed)} orphans indexed, "
            f"{len(self.quarantined)} quarantined, {self.vanished} vanished"
        )


def probe_segment(path: Path) -> Probe | None:
    """Count the frames of an MP4 segment by demuxing it; None if unreadable or empty."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return None
            stream = container.streams.video[0]
            first = last = None
            frames = 0
            last_duration = 0
            for packet in container.demux(stream):
                if packet.size == 0 or packet.pts is None or packet.is_corrupt:  # a torn last write
                    continue
                frames += 1
                first = packet.pts if first is None else min(first, packet.pts)
                last = packet.pts if last is None else max(last, packet.pts)
                last_duration = packet.duration or last_duration
    except (av.error.FFmpegError, OSError):
        return None
    if frames == 0 or first is None or last is None:
        return None
    ticks = last - first + last_duration
    return Probe(frames, int(Fraction(ticks) * stream.time_base * 1_000_000))


def _scan(recordings: Path) -> set[str]:
    found: set[str] = set()
    if not recordings.is_dir():
        return found
    for root, _dirs, files in os.walk(recordings):
        rel_root = os.path.relpath(root, recordings)
        for name in files:
            found.add(name if rel_root == "." else f"{rel_root}/{name}")
    return found


def reconcile(layout: Layout, index: SegmentIndex) -> ReconcileReport:
    """Bring `index` in line with the files under `layout.recordings`."""
    report = ReconcileReport()
    on_disk = _scan(layout.recordings)
    indexed = index.all_paths()
    open_ids = {s.id for s in index.open_segments()}

    vanished = [i for p, i in indexed.items() if p not in on_disk and i not in open_ids]
    index.delete_segments(vanished)
    report.vanished = len(vanished)

    for segment in index.open_segments():
        _recover_open(layout, index, segment.id, segment.path, segment.start_us, on_disk, report)

    for relpath in sorted(on_disk - set(indexed)):
        _adopt_orphan(layout, index, relpath, set(indexed), report)

    if report.recovered or report.orphans_indexed or report.quarantined or report.vanished:
        logger.warning("reconciled the index with the disk: %s", report)
    return report


def _recover_open(
    layout: Layout, index: SegmentIndex, segment_id: int, relpath: str, start_us: int, on_disk: set[str], report: ReconcileReport
) -> None:
    final_rel = relpath.removesuffix(PART_SUFFIX)
    part_rel = final_rel + PART_SUFFIX
    source = part_rel if part_rel in on_disk else final_rel if final_rel in on_disk else None
    on_disk.discard(part_rel)
    on_disk.discard(final_rel)
    if source is None:
        index.delete_segments([segment_id])
        report.vanished += 1
        return
    probe = probe_segment(layout.absolute(source))
    if probe is None:
        _quarantine(layout, source, report)
        index.delete_segments([segment_id])
        return
    final = _finish_file(layout, source, final_rel)
    index.close_segment(
        segment_id,
        end_us=start_us + probe.duration_us,
        size=final.stat().st_size,
        frames=probe.frames,
        sha256=sha256_file(final),
        path=final_rel,
        state="recovered",
    )
    report.recovered.append(final_rel)


def _adopt_orphan(layout: Layout, index: SegmentIndex, relpath: str, indexed: set[str], report: ReconcileReport) -> None:
    name = parse_segment_name(Path(relpath).name)
    probe = probe_segment(layout.absolute(relpath)) if name is not None else None
    if name is None or probe is None:
        _quarantine(layout, relpath, report)
        return
    final_rel = relpath.removesuffix(PART_SUFFIX)
    if final_rel != relpath and (final_rel in indexed or layout.absolute(final_rel).exists()):
        _quarantine(layout, relpath, report)  # a stale copy of an indexed segment
        return
    final = _finish_file(layout, relpath, final_rel)
    index.add_segment(
        camera=name.camera,
        start_us=name.start_us,
        end_us=name.start_us + probe.duration_us,
        size=final.stat().st_size,
        frames=probe.frames,
        sha256=sha256_file(final),
        path=final_rel,
        state="recovered",
    )
    report.orphans_indexed.append(final_rel)


def _finish_file(layout: Layout, source_rel: str, final_rel: str) -> Path:
    final = layout.absolute(final_rel)
    if source_rel != final_rel:
        os.replace(layout.absolute(source_rel), final)
        fsync_dir(final.parent)
    return final


def _quarantine(layout: Layout, relpath: str, report: ReconcileReport) -> None:
    target = layout.quarantine / relpath
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(layout.absolute(relpath), target)
    report.quarantined.append(relpath)
    logger.warning("quarantined unreadable file %s", relpath)
