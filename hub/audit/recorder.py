"""Reads and failed access attempts on the record, without flooding it (CJIS AU-2: access to audit records and
failed access attempts are auditable events).

`AccessRecorder.record` writes the first occurrence of (actor, action, object, outcome, source) at once and
only counts its repeats for `window_s`; the next occurrence after the window, or `flush()`, writes one entry
saying how many repeats there were and between when. A scripted probe of 10,000 ids from one address costs a
handful of entries per distinct route, not 10,000.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from hub import audit
from hub.db import Database
from hub.tables import utcnow

log = logging.getLogger(__name__)

MAX_KEYS = 10_000

Key = tuple[str, str, str, str, str]  # actor, action, object, outcome, source


@dataclass
class _Spell:
    started: float
    first_at: str
    repeats: int = 0
    last_at: str = ""


class AccessRecorder:
    def __init__(self, db: Database, *, window_s: float = 60, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = MAX_KEYS):
        self.db, self.window_s, self.clock, self.max_keys = db, window_s, clock, max_keys
        self._lock = threading.Lock()
        self._spells: dict[Key, _Spell] = {}
        self.dropped = 0  # occurrences not recorded because MAX_KEYS spells were open (a flood of distinct keys)

    def record(self, *, actor: str, action: str, object: str, outcome: str, source: str) -> None:
        key: Key = (actor[:100], action, object[:300], outcome, source[:100])
        now, stamp = self.clock(), utcnow().isoformat()
        with self._lock:
            due = self._due(now)
            spell = self._spells.get(key)
            full = spell is None and len(self._spells) >= self.max_keys
            if spell is not None:
                spell.repeats += 1
                spell.last_at = stamp
            elif not full:
                self._spells[key] = _Spell(now, stamp)
            else:
                self.dropped += 1
        self._write_summaries(due)
        if full:
            if self.dropped % 10_000 == 1:  # once, then every 10,000th
                log.warning("access recorder: %d distinct callers and actions in a window; %d more not recorded",
                            self.max_keys, self.dropped)
        elif spell is None:
            with self.db.session() as session:
                audit.append(session, actor=key[0], action=action, outcome=outcome, object=key[2], source=key[4],
                             repeats_counted_for_s=self.window_s)

    def _due(self, now: float) -> list[tuple[Key, _Spell]]:
        """Spells whose window has passed, removed (with the lock held)."""
        done = [(key, spell) for key, spell in self._spells.items() if now - spell.started >= self.window_s]
        for key, _ in done:
            del self._spells[key]
        return done

    def _write_summaries(self, spells: list[tuple[Key, _Spell]]) -> None:
        repeated = [(key, spell) for key, spell in spells if spell.repeats]
        if not repeated:
            return
        with self.db.session() as session:
            for (actor, action, obj, outcome, source), spell in repeated:
                audit.append(session, actor=actor, action=action, outcome=outcome, object=obj, source=source,
                             reason=f"repeated {spell.repeats} more times", repeats=spell.repeats,
                             first_at=spell.first_at, last_at=spell.last_at)

    def tick(self) -> None:
        """Write the repeats of spells whose window has passed (called on every request: no thread needed)."""
        with self._lock:
            due = self._due(self.clock()) if self._spells else []
        self._write_summaries(due)

    def flush(self) -> None:
        """Write every open spell's repeats now (at shutdown)."""
        with self._lock:
            spells, self._spells = list(self._spells.items()), {}
        self._write_summaries(spells)
