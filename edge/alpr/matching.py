"""Hot-list matching, aware of look-alike characters. Pure.

Plates and reads are compared in a canonical form where look-alikes are one
symbol (O, Q, D → 0; I → 1; Z → 2; S → 5; G → 6; B → 8; the table is
`wire.plates`, which the hub's plate search uses too), so a read of "8OB1234"
matches an entry "BOB1234". With `max_edits=1`, one substituted, missing or
extra character (after canonicalisation) still matches, found through a
deletion index (every entry filed under its canonical form and each form with
one character deleted), so matching stays fast with 100 000 entries.
Expired entries never match. An exact canonical match beats a one-edit match.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from wire.messages import HotListEntry
from wire.plates import CANONICAL, canonical, within_one_edit
from wire.plates import deletions as _deletions

__all__ = ["CANONICAL", "HotListMatch", "HotListMatcher", "canonical", "within_one_edit"]


@dataclass(frozen=True, slots=True)
class HotListMatch:
    entry: HotListEntry
    edits: int  # 0: the same plate up to look-alikes; 1: one character off


class HotListMatcher:
    """Matches reads against one hot list as pushed by the hub."""

    def __init__(self, entries: list[HotListEntry], *, max_edits: int = 0) -> None:
        if max_edits not in (0, 1):
            raise ValueError("max_edits must be 0 or 1")
        self.max_edits = max_edits
        self._exact: dict[str, list[HotListEntry]] = defaultdict(list)
        self._by_deletion: dict[str, list[tuple[str, HotListEntry]]] = defaultdict(list)
        for entry in entries:
            key = canonical(entry.plate)
            self._exact[key].append(entry)
            if max_edits:
                for variant in _deletions(key) | {key}:
                    self._by_deletion[variant].append((key, entry))

    def match(self, plate: str, *, now: dt.datetime) -> list[HotListMatch]:
        """Every live entry the read matches, exact ones first."""
        key = canonical(plate)
        found = [HotListMatch(entry, 0) for entry in self._exact.get(key, ()) if _live(entry, now)]
        if self.max_edits and not found:
            seen: set[int] = set()
            for variant in _deletions(key) | {key}:
                for entry_key, entry in self._by_deletion.get(variant, ()):
                    if id(entry) not in seen and within_one_edit(key, entry_key) and _live(entry, now):
                        seen.add(id(entry))
                        found.append(HotListMatch(entry, 1))
        return found


def _live(entry: HotListEntry, now: dt.datetime) -> bool:
    return entry.expires_at is None or entry.expires_at > now
