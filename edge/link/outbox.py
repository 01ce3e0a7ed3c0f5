"""The appliance's durable outbox: events wait here (SQLite, WAL) until the hub acknowledges them.

Each event gets an idempotent id and the next sequence number of this
outbox's stream (a random UUID made with the database, so a factory-reset box
starts a new stream). `ack(upto)` deletes what the hub has stored. A full
outbox drops its oldest events, with a warning, rather than stop the box.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from pathlib import Path

from edge.sqlite import open_database
from wire import messages as m

log = logging.getLogger(__name__)

DEFAULT_CAPACITY = 1_000_000


class Outbox:
    def __init__(self, path: Path, *, capacity: int = DEFAULT_CAPACITY):
        self._db = open_database(path)
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        self._db.execute("CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
                         "payload BLOB NOT NULL)")
        self._lock = threading.Lock()
        self.capacity = capacity
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key='stream'").fetchone()
            if row is None:
                self._db.execute("INSERT INTO meta VALUES ('stream', ?)", (str(uuid.uuid4()),))
                row = self._db.execute("SELECT value FROM meta WHERE key='stream'").fetchone()
        self.stream = uuid.UUID(row[0])

    def put(self, body: m.EventBody) -> m.EventEnvelope:
        """Store one event durably and return it as it will be sent."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                seq = self._db.execute("SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name='events'), 0)"
                                       ).fetchone()[0] + 1
                envelope = m.EventEnvelope(stream=self.stream, seq=seq, id=uuid.uuid4(),
                                           at=dt.datetime.now(dt.timezone.utc), body=body)
                self._db.execute("INSERT INTO events (seq, payload) VALUES (?, ?)", (seq, m.encode(envelope)))
                over = self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0] - self.capacity
                if over > 0:
                    self._db.execute("DELETE FROM events WHERE seq IN (SELECT seq FROM events ORDER BY seq LIMIT ?)",
                                     (over,))
                    log.warning("outbox full (%d events): dropped the %d oldest", self.capacity, over)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return envelope

    def after(self, seq: int, limit: int) -> list[tuple[int, bytes]]:
        """Up to `limit` (seq, payload) pairs with sequence numbers above `seq`, in order."""
        with self._lock:
            return self._db.execute("SELECT seq, payload FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                                    (seq, limit)).fetchall()

    def ack(self, upto: int) -> int:
        """Forget every event up to `upto`; returns how many were removed."""
        with self._lock:
            return self._db.execute("DELETE FROM events WHERE seq <= ?", (upto,)).rowcount

    def last_seq(self) -> int:
        """The sequence number of the newest event ever put (0 if none)."""
        with self._lock:
            row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name='events'").fetchone()
        return row[0] if row else 0

    def oldest(self) -> int | None:
        with self._lock:
            return self._db.execute("SELECT MIN(seq) FROM events").fetchone()[0]

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
