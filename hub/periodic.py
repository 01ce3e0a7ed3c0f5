"""A pass the hub runs on its own thread every `interval_s` seconds (retention, owners' alerts, request expiry,
the registrations' upkeep).

Subclasses write `run_once()`; `start()` starts the thread; `ran` is set after each pass and `passes` counts them
(a failed pass is logged and counted; the next one tries again); `stop()` wakes the thread and waits until it has
exited."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class PeriodicPass:
    #: The thread's name, and what the log says failed.
    name = "periodic pass"

    def __init__(self, interval_s: float):
        self.interval_s = interval_s
        self.ran = threading.Event()
        self.passes = 0
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("%s failed; the next one tries again", self.name)
            self.passes += 1
            self.ran.set()
            self._stopping.wait(self.interval_s)

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None


class Every(PeriodicPass):
    """`work()` as a periodic pass (for work that is one call)."""

    def __init__(self, name: str, interval_s: float, work: Callable[[], object]):
        super().__init__(interval_s)
        self.name = name
        self._work = work

    def run_once(self) -> None:
        self._work()
