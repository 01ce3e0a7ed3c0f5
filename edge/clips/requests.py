"""The box's book of footage requests: what the hub asked of its cameras, each request's hold, and the clip
orders it is carrying out.

The newest notice of a request wins. While a request is pending or approved the box holds the segments of its
window (approved: only the approved part) from retention; any other status lets the hold go. A hold never
outlives its reason by long: a pending one ends a day after the request's expiry and an approved one
`APPROVED_HOLD_DAYS` after approval, even if the hub never says more. An accepted clip order is kept here (with
its upload token, in a file only the agent reads) so a restart carries on where it stopped.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from edge.errors import EdgeError
from edge.recording.index import SegmentIndex
from edge.sqlite import open_database
from wire import messages as m

APPROVED_HOLD_DAYS = 30
PENDING_HOLD_GRACE = dt.timedelta(days=1)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    request_id     INTEGER PRIMARY KEY,
    camera         TEXT    NOT NULL,
    window_from_us INTEGER NOT NULL,
    window_to_us   INTEGER NOT NULL,
    status         TEXT    NOT NULL,
    analyst        TEXT    NOT NULL,
    purpose        TEXT    NOT NULL,
    case_number    TEXT    NOT NULL,
    reason         TEXT    NOT NULL,
    expires_us     INTEGER NOT NULL,
    note           TEXT    NOT NULL DEFAULT '',
    hold_id        INTEGER,
    updated_us     INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS orders (
    request_id   INTEGER PRIMARY KEY,
    grant_json   TEXT    NOT NULL,
    upload_path  TEXT    NOT NULL,
    upload_token TEXT    NOT NULL,
    stage        TEXT    NOT NULL,
    detail       TEXT    NOT NULL DEFAULT '',
    updated_us   INTEGER NOT NULL
);
"""


class RequestBookError(EdgeError):
    """The request book cannot be opened or read."""


