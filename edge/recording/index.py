"""The segment index: SQLite (WAL) of segments, gaps, holds, camera state and alarms.

Times are integer microseconds since the Unix epoch, UTC wall-clock from the
box. Paths are relative to the recordings directory so a data directory can
be moved. One connection is shared by the agent's threads behind a lock;
other processes (the `segments` and `status` commands) open their own.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from edge.errors import SegmentIndexError
from edge.sqlite import open_database

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS segments (
    id        INTEGER PRIMARY KEY,
    camera    TEXT    NOT NULL,
    start_us  INTEGER NOT NULL,
    end_us    INTEGER,
    bytes     INTEGER NOT NULL DEFAULT 0,
    frames    INTEGER,
    path      TEXT    NOT NULL UNIQUE,
    sha256    TEXT,
    state     TEXT    NOT NULL CHECK (state IN ('open', 'closed', 'recovered'))
);
CREATE INDEX IF NOT EXISTS segments_camera_start ON segments (camera, start_us);
CREATE INDEX IF NOT EXISTS segments_start ON segments (start_us);
CREATE INDEX IF NOT EXISTS segments_open ON segments (camera) WHERE state = 'open';
CREATE TABLE IF NOT EXISTS gaps (
    id        INTEGER PRIMARY KEY,
    camera    TEXT    NOT NULL,
    start_us  INTEGER NOT NULL,
    end_us    INTEGER,
    reason    TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS gaps_camera_start ON gaps (camera, start_us);
CREATE TABLE IF NOT EXISTS holds (
    id          INTEGER PRIMARY KEY,
    camera      TEXT    NOT NULL,
    start_us    INTEGER NOT NULL,
    end_us      INTEGER NOT NULL,
    reason      TEXT    NOT NULL,
    expires_us  INTEGER,
    CHECK (end_us > start_us)
);
CREATE TABLE IF NOT EXISTS camera_state (
    camera          TEXT PRIMARY KEY,
    state           TEXT    NOT NULL,
    since_us        INTEGER NOT NULL,
    last_packet_us  INTEGER,
    detail          TEXT    NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS alarms (
    key       TEXT PRIMARY KEY,
    level     TEXT    NOT NULL,
    message   TEXT    NOT NULL,
    since_us  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key    TEXT PRIMARY KEY,
    value  INTEGER NOT NULL
);
"""

# A segment overlaps an active hold on its camera.
_HELD = """EXISTS (SELECT 1 FROM holds h WHERE h.camera = s.camera
                  AND h.start_us < COALESCE(s.end_us, 9223372036854775807) AND h.end_us > s.start_us
                  AND (h.expires_us IS NULL OR h.expires_us > :now))"""


@dataclass(frozen=True, slots=True)
class Segment:
    """One recorded file. `end_us`, `sha256` and `frames` are None while open."""

    id: int
    camera: str
    start_us: int
    end_us: int | None
    bytes: int
    frames: int | None
    path: str
    sha256: str | None
    state: str


@dataclass(frozen=True, slots=True)
class Gap:
    """A time the camera was not recorded; `end_us` is None while it lasts."""

    id: int
    camera: str
    start_us: int
    end_us: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class Hold:
    """A time range of one camera that retention must keep (e.g. an approved request)."""

    id: int
    camera: str
    start_us: int
    end_us: int
    reason: str
    expires_us: int | None


@dataclass(frozen=True, slots=True)
class CameraState:
    camera: str
    state: str
    since_us: int
    last_packet_us: int | None
    detail: str


@dataclass(frozen=True, slots=True)
class Alarm:
    key: str
    level: str
    message: str
    since_us: int


_NEVER = 9223372036854775807
_SEGMENT_COLUMNS = "s.id, s.camera, s.start_us, s.end_us, s.bytes, s.frames, s.path, s.sha256, s.state"


