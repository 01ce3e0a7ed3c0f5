"""The hub's maintenance pass, in its own thread: case retention (`hub.clips.retention`), abandoned clip
uploads (`hub.clips.staging`) and coverage older than any box keeps (`hub.coverage`), once at start and then every `maintenance_interval_s`.

`start()` starts it; `ran` is set after each pass (`passes` counts them); `stop()` wakes it and waits until it
has exited. The loop sleeps on the stop event, so shutdown is immediate.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

from hub.clips.retention import retention_pass
from hub.clips.staging import Staging
from hub.clips.store import ClipStore
from hub.coverage import prune_coverage
from hub.db import Database
from hub.tables import utcnow

log = logging.getLogger(__name__)


class Maintenance:
    def __init__(self, db: Database, store: ClipStore, staging: Staging, *, interval_s: float, abandoned_s: float,
                 coverage_days: int = 30):
        self.db, self.store, self.staging = db, store, staging
        self.interval_s, self.abandoned_s, self.coverage_days = interval_s, abandoned_s, coverage_days
        self.ran = threading.Event()
        self.passes = 0
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> None:
        """One pass (also what `canvass-hub retention` runs, without the thread)."""
        retention_pass(self.db, self.store)
        self.staging.sweep(self.abandoned_s)
        with self.db.session() as session:
            prune_coverage(session, before=utcnow() - dt.timedelta(days=self.coverage_days))

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="hub-maintenance", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("maintenance pass failed; the next one tries again")
            self.passes += 1
            self.ran.set()
            self._stopping.wait(self.interval_s)

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
