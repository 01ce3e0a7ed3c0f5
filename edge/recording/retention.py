"""Retention: what to delete (pure policy) and the loop that deletes it.

Oldest first, by age (each camera's retention days) and by disk budget (a
maximum for recordings and a minimum of free space on the volume). Held
segments and open segments are never evicted. If holds alone keep the
budget from being met, recording goes on, the oldest unheld segments go,
and an alarm is raised.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from edge.config import CameraConfig, RecordingConfig
from edge.errors import SegmentIndexError
from edge.recording.index import Segment, SegmentIndex
from edge.recording.storage import Layout, free_bytes, remove_empty_dirs

logger = logging.getLogger(__name__)

DAY_US = 86_400 * 1_000_000
BATCH = 500
ALARM_HOLDS = "retention:holds_exceed_budget"
ALARM_DISK = "retention:disk_budget_unmet"


# -- pure policy ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DiskUsage:
    recorded_bytes: int  # indexed segments plus the open ones
    free_bytes: int  # available on the volume


@dataclass(frozen=True, slots=True)
class Budget:
    max_bytes: int | None
    min_free_bytes: int


def age_cutoff_us(now_us: int, retention_days: float) -> int:
    """Segments that ended before this time are past retention."""
    return now_us - int(retention_days * DAY_US)


def bytes_to_free(usage: DiskUsage, budget: Budget) -> int:
    """How many bytes must go for the budget to hold (0 if it holds)."""
    over_max = usage.recorded_bytes - budget.max_bytes if budget.max_bytes is not None else 0
    under_free = budget.min_free_bytes - usage.free_bytes
    return max(0, over_max, under_free)


def select_evictions(oldest_first: Iterable[Segment], need_bytes: int) -> list[Segment]:
    """The shortest oldest-first prefix of `oldest_first` that frees `need_bytes`."""
    chosen: list[Segment] = []
    freed = 0
    for segment in oldest_first:
        if freed >= need_bytes:
            break
        chosen.append(segment)
        freed += segment.bytes
    return chosen


# -- the loop ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PassResult:
    expired: int
    evicted: int
    still_needed_bytes: int


class Retention:
    """Deletes expired and over-budget segments; runs as an asyncio task."""

    def __init__(
        self,
        cameras: Sequence[CameraConfig],
        settings: RecordingConfig,
        layout: Layout,
        index: SegmentIndex,
        *,
        open_bytes: Callable[[], int] = lambda: 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cameras = list(cameras)
        self.budget = Budget(settings.max_bytes, settings.min_free_bytes)
        self.interval = settings.retention_check_seconds
        self.layout = layout
        self.index = index
        self._open_bytes = open_bytes
        self._clock = clock
        self._free_bytes = free_bytes
        self._wake: asyncio.Event | None = None
        self._disk_full = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None

    def run_pass(self) -> PassResult:
        """One retention pass (blocking: call from a thread)."""
        now_us = int(self._clock() * 1_000_000)
        expired = sum(self._expire_camera(camera, now_us) for camera in self.cameras)
        evicted, still_needed = self._enforce_budget(now_us)
        self._set_alarms(now_us, still_needed)
        return PassResult(expired, evicted, still_needed)

    def _expire_camera(self, camera: CameraConfig, now_us: int) -> int:
        cutoff = age_cutoff_us(now_us, camera.retention_days)
        removed = 0
        while batch := self.index.expired(camera=camera.name, cutoff_us=cutoff, now_us=now_us, limit=BATCH):
            self._delete(batch)
            removed += len(batch)
            if len(batch) < BATCH:
                break
        self.index.delete_gaps_before(camera=camera.name, cutoff_us=cutoff)
        return removed

    def usage(self) -> DiskUsage:
        return DiskUsage(self.index.stored_bytes() + self._open_bytes(), self._free_bytes(self.layout.data_dir))

    def _enforce_budget(self, now_us: int) -> tuple[int, int]:
        evicted = 0
        need = bytes_to_free(self.usage(), self.budget)
        if self._disk_full:
            # A write hit a full volume: make room for at least one more segment.
            self._disk_full = False
            need = max(need, self.index.largest_segment_bytes())
        while need > 0:
            candidates = self.index.oldest_unheld(now_us=now_us, limit=BATCH)
            chosen = select_evictions(candidates, need)
            if not chosen:
                break
            self._delete(chosen)
            evicted += len(chosen)
            need = bytes_to_free(self.usage(), self.budget)
        if evicted:
            logger.info("retention: evicted %d segments for the disk budget", evicted)
        return evicted, need

    def _delete(self, segments: Sequence[Segment]) -> None:
        # Files first: on a full disk unlinking always works, the index write may not.
        for segment in segments:
            path = self.layout.absolute(segment.path)
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                logger.warning("retention: cannot delete %s: %s", segment.path, exc.strerror)
            remove_empty_dirs(path.parent, self.layout.recordings)
        self.index.delete_segments(s.id for s in segments)

    def _set_alarms(self, now_us: int, still_needed: int) -> None:
        if still_needed <= 0:
            self.index.clear_alarm(ALARM_HOLDS)
            self.index.clear_alarm(ALARM_DISK)
            return
        held = self.index.held_bytes(now_us=now_us)
        if held:
            message = f"held footage ({held} bytes) keeps recordings over budget by {still_needed} bytes"
            self.index.raise_alarm(key=ALARM_HOLDS, level="critical", message=message, since_us=now_us)
        else:
            message = f"cannot meet disk budget: {still_needed} bytes short with nothing left to evict"
            self.index.raise_alarm(key=ALARM_DISK, level="critical", message=message, since_us=now_us)

    # -- asyncio lifecycle --------------------------------------------------------

    async def async_start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        started = asyncio.Event()
        self._task = asyncio.create_task(self._async_run(started), name="retention")
        await started.wait()

    def wake(self, *, disk_full: bool = False) -> None:
        """Run a pass now (thread-safe; writers call it when the disk fills)."""
        self._disk_full = self._disk_full or disk_full
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def async_stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _async_run(self, started: asyncio.Event) -> None:
        assert self._wake is not None
        started.set()
        warned = False
        while True:
            try:
                await asyncio.to_thread(self.run_pass)
                warned = False
            except (SegmentIndexError, OSError) as exc:
                logger.log(logging.DEBUG if warned else logging.WARNING, "retention pass failed: %s", exc)
                warned = True
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval)
            except TimeoutError:
                pass
            self._wake.clear()