class SegmentIndex:
    """Thread-safe access to the index database at `path`."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        self._lock = threading.RLock()
        try:
            self._db = open_database(path, readonly=readonly)
            if not readonly:
                self._migrate()
        except sqlite3.Error as exc:
            raise SegmentIndexError(f"cannot open index {path}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _migrate(self) -> None:
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        if version > SCHEMA_VERSION:
            raise SegmentIndexError(f"index {self.path} has schema {version}, newer than this agent ({SCHEMA_VERSION})")
        self._db.executescript(_SCHEMA)
        self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; rolled back (nothing half-written) on any error."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                full = getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
                raise SegmentIndexError(f"index write failed: {exc}", disk_full=full) from exc

    def _read(self, sql: str, params: dict | tuple = ()) -> list[tuple]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise SegmentIndexError(f"index read failed: {exc}") from exc

    # -- segments ---------------------------------------------------------

    def open_segment(self, *, camera: str, start_us: int, path: str, ends_gap: int | None = None) -> int:
        """Record a segment that has started; returns its id. `ends_gap`: the open gap this segment ends, closed at
        the segment's start in the same transaction (no reader sees recording resumed beside a gap still open)."""
        with self._write() as db:
            cursor = db.execute(
                "INSERT INTO segments (camera, start_us, path, state) VALUES (?, ?, ?, 'open')", (camera, start_us, path)
            )
            if ends_gap is not None:
                db.execute("UPDATE gaps SET end_us = ? WHERE id = ? AND end_us IS NULL", (start_us, ends_gap))
            return int(cursor.lastrowid)

    def close_segment(
        self, segment_id: int, *, end_us: int, size: int, frames: int, sha256: str, path: str, state: str = "closed"
    ) -> None:
        """Mark a segment closed with its final name, size, frame count and hash."""
        with self._write() as db:
            db.execute(
                "UPDATE segments SET end_us = ?, bytes = ?, frames = ?, sha256 = ?, path = ?, state = ? WHERE id = ?",
                (end_us, size, frames, sha256, path, state, segment_id),
            )
            db.execute(
                "INSERT INTO meta (key, value) VALUES ('max_segment_us', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
                (end_us - self._start_of(db, segment_id),),
            )

    @staticmethod
    def _start_of(db: sqlite3.Connection, segment_id: int) -> int:
        row = db.execute("SELECT start_us FROM segments WHERE id = ?", (segment_id,)).fetchone()
        if row is None:
            raise SegmentIndexError(f"no segment with id {segment_id}")
        return int(row[0])

    def add_segment(
        self, *, camera: str, start_us: int, end_us: int, size: int, frames: int, sha256: str, path: str, state: str
    ) -> int:
        """Index an already closed file (reconciliation of an orphan)."""
        segment_id = self.open_segment(camera=camera, start_us=start_us, path=path)
        self.close_segment(segment_id, end_us=end_us, size=size, frames=frames, sha256=sha256, path=path, state=state)
        return segment_id

    def segments(self, camera: str, *, from_us: int | None = None, to_us: int | None = None) -> list[Segment]:
        """Segments of `camera` overlapping [from_us, to_us), oldest first (open ones included)."""
        params = {
            "camera": camera,
            "to": _NEVER if to_us is None else to_us,
            "from": -_NEVER if from_us is None else from_us,
        }
        # Closed segments are at most max_segment_us long, so a lower bound on
        # start_us keeps this a short range scan of (camera, start_us).
        params["lower"] = params["from"] - self._max_segment_us() - 1 if from_us is not None else -_NEVER
        sql = (
            f"SELECT {_SEGMENT_COLUMNS} FROM segments s WHERE s.camera = :camera AND s.state != 'open' "
            "AND s.start_us >= :lower AND s.start_us < :to AND s.end_us > :from "
            f"UNION ALL SELECT {_SEGMENT_COLUMNS} FROM segments s INDEXED BY segments_open "
            "WHERE s.camera = :camera AND s.state = 'open' AND s.start_us < :to "
            "ORDER BY 3"
        )
        return [Segment(*row) for row in self._read(sql, params)]

    def nearest(self, camera: str, *, before_us: int, after_us: int) -> tuple[Segment | None, Segment | None]:
        """The last segment of `camera` starting before `before_us` and the first starting at or after
        `after_us` (what was recorded nearest a window with nothing in it)."""
        columns = f"SELECT {_SEGMENT_COLUMNS} FROM segments s WHERE s.camera = ?"
        before = self._read(f"{columns} AND s.start_us < ? ORDER BY s.start_us DESC LIMIT 1", (camera, before_us))
        after = self._read(f"{columns} AND s.start_us >= ? ORDER BY s.start_us LIMIT 1", (camera, after_us))
        return (Segment(*before[0]) if before else None, Segment(*after[0]) if after else None)

    def _max_segment_us(self) -> int:
        rows = self._read("SELECT value FROM meta WHERE key = 'max_segment_us'")
        return int(rows[0][0]) if rows else 0

    def closed_segments_after(self, camera: str, *, after_us: int, limit: int) -> list[Segment]:
        """Up to `limit` closed segments of `camera` that end after `after_us`, oldest first (coverage reports)."""
        sql = (
            f"SELECT {_SEGMENT_COLUMNS} FROM segments s WHERE s.camera = :camera AND s.state != 'open' "
            "AND s.start_us >= :lower AND s.end_us > :after ORDER BY s.start_us LIMIT :limit"
        )
        lower = after_us - self._max_segment_us() - 1
        return [Segment(*row) for row in self._read(sql, {"camera": camera, "lower": lower, "after": after_us,
                                                          "limit": limit})]

    def open_since(self, camera: str) -> int | None:
        """The start of `camera`'s oldest open segment or gap: what has not closed yet begins there."""
        rows = self._read(
            "SELECT MIN(start_us) FROM (SELECT start_us FROM segments INDEXED BY segments_open "
            "WHERE camera = :camera AND state = 'open' UNION ALL "
            "SELECT start_us FROM gaps WHERE camera = :camera AND end_us IS NULL)", {"camera": camera})
        return rows[0][0]

    def segment(self, segment_id: int) -> Segment | None:
        rows = self._read(f"SELECT {_SEGMENT_COLUMNS} FROM segments s WHERE s.id = ?", (segment_id,))
        return Segment(*rows[0]) if rows else None

    def open_segments(self) -> list[Segment]:
        return [Segment(*r) for r in self._read(f"SELECT {_SEGMENT_COLUMNS} FROM segments s WHERE s.state = 'open'")]

    def all_paths(self) -> dict[str, int]:
        """Every indexed path and its segment id (for reconciliation)."""
        return {path: segment_id for segment_id, path in self._read("SELECT id, path FROM segments")}

    def delete_segments(self, segment_ids: Iterable[int]) -> None:
        ids = [(i,) for i in segment_ids]
        with self._write() as db:
            db.executemany("DELETE FROM segments WHERE id = ?", ids)

    def largest_segment_bytes(self) -> int:
        (largest,) = self._read("SELECT COALESCE(MAX(bytes), 0) FROM segments")[0]
        return int(largest)

    def stored_bytes(self) -> int:
        (total,) = self._read("SELECT COALESCE(SUM(bytes), 0) FROM segments")[0]
        return int(total)

    def span(self, camera: str) -> tuple[int | None, int | None]:
        """Oldest start and newest end (or start, if open) recorded for `camera`."""
        row = self._read(
            "SELECT MIN(start_us), MAX(COALESCE(end_us, start_us)) FROM segments WHERE camera = ?", (camera,)
        )[0]
        return row[0], row[1]

    def expired(self, *, camera: str, cutoff_us: int, now_us: int, limit: int) -> list[Segment]:
        """Closed, unheld segments of `camera` that ended before `cutoff_us`, oldest first."""
        sql = (
            f"SELECT {_SEGMENT_COLUMNS} FROM segments s WHERE s.camera = :camera AND s.start_us < :cutoff "
            f"AND s.state != 'open' AND s.end_us < :cutoff AND NOT {_HELD} ORDER BY s.start_us LIMIT :limit"
        )
        return [Segment(*r) for r in self._read(sql, {"camera": camera, "cutoff": cutoff_us, "now": now_us, "limit": limit})]

    def oldest_unheld(self, *, now_us: int, limit: int) -> list[Segment]:
        """Closed, unheld segments of every camera, oldest first."""
        sql = (
            f"SELECT {_SEGMENT_COLUMNS} FROM segments s WHERE s.state != 'open' AND NOT {_HELD} "
            "ORDER BY s.start_us LIMIT :limit"
        )
        return [Segment(*r) for r in self._read(sql, {"now": now_us, "limit": limit})]

    # -- holds ------------------------------------------------------------

    def add_hold(self, *, camera: str, start_us: int, end_us: int, reason: str, expires_us: int | None = None) -> int:
        """Keep every segment of `camera` overlapping [start_us, end_us) until `expires_us` (or forever)."""
        with self._write() as db:
            cursor = db.execute(
                "INSERT INTO holds (camera, start_us, end_us, reason, expires_us) VALUES (?, ?, ?, ?, ?)",
                (camera, start_us, end_us, reason, expires_us),
            )
            return int(cursor.lastrowid)

    def remove_hold(self, hold_id: int) -> None:
        with self._write() as db:
            db.execute("DELETE FROM holds WHERE id = ?", (hold_id,))

    def holds(self) -> list[Hold]:
        return [Hold(*r) for r in self._read("SELECT id, camera, start_us, end_us, reason, expires_us FROM holds")]

    def held_bytes(self, *, now_us: int) -> int:
        (total,) = self._read(f"SELECT COALESCE(SUM(s.bytes), 0) FROM segments s WHERE {_HELD}", {"now": now_us})[0]
        return int(total)

    # -- gaps -------------------------------------------------------------

    def open_gap(self, *, camera: str, start_us: int, reason: str) -> int:
        with self._write() as db:
            cursor = db.execute("INSERT INTO gaps (camera, start_us, reason) VALUES (?, ?, ?)", (camera, start_us, reason))
            return int(cursor.lastrowid)

    def close_gap(self, gap_id: int, *, end_us: int) -> None:
        with self._write() as db:
            db.execute("UPDATE gaps SET end_us = ? WHERE id = ? AND end_us IS NULL", (end_us, gap_id))

    def reopen_gap(self, gap_id: int) -> None:
        """A gap closed by a segment that then could not be written stays open after all."""
        with self._write() as db:
            db.execute("UPDATE gaps SET end_us = NULL WHERE id = ?", (gap_id,))

    def open_gaps(self) -> list[Gap]:
        return [Gap(*r) for r in self._read("SELECT id, camera, start_us, end_us, reason FROM gaps WHERE end_us IS NULL")]

    def gaps(self, camera: str, *, from_us: int | None = None, to_us: int | None = None) -> list[Gap]:
        sql = "SELECT id, camera, start_us, end_us, reason FROM gaps WHERE camera = :camera"
        params: dict = {"camera": camera}
        if to_us is not None:
            sql += " AND start_us < :to"
            params["to"] = to_us
        if from_us is not None:
            sql += " AND COALESCE(end_us, 9223372036854775807) > :from"
            params["from"] = from_us
        return [Gap(*r) for r in self._read(sql + " ORDER BY start_us", params)]

    def closed_gaps_after(self, camera: str, *, after_us: int, limit: int) -> list[Gap]:
        """Up to `limit` closed gaps of `camera` that end after `after_us`, oldest first (coverage reports)."""
        sql = ("SELECT id, camera, start_us, end_us, reason FROM gaps WHERE camera = :camera "
               "AND end_us IS NOT NULL AND end_us > :after ORDER BY start_us LIMIT :limit")
        return [Gap(*r) for r in self._read(sql, {"camera": camera, "after": after_us, "limit": limit})]

    def delete_gaps_before(self, *, camera: str, cutoff_us: int) -> None:
        with self._write() as db:
            db.execute("DELETE FROM gaps WHERE camera = ? AND end_us IS NOT NULL AND end_us < ?", (camera, cutoff_us))

    # -- camera state and alarms -------------------------------------------

    def set_camera_state(
        self, *, camera: str, state: str, since_us: int, last_packet_us: int | None, detail: str = ""
    ) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO camera_state (camera, state, since_us, last_packet_us, detail) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (camera) DO UPDATE SET state = excluded.state, since_us = excluded.since_us, "
                "last_packet_us = excluded.last_packet_us, detail = excluded.detail",
                (camera, state, since_us, last_packet_us, detail),
            )

    def camera_states(self) -> dict[str, CameraState]:
        rows = self._read("SELECT camera, state, since_us, last_packet_us, detail FROM camera_state")
        return {row[0]: CameraState(*row) for row in rows}

    def raise_alarm(self, *, key: str, level: str, message: str, since_us: int) -> None:
        """Set alarm `key` (kept with its first `since_us` while it stays raised)."""
        with self._write() as db:
            db.execute(
                "INSERT INTO alarms (key, level, message, since_us) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET level = excluded.level, message = excluded.message",
                (key, level, message, since_us),
            )

    def clear_alarm(self, key: str) -> None:
        with self._write() as db:
            db.execute("DELETE FROM alarms WHERE key = ?", (key,))

    def set_meta(self, key: str, value: int) -> None:
        with self._write() as db:
            db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))

    def meta(self, key: str) -> int | None:
        rows = self._read("SELECT value FROM meta WHERE key = ?", (key,))
        return int(rows[0][0]) if rows else None

    def alarms(self) -> list[Alarm]:
        return [Alarm(*r) for r in self._read("SELECT key, level, message, since_us FROM alarms ORDER BY since_us")]