def _us(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def _moment(us: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(us / 1_000_000, dt.timezone.utc)


@dataclass(frozen=True)
class BookedRequest:
    request_id: int
    camera: str
    window_from: dt.datetime
    window_to: dt.datetime
    status: str
    analyst: str
    purpose: str
    case_number: str
    reason: str
    expires_at: dt.datetime
    note: str
    held: bool
    clip_stage: str

    def to_json(self) -> dict:
        return {"request_id": self.request_id, "camera": self.camera, "window_from": self.window_from.isoformat(),
                "window_to": self.window_to.isoformat(), "status": self.status, "analyst": self.analyst,
                "purpose": self.purpose, "case_number": self.case_number, "reason": self.reason,
                "expires_at": self.expires_at.isoformat(), "note": self.note, "held": self.held,
                "clip": self.clip_stage}


@dataclass(frozen=True)
class Order:
    """An accepted clip order still being carried out."""

    request_id: int
    grant_json: str
    upload_path: str
    upload_token: str
    stage: str


class RequestBook:
    def __init__(self, path: Path, *, readonly: bool = False):
        try:
            self._db = open_database(path, readonly=readonly, synchronous="FULL")
            if not readonly:
                path.chmod(0o600)  # upload tokens are in it
                self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise RequestBookError(f"cannot open the request book {path}: {exc}") from None
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    # -- notices -------------------------------------------------------------------------

    def take(self, notice: m.FootageNotice, index: SegmentIndex, now: dt.datetime) -> m.NoticeTaken:
        """Record the request's newest status and hold (or release) its window; what the box recorded of it."""
        with self._lock:
            row = self._db.execute("SELECT hold_id FROM requests WHERE request_id = ?",
                                   (notice.request_id,)).fetchone()
            if row is not None and row[0] is not None:
                index.remove_hold(row[0])
            hold_id = None
            if notice.status in m.HELD_STATUSES:
                hold_id = index.add_hold(camera=notice.camera, start_us=_us(notice.window_from),
                                         end_us=_us(notice.window_to), reason=f"footage request {notice.request_id}",
                                         expires_us=_us(_hold_until(notice, now)))
            self._store(notice, hold_id, now)
        recorded = recorded_seconds(index, notice.camera, _us(notice.window_from), _us(notice.window_to))
        return m.NoticeTaken(request_id=notice.request_id, held=hold_id is not None, recorded_s=recorded)

    def _store(self, notice: m.FootageNotice, hold_id: int | None, now: dt.datetime) -> None:
        self._db.execute(
            "INSERT INTO requests (request_id, camera, window_from_us, window_to_us, status, analyst, purpose, "
            "case_number, reason, expires_us, note, hold_id, updated_us) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT (request_id) DO UPDATE SET camera = excluded.camera, "
            "window_from_us = excluded.window_from_us, window_to_us = excluded.window_to_us, "
            "status = excluded.status, analyst = excluded.analyst, purpose = excluded.purpose, "
            "case_number = excluded.case_number, reason = excluded.reason, expires_us = excluded.expires_us, "
            "note = excluded.note, hold_id = excluded.hold_id, updated_us = excluded.updated_us",
            (notice.request_id, notice.camera, _us(notice.window_from), _us(notice.window_to), notice.status,
             notice.analyst, notice.purpose, notice.case_number, notice.reason, _us(notice.expires_at), notice.note,
             hold_id, _us(now)))

    def requests(self) -> list[BookedRequest]:
        """Every request, newest first."""
        rows = self._db.execute(
            "SELECT r.request_id, camera, window_from_us, window_to_us, status, analyst, purpose, case_number, "
            "reason, expires_us, note, hold_id, COALESCE(o.stage, '') FROM requests r "
            "LEFT JOIN orders o ON o.request_id = r.request_id ORDER BY r.request_id DESC").fetchall()
        return [BookedRequest(r[0], r[1], _moment(r[2]), _moment(r[3]), r[4], r[5], r[6], r[7], r[8], _moment(r[9]),
                              r[10], r[11] is not None, r[12]) for r in rows]

    # -- clip orders ----------------------------------------------------------------------------

    def add_order(self, order: m.ClipOrder, now: dt.datetime) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO orders (request_id, grant_json, upload_path, upload_token, stage, detail, "
                "updated_us) VALUES (?, ?, ?, ?, 'accepted', '', ?)",
                (order.request_id, order.signed.model_dump_json(), order.upload_path, order.upload_token, _us(now)))

    def set_stage(self, request_id: int, stage: str, detail: str, now: dt.datetime) -> None:
        with self._lock:
            self._db.execute("UPDATE orders SET stage = ?, detail = ?, updated_us = ? WHERE request_id = ?",
                             (stage, detail, _us(now), request_id))

    def unfinished_orders(self) -> list[Order]:
        """Orders accepted but not yet uploaded or failed (to carry on after a restart)."""
        rows = self._db.execute("SELECT request_id, grant_json, upload_path, upload_token, stage FROM orders "
                                "WHERE stage NOT IN ('uploaded', 'failed') ORDER BY request_id").fetchall()
        return [Order(*r) for r in rows]

    def order(self, request_id: int) -> Order | None:
        """The newest order for `request_id` (a re-sent order carries a new upload token)."""
        row = self._db.execute("SELECT request_id, grant_json, upload_path, upload_token, stage FROM orders "
                               "WHERE request_id = ?", (request_id,)).fetchone()
        return Order(*row) if row else None

    def status(self, request_id: int) -> str | None:
        row = self._db.execute("SELECT status FROM requests WHERE request_id = ?", (request_id,)).fetchone()
        return row[0] if row else None


def _hold_until(notice: m.FootageNotice, now: dt.datetime) -> dt.datetime:
    if notice.status == "approved":
        return now + dt.timedelta(days=APPROVED_HOLD_DAYS)
    return max(notice.expires_at, now) + PENDING_HOLD_GRACE


def recorded_seconds(index: SegmentIndex, camera: str, from_us: int, to_us: int) -> float:
    """Seconds of [from_us, to_us) covered by `camera`'s closed segments."""
    total = 0
    for segment in index.segments(camera, from_us=from_us, to_us=to_us):
        if segment.end_us is not None:
            total += max(0, min(segment.end_us, to_us) - max(segment.start_us, from_us))
    return total / 1_000_000
