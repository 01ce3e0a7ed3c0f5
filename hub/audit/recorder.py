"""Reads and failed access attempts on the record, without flooding it (CJIS AU-2: access to audit records and
failed access attempts are auditable events).

`AccessRecorder.record` writes the first occurrence of (actor, action, object, outcome, source) at once and
only counts its repeats for `window_s`; the next occurrence after the window, or `flush()`, writes one entry
saying how many repeats there were and between when. A scripted probe of 10,000 ids from one address costs a
handful of entries per distinct route, not 10,000.

An essential occurrence (a clip download: bytes leave the hub once `record` returns) is never unrecorded: a
repeat returns only once the spell's first entry is committed (and raises `NotRecorded` if writing it failed),
and when `max_keys` spells are open it is written on its own, unaggregated, rather than dropped. The first
entry of a spell carries the caller's details and case number; the summary carries the case number and the
count.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hub import audit
from hub.db import Database
from hub.tables import utcnow

log = logging.getLogger(__name__)

MAX_KEYS = 10_000

Key = tuple[str, str, str, str, str]  # actor, action, object, outcome, source
#: How long a repeat of an essential occurrence waits for its spell's first entry to be written.
WRITE_WAIT_S = 30


class NotRecorded(RuntimeError):
    """An essential occurrence could not be put on the record (writing its spell's first entry failed)."""


@dataclass
class _Spell:
    started: float
    first_at: str
    case_number: str = ""
    repeats: int = 0
    last_at: str = ""
    written: threading.Event = field(default_factory=threading.Event)
    failed: bool = False


class AccessRecorder:
    def __init__(self, db: Database, *, window_s: float = 60, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = MAX_KEYS):
        self.db, self.window_s, self.clock, self.max_keys = db, window_s, clock, max_keys
        self._lock = threading.Lock()
        self._spells: dict[Key, _Spell] = {}
        self.dropped = 0  # occurrences not recorded because MAX_KEYS spells were open (a flood of distinct keys)

    def record(self, *, actor: str, action: str, object: str, outcome: str, source: str, case_number: str = "",
               essential: bool = False, **details: Any) -> None:
        """Write the first occurrence of the key in a window (with `details`) at once; count the repeats."""
        key: Key = (actor[:100], action, object[:300], outcome, source[:100])
        now, stamp = self.clock(), utcnow().isoformat()
        new: _Spell | None = None
        with self._lock:
            due = self._due(now)
            spell = self._spells.get(key)
            full = spell is None and len(self._spells) >= self.max_keys
            if spell is not None:
                spell.repeats += 1
                spell.last_at = stamp
            elif not full:
                new = self._spells[key] = _Spell(now, stamp, case_number)
            elif not essential:
                self.dropped += 1
        self._write_summaries(due)
        if new is not None:
            self._write_first(key, new, case_number, details)
        elif spell is not None:
            if essential and (not spell.written.wait(WRITE_WAIT_S) or spell.failed):
                raise NotRecorded(f"{action} of {key[2]} by {key[0]}: its first entry was not written")
        elif essential:
            self._write(key, case_number, details)  # no room for a spell: on its own, unaggregated
        elif self.dropped % 10_000 == 1:  # once, then every 10,000th
            log.warning("access recorder: %d distinct callers and actions in a window; %d more not recorded",
                        self.max_keys, self.dropped)

    def _write_first(self, key: Key, spell: _Spell, case_number: str, details: dict[str, Any]) -> None:
        """Write a spell's first entry; if that fails, forget the spell (its waiting repeats raise)."""
        try:
            self._write(key, case_number, {**details, "repeats_counted_for_s": self.window_s})
        except BaseException:
            spell.failed = True
            with self._lock:
                if self._spells.get(key) is spell:
                    del self._spells[key]
            raise
        finally:
            spell.written.set()

    def _write(self, key: Key, case_number: str, details: dict[str, Any]) -> None:
        actor, action, obj, outcome, source = key
        with self.db.session() as session:
            audit.append(session, actor=actor, action=action, outcome=outcome, object=obj, source=source,
                         case_number=case_number, **details)

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
                             case_number=spell.case_number, reason=f"repeated {spell.repeats} more times",
                             repeats=spell.repeats,
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
