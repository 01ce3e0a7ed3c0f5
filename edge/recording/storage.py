"""Where recordings live on disk, how segment files are named, hashing and free space.

    <data_dir>/index.sqlite3
    <data_dir>/recordings/<camera>/<YYYY-MM-DD>/<camera>-<YYYYMMDDTHHMMSS.ffffff>Z.mp4[.part]
    <data_dir>/quarantine/...      files that could not be read, kept for inspection
    <data_dir>/plates/reads.sqlite3, plates/thumbnails/...   plate reads (edge.alpr.reads)

A segment is written as `.part` and renamed when closed; the start time in
the name lets reconciliation index a file even if the index lost its row.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

PART_SUFFIX = ".part"
_NAME = re.compile(r"^(?P<camera>[a-z0-9][a-z0-9_-]{0,31})-(?P<stamp>\d{8}T\d{6}\.\d{6})Z\.mp4(?P<part>\.part)?$")
_HASH_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class SegmentName:
    camera: str
    start_us: int
    partial: bool


class Layout:
    """Paths under one data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.recordings = data_dir / "recordings"
        self.quarantine = data_dir / "quarantine"
        self.index_path = data_dir / "index.sqlite3"
        self.identity = data_dir / "identity"  # written by `canvass-provision enroll`
        self.outbox_path = data_dir / "link" / "outbox.sqlite3"
        self.hotlist_path = data_dir / "link" / "hotlist.json"
        self.checkpoint_path = data_dir / "link" / "audit-checkpoint.json"
        self.consent_path = data_dir / "consent.sqlite3"  # policies, the owner's pauses, the access log
        self.reads_path = data_dir / "plates" / "reads.sqlite3"  # one row per vehicle pass
        self.thumbnails = data_dir / "plates" / "thumbnails"  # <camera>/<YYYY-MM-DD>/<read id>.jpg
        self.requests_path = data_dir / "clips" / "requests.sqlite3"  # footage requests, their holds and orders
        self.cut_clips = data_dir / "clips" / "cut"  # <request id>/clip.mp4 + manifest.json, until uploaded

    def segment_relpath(self, camera: str, start_us: int) -> str:
        """Final (closed) path of a segment, relative to `recordings`."""
        when = datetime.fromtimestamp(start_us / 1_000_000, UTC)
        stamp = f"{when:%Y%m%dT%H%M%S}.{start_us % 1_000_000:06d}"
        return f"{camera}/{when:%Y-%m-%d}/{camera}-{stamp}Z.mp4"

    def absolute(self, relpath: str) -> Path:
        return self.recordings / relpath

    def make_dirs(self) -> None:
        self.recordings.mkdir(parents=True, exist_ok=True)


def parse_segment_name(filename: str) -> SegmentName | None:
    """Camera and start time from a segment file name, or None if it is not one."""
    match = _NAME.match(filename)
    if match is None:
        return None
    when = datetime.strptime(match["stamp"], "%Y%m%dT%H%M%S.%f").replace(tzinfo=UTC)
    seconds = int(when.replace(microsecond=0).timestamp())
    return SegmentName(match["camera"], seconds * 1_000_000 + when.microsecond, match["part"] is not None)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def free_bytes(path: Path) -> int:
    """Bytes available to this (unprivileged) process on the volume holding `path`."""
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


def fsync_dir(path: Path) -> None:
    """Make a rename in `path` durable."""
    _fsync(path, os.O_RDONLY | os.O_DIRECTORY)


def fsync_file(path: Path) -> None:
    """Make a file another writer (FFmpeg) has closed durable."""
    _fsync(path, os.O_RDONLY | os.O_CLOEXEC)


def _fsync(path: Path, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_empty_dirs(start: Path, stop: Path) -> None:
    """Remove `start` and its parents up to (not including) `stop` while they are empty."""
    current = start
    while current != stop and stop in current.parents:
        try:
            current.rmdir()
        except OSError:
            return
        current = current.parent
