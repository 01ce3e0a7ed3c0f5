"""How often a source may do something that anyone can do signed out (enrol, rotate a key): a sliding window per
(action, source), in memory, with bounded memory.

`AddressLimiter.admit` says whether one more attempt is allowed now; a refused attempt says when to come back and
whether it is the first refusal of its window, so the caller audits the first and only counts the rest (an
attacker cannot fill the audit log by being refused). Per hub process: N processes behind a load balancer
admit at most N times the limit, still bounded.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

MAX_KEYS = 10_000


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after_s: int = 0
    first_refusal: bool = False  # the first refused attempt of this key since it was last allowed


class AddressLimiter:
    def __init__(self, limit: int, window_s: float, *, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = MAX_KEYS):
        self.limit, self.window_s, self.clock, self.max_keys = limit, window_s, clock, max_keys
        self._lock = threading.Lock()
        self._seen: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()
        self._refusing: set[tuple[str, str]] = set()

    def admit(self, action: str, source: str) -> Verdict:
        """Count one attempt of `action` from `source` if the window has room."""
        key, now = (action, source), self.clock()
        with self._lock:
            times = self._seen.pop(key, None) or deque()
            while times and now - times[0] >= self.window_s:
                times.popleft()
            self._seen[key] = times  # most recently used last
            while len(self._seen) > self.max_keys:
                old, _ = self._seen.popitem(last=False)
                self._refusing.discard(old)
            if len(times) < self.limit:
                times.append(now)
                self._refusing.discard(key)
                return Verdict(True)
            first = key not in self._refusing
            self._refusing.add(key)
            return Verdict(False, max(1, math.ceil(self.window_s - (now - times[0]))), first)
