"""The hot list as the hub last pushed it, kept on the box (JSON, replaced atomically).

This keeps the list and its version so the box knows what it has; listeners
(the plate reader, which matches with `edge.alpr.matching`) hear of each new list.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from wire import messages as m


class HotListStore:
    def __init__(self, path: Path):
        self.path = path
        self.current: m.HotListReplace | None = None  # nothing received yet
        self.listeners: list[Callable[[m.HotListReplace], None]] = []
        if path.exists():
            self.current = m.HotListReplace.model_validate_json(path.read_bytes())

    @property
    def version(self) -> int:
        return self.current.version if self.current else -1

    def replace(self, hotlist: m.HotListReplace) -> None:
        if hotlist.version < self.version:
            raise ValueError(f"hot list version {hotlist.version} is older than the {self.version} held")
        tmp = self.path.with_name(self.path.name + ".tmp")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(hotlist.model_dump_json().encode())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        self.current = hotlist
        for listener in self.listeners:
            listener(hotlist)
