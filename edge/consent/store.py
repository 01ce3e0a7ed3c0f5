"""Where the box keeps its owner's consent: the newest signed policy per camera, the owner's pauses, the
access log (every grant presented, accepted or refused, with the reason) and the owner's approvals it has
honoured (each backs one accepted grant, never a second). SQLite, synchronous=FULL: what the
owner decided survives a power cut."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

from pydantic import BaseModel

from edge.sqlite import open_database
from wire import consent as c

ALL_CAMERAS = "*"

_SCHEMA = """
    CREATE TABLE IF NOT EXISTS policies (camera TEXT PRIMARY KEY, version INTEGER NOT NULL,
                                         signed TEXT NOT NULL, received_at TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS pauses (camera TEXT PRIMARY KEY, since TEXT NOT NULL, note TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS access_log (id INTEGER PRIMARY KEY, at TEXT NOT NULL, grant_id TEXT,
        camera TEXT, mode TEXT, analyst TEXT, reason TEXT, case_number TEXT, accepted INTEGER NOT NULL,
        decision TEXT NOT NULL);
    CREATE UNIQUE INDEX IF NOT EXISTS access_log_grant ON access_log (grant_id) WHERE accepted = 1;
    CREATE TABLE IF NOT EXISTS honoured_approvals (approval TEXT PRIMARY KEY, grant_id TEXT NOT NULL,
                                                   mode TEXT NOT NULL, at TEXT NOT NULL);
"""


class ApprovalAlreadyHonoured(Exception):
    """The owner's approval already backs another accepted grant (its id is the message)."""


class ConsentStore:
    """The SQLite file behind `edge.consent.guard.ConsentGuard`; safe to share between threads."""

    def __init__(self, path: Path):
        self._lock = threading.Lock()
        self._db = open_database(path, synchronous="FULL")
        self._db.executescript(_SCHEMA)

    def policy_version(self, camera: str) -> int | None:
        with self._lock:
            row = self._db.execute("SELECT version FROM policies WHERE camera = ?", (camera,)).fetchone()
        return row[0] if row else None

    def put_policy(self, camera: str, version: int, signed: BaseModel, now: dt.datetime) -> None:
        """Keep `signed` as `camera`'s policy unless one of `version` or newer is kept already (ConsentError)."""
        with self._lock:
            row = self._db.execute("SELECT version FROM policies WHERE camera = ?", (camera,)).fetchone()
            if row is not None and version <= row[0]:
                raise c.ConsentError(f"policy version {version} is not newer than {row[0]}")
            self._db.execute("INSERT OR REPLACE INTO policies VALUES (?, ?, ?, ?)",
                             (camera, version, signed.model_dump_json(), now.isoformat()))

    def signed_policy(self, camera: str) -> str | None:
        """The kept policy of `camera` as its stored signed envelope (JSON), or None."""
        with self._lock:
            row = self._db.execute("SELECT signed FROM policies WHERE camera = ?", (camera,)).fetchone()
        return row[0] if row else None

    def pause(self, camera: str, note: str, now: dt.datetime) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO pauses VALUES (?, ?, ?)", (camera, now.isoformat(), note))

    def resume(self, camera: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM pauses WHERE camera = ?", (camera,))

    def paused(self, camera: str) -> bool:
        """Whether `camera`, or every camera, is paused."""
        with self._lock:
            return self._db.execute("SELECT 1 FROM pauses WHERE camera IN (?, ?)",
                                    (camera, ALL_CAMERAS)).fetchone() is not None

    def pauses(self) -> set[str]:
        """The cameras paused (`ALL_CAMERAS` when every camera is), in one read."""
        with self._lock:
            return {row[0] for row in self._db.execute("SELECT camera FROM pauses")}

    def grant_used(self, grant_id: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM access_log WHERE grant_id = ? AND accepted = 1",
                                    (grant_id,)).fetchone() is not None

    def approval_honoured(self, approval: str, mode: str) -> str | None:
        """The grant an owner's approval (its SHA-256) already backed, if a grant in `mode` may not use it again.

        A clip order sent again for the same request (the box was away, the hub re-sends it with a new grant and
        upload token) replaces the earlier order in the box's order book rather than cutting a second clip, so a
        clip approval backs the clip grants of its one request; a live or playback approval backs one grant."""
        with self._lock:
            return self._taken(approval, mode)

    def _taken(self, approval: str, mode: str) -> str | None:
        row = self._db.execute("SELECT grant_id, mode FROM honoured_approvals WHERE approval = ?",
                               (approval,)).fetchone()
        if row is None or (row[1] == mode == "clip"):
            return None
        return row[0]

    def log(self, now: dt.datetime, grant: c.Grant | None, accepted: bool, decision: str, *,
            camera: str | None = None, approval: str | None = None) -> None:
        """One access-log line: a grant's decision, or (no grant) a policy's or an owner key's. An accepted grant
        carrying the owner's approval (`approval`, its SHA-256) marks that approval honoured, in the same lock:
        `ApprovalAlreadyHonoured` if another grant took it meanwhile (nothing is written then)."""
        g = grant
        with self._lock:
            if accepted and approval is not None and g is not None:
                taken = self._taken(approval, g.mode)
                if taken is not None:
                    raise ApprovalAlreadyHonoured(taken)
                self._db.execute("INSERT OR REPLACE INTO honoured_approvals (approval, grant_id, mode, at) "
                                 "VALUES (?, ?, ?, ?)", (approval, str(g.grant_id), g.mode, now.isoformat()))
            self._db.execute(
                "INSERT INTO access_log (at, grant_id, camera, mode, analyst, reason, case_number, accepted, decision)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (now.isoformat(), str(g.grant_id) if g else None, g.camera if g else camera, g.mode if g else None,
                 g.analyst if g else None, g.reason if g else None, g.case_number if g else None,
                 int(accepted), decision))

    def access_log(self) -> list[dict]:
        with self._lock:
            cursor = self._db.execute("SELECT at, grant_id, camera, mode, analyst, reason, case_number, accepted, "
                                      "decision FROM access_log ORDER BY id")
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row)) for row in cursor.fetchall()]

    def close(self) -> None:
        with self._lock:
            self._db.close()


