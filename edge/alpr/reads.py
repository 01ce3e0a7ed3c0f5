"""Plate reads stored on the box: SQLite (WAL) rows plus a JPEG thumbnail per read.

One row per vehicle pass: text, confidence, camera, first and last seen
(integer microseconds, UTC), the box, the thumbnail's path relative to the
thumbnails directory, and the hot-list hit if any. Reads are kept as long as
the camera's video (`prune_past_retention`), thumbnails going with their rows. The thumbnail
is written (fsync, rename) before its row, so a row never names a missing file;
a thumbnail without a row (a crash between the two) is removed by `prune`.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

from edge.alpr.base import AlprError
from edge.config import CameraConfig
from edge.recording.retention import age_cutoff_us
from edge.sqlite import open_database

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS reads (
    id             TEXT PRIMARY KEY,
    camera         TEXT    NOT NULL,
    plate          TEXT    NOT NULL,
    confidence     REAL    NOT NULL,
    first_seen_us  INTEGER NOT NULL,
    last_seen_us   INTEGER NOT NULL,
    observations   INTEGER NOT NULL,
    thumbnail      TEXT,
    hit_list       TEXT,
    hit_plate      TEXT,
    hit_reason     TEXT
);
CREATE INDEX IF NOT EXISTS reads_camera_seen ON reads (camera, first_seen_us);
CREATE INDEX IF NOT EXISTS reads_seen ON reads (first_seen_us);
"""


class ReadStoreError(AlprError):
    """The reads database could not be read or written; what was stored stays (the transaction rolled back)."""


@dataclass(frozen=True, slots=True)
class StoredRead:
    id: str
    camera: str
    plate: str
    confidence: float
    first_seen_us: int
    last_seen_us: int
    observations: int
    thumbnail: Path | None
    hit_list: str | None = None
    hit_plate: str | None = None
    hit_reason: str | None = None

    def to_json(self) -> dict:
        return {
            "id": self.id, "camera": self.camera, "text": self.plate, "confidence": round(self.confidence, 4),
            "first_seen": _iso(self.first_seen_us), "last_seen": _iso(self.last_seen_us),
            "observations": self.observations, "thumbnail": str(self.thumbnail) if self.thumbnail else None,
            "hit": {"list": self.hit_list, "plate": self.hit_plate, "reason": self.hit_reason}
            if self.hit_list else None,
        }


def _iso(us: int) -> str:
    return datetime.fromtimestamp(us / 1_000_000, UTC).isoformat().replace("+00:00", "Z")


