"""One way the appliance's stores open their SQLite databases.

Every store (segment index, plate reads, outbox, consent) runs in WAL mode in
autocommit (each statement or explicit transaction commits on its own), is
shared between threads behind the store's own lock, and waits up to
`BUSY_TIMEOUT_MS` for a writer in another process (the CLI reads while the
agent writes) instead of failing at once.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Literal

BUSY_TIMEOUT_MS = 5000


def open_database(path: Path, *, readonly: bool = False,
                  synchronous: Literal["NORMAL", "FULL"] = "NORMAL") -> sqlite3.Connection:
    """A connection to `path` (created with its folder unless `readonly`); sqlite3.Error if it cannot be opened.

    `synchronous`: NORMAL loses at most the last transactions on a power cut, never the database; FULL loses
    none (for what the owner decided, such as consent and pauses)."""
    if readonly:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    try:
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if not readonly:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute(f"PRAGMA synchronous = {synchronous}")
    except sqlite3.Error:
        db.close()
        raise
    return db
