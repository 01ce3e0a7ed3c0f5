"""The hub's maintenance pass, in its own thread: case retention (`hub.clips.retention`), abandoned clip
uploads (`hub.clips.staging`) and coverage older than any box keeps (`hub.coverage`), once at start and then every `maintenance_interval_s`.

`start()` starts it; `ran` is set after each pass (`passes` counts them); `stop()` wakes it and waits until it
has exited. The loop sleeps on the stop event, so shutdown is immediate.
"""

from __future__ import annotations

import datetime as dt

from hub.clips.retention import retention_pass
from hub.clips.staging import Staging
from hub.clips.store import ClipStore
from hub.coverage import prune_coverage
from hub.db import Database
from hub.periodic import PeriodicPass
from hub.tables import utcnow


class Maintenance(PeriodicPass):
    name = "hub maintenance pass"

    def __init__(self, db: Database, store: ClipStore, staging: Staging, *, interval_s: float, abandoned_s: float,
                 coverage_days: int = 30):
        self.db, self.store, self.staging = db, store, staging
        super().__init__(interval_s)
        self.abandoned_s, self.coverage_days = abandoned_s, coverage_days

    def run_once(self) -> None:
        """One pass (also what `canvass-hub retention` runs, without the thread)."""
        retention_pass(self.db, self.store)
        self.staging.sweep(self.abandoned_s)
        with self.db.session() as session:
            prune_coverage(session, before=utcnow() - dt.timedelta(days=self.coverage_days))