class ReadStore:
    """The reads database and thumbnails folder. Thread-safe (one connection behind a lock)."""

    def __init__(self, path: Path, thumbnails: Path, *, readonly: bool = False) -> None:
        self.path = path
        self.thumbnails = thumbnails
        self._lock = threading.Lock()
        try:
            self._db = open_database(path, readonly=readonly)  # `canvass-edge reads` reads while the agent writes
            if not readonly:
                self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise ReadStoreError(f"plate reads database {path}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def add(self, read: StoredRead, thumbnail: np.ndarray | None) -> StoredRead:
        """Store a read (and its thumbnail first); returns it with the thumbnail's path."""
        relative = self._write_thumbnail(read, thumbnail) if thumbnail is not None and thumbnail.size else None
        row = (read.id, read.camera, read.plate, read.confidence, read.first_seen_us, read.last_seen_us,
               read.observations, relative, read.hit_list, read.hit_plate, read.hit_reason)
        try:
            with self._lock:
                self._db.execute("INSERT INTO reads VALUES (?,?,?,?,?,?,?,?,?,?,?)", row)
        except sqlite3.Error as exc:
            raise ReadStoreError(f"could not store the read of {read.plate} on {read.camera}: {exc}") from exc
        return _stored(self.thumbnails, row)

    def _write_thumbnail(self, read: StoredRead, image: np.ndarray) -> str:
        day = datetime.fromtimestamp(read.first_seen_us / 1_000_000, UTC).strftime("%Y-%m-%d")
        relative = f"{read.camera}/{day}/{read.id}.jpg"
        target = self.thumbnails / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        if not ok:
            raise ReadStoreError(f"could not encode the thumbnail of {read.plate}")
        tmp = target.with_name(target.name + ".part")
        with open(tmp, "wb") as f:
            f.write(encoded.tobytes())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
        return relative

    def query(self, *, camera: str | None = None, from_us: int | None = None, to_us: int | None = None,
              limit: int = 10_000) -> list[StoredRead]:
        """Reads whose pass overlaps [from_us, to_us), oldest first."""
        sql = "SELECT * FROM reads WHERE 1=1"
        args: list = []
        if camera is not None:
            sql += " AND camera = ?"
            args.append(camera)
        if from_us is not None:
            sql += " AND last_seen_us >= ?"
            args.append(from_us)
        if to_us is not None:
            sql += " AND first_seen_us < ?"
            args.append(to_us)
        sql += " ORDER BY first_seen_us, id LIMIT ?"
        args.append(limit)
        try:
            with self._lock:
                rows = self._db.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise ReadStoreError(f"could not read {self.path}: {exc}") from exc
        return [_stored(self.thumbnails, row) for row in rows]

    def prune(self, *, camera: str, before_us: int) -> int:
        """Delete the camera's reads that ended before `before_us`, and their thumbnails; how many went."""
        try:
            with self._lock:
                rows = self._db.execute("SELECT id, thumbnail FROM reads WHERE camera = ? AND last_seen_us < ?",
                                        (camera, before_us)).fetchall()
                self._db.execute("DELETE FROM reads WHERE camera = ? AND last_seen_us < ?", (camera, before_us))
        except sqlite3.Error as exc:
            raise ReadStoreError(f"could not prune {self.path}: {exc}") from exc
        for _, relative in rows:  # rows first, then files: a crash between leaves orphans, never dangling rows
            if relative:
                (self.thumbnails / relative).unlink(missing_ok=True)
        self._remove_orphans(camera, before_us)
        return len(rows)

    def prune_past_retention(self, cameras: Iterable[CameraConfig], *, now_us: int) -> None:
        """Each camera's reads past its `retention_days` go (reads are kept as long as the camera's video).

        A camera whose reads could not be pruned is logged and tried again next time."""
        for camera in cameras:
            try:
                gone = self.prune(camera=camera.name, before_us=age_cutoff_us(now_us, camera.retention_days))
            except (AlprError, OSError) as exc:
                logger.warning("plate reads of %s not pruned: %s", camera.name, exc)
                continue
            if gone:
                logger.info("pruned %d plate reads of %s past %s days", gone, camera.name, camera.retention_days)

    def _remove_orphans(self, camera: str, before_us: int) -> None:
        """Files in day folders before the cutoff's day that no row names (a crash between file and row).

        A file a row still names stays (a pass that began before midnight and ended after the cutoff)."""
        folder = self.thumbnails / camera
        if not folder.is_dir():
            return
        cutoff_day = datetime.fromtimestamp(before_us / 1_000_000, UTC).strftime("%Y-%m-%d")
        for day in sorted(d for d in folder.iterdir() if d.is_dir() and d.name < cutoff_day):
            with self._lock:
                named = {row[0] for row in self._db.execute(
                    "SELECT thumbnail FROM reads WHERE thumbnail LIKE ?", (f"{camera}/{day.name}/%",))}
            for file in day.iterdir():
                if f"{camera}/{day.name}/{file.name}" not in named:
                    file.unlink(missing_ok=True)
            if not any(day.iterdir()):
                day.rmdir()


def _stored(thumbnails: Path, row: tuple) -> StoredRead:
    return StoredRead(row[0], row[1], row[2], row[3], row[4], row[5], row[6],
                      thumbnails / row[7] if row[7] else None, row[8], row[9], row[10])


def new_read_id() -> str:
    return str(uuid.uuid4())
