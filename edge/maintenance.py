"""The agent's maintenance loop: the chores that run beside recording, on the event loop.

Every `MAINTENANCE_SECONDS` (or half the systemd watchdog interval, if
shorter) it stores a heartbeat for `canvass-edge status`, pets the systemd
watchdog — unless a recording thread died, so that systemd restarts the
agent — and tells systemd how many cameras deliver video. Less often it
checks that the clock is synchronised (an alarm if not), sends the hub a
health event, checks the hub's audit log with the witness (an alarm, on the
box and to the hub, if it forked) and prunes plate reads past their camera's
retention. On every pass it lets the coverage reporter (edge.recording.coverage)
queue what each camera recorded for the hub; the reporter paces itself per camera. Blocking work runs in a thread. The loop sleeps on its stop event
and `async_stop` also cancels a chore in progress (a hub that does not answer
never holds up shutdown).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from edge.clock import ClockStatus
from edge.errors import SegmentIndexError
from edge.link.witness import LogForked, Witness
from edge.recording.cameras import Cameras
from edge.recording.coverage import CoverageReporter
from edge.recording.index import SegmentIndex
from edge.recording.storage import free_bytes
from edge.service import Notifier
from edge.status import HEARTBEAT_KEY
from wire import messages as wire

if TYPE_CHECKING:  # plate reading is loaded only when configured (EdgeApp.start_plate_reading says why)
    from edge.alpr.reads import ReadStore

logger = logging.getLogger(__name__)

ALARM_CLOCK = "clock:unsynchronised"
ALARM_AUDIT_FORK = "audit:log_forked"
MAINTENANCE_SECONDS = 5
CLOCK_CHECK_SECONDS = 60
HEALTH_EVENT_SECONDS = 60
WITNESS_SECONDS = 60
READS_PRUNE_SECONDS = 600


def clear_heartbeat(index: SegmentIndex) -> None:
    """At shutdown: "not running", for `canvass-edge status`."""
    try:
        index.set_meta(HEARTBEAT_KEY, 0)
    except SegmentIndexError:
        logger.debug("heartbeat not cleared", exc_info=True)


class Maintenance:
    """The loop (`async_start`, `async_stop`) and its chores; each chore is a blocking method of its own.

    `publish` (queue an event for the hub), `witness` and `coverage` are given on an enrolled box, `reads` when
    the box reads plates; `started` is the agent's start on the `time.monotonic` clock, for its uptime."""

    def __init__(self, *, index: SegmentIndex, cameras: Cameras, notifier: Notifier, data_dir: Path,
                 clock: Callable[[], float], clock_check: Callable[[], ClockStatus], started: float,
                 publish: Callable[[wire.EventBody], None] | None = None, witness: Witness | None = None,
                 reads: ReadStore | None = None, coverage: CoverageReporter | None = None) -> None:
        self._index = index
        self._cameras = cameras
        self._notifier = notifier
        self._data_dir = data_dir
        self._clock = clock
        self._clock_check = clock_check
        self._started = started
        self._publish = publish
        self._witness = witness
        self._witnessed_reported: str | None = None  # the note last sent to the hub (again after a restart)
        self._reads = reads
        self._coverage = coverage
        self._stopping = asyncio.Event()
        self._task: asyncio.Task | None = None

    # -- lifecycle (on the event loop) ----------------------------------------------

    async def async_start(self) -> None:
        self._task = asyncio.create_task(self._async_run(), name="maintenance")

    async def async_stop(self) -> None:
        self._stopping.set()  # ends the sleep
        if self._task is not None:
            self._task.cancel()  # and a chore still waiting, e.g. on the hub
            await asyncio.gather(self._task, return_exceptions=True)

    async def _async_run(self) -> None:
        interval = MAINTENANCE_SECONDS
        if self._notifier.watchdog_interval_s is not None:
            interval = min(interval, self._notifier.watchdog_interval_s)
        last_clock_check = last_health = last_witness = last_reads_pruned = -READS_PRUNE_SECONDS
        while not self._stopping.is_set():
            now = time.monotonic()
            if now - last_clock_check >= CLOCK_CHECK_SECONDS:
                await asyncio.to_thread(self.check_clock)
                last_clock_check = now
            if self._publish is not None and now - last_health >= HEALTH_EVENT_SECONDS:
                await asyncio.to_thread(self.send_health)
                last_health = now
            if self._witness is not None and now - last_witness >= WITNESS_SECONDS:
                await asyncio.to_thread(self.check_witness)
                last_witness = now
            if self._reads is not None and now - last_reads_pruned >= READS_PRUNE_SECONDS:
                await asyncio.to_thread(self.prune_reads)
                last_reads_pruned = now
            if self._coverage is not None:
                await asyncio.to_thread(self._coverage.tick)
            await asyncio.to_thread(self.store_heartbeat)
            self._report_to_systemd()
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=interval)
            except TimeoutError:
                pass

    def _report_to_systemd(self) -> None:
        if self._cameras.healthy():
            self._notifier.watchdog()
        else:
            logger.error("a recording thread died; withholding the watchdog so systemd restarts the agent")
        self._notifier.status(self._cameras.status_line())

    # -- the chores (blocking: run in a thread) -----------------------------------------

    def check_clock(self) -> None:
        status = self._clock_check()
        now_us = int(self._clock() * 1_000_000)
        if status.synchronised:
            self._index.clear_alarm(ALARM_CLOCK)
        else:
            level = "critical" if status.synchronised is False else "warning"
            self._index.raise_alarm(key=ALARM_CLOCK, level=level, message=status.detail, since_us=now_us)

    def send_health(self) -> None:
        assert self._publish is not None
        self._publish(health_report(self._index, self._cameras.config.cameras, self._data_dir,
                                    uptime_s=round(time.monotonic() - self._started, 1),
                                    cameras_recording=self._cameras.delivered_video()))

    def check_witness(self) -> None:
        assert self._witness is not None and self._publish is not None
        try:
            self._witness.check()
            self._report_witnessed()
        except LogForked as exc:
            logger.critical("the hub's audit log: %s", exc)
            self._index.raise_alarm(key=ALARM_AUDIT_FORK, level="critical", message=str(exc),
                                    since_us=int(self._clock() * 1_000_000))
            self._publish(wire.Alarm(code="audit.log_forked", message=str(exc)[:2000]))
        except Exception as exc:  # the hub unreachable: try again next time
            logger.info("audit checkpoint not checked: %s", exc)

    def _report_witnessed(self) -> None:
        """Tell the hub the checkpoint this box now holds, when it differs from the one last told."""
        assert self._witness is not None and self._publish is not None
        note = self._witness.held_note()
        if note is not None and note != self._witnessed_reported:
            self._publish(wire.Witnessed(note=note))
            self._witnessed_reported = note

    def prune_reads(self) -> None:
        """Plate reads are kept as long as their camera's video."""
        assert self._reads is not None
        now_us = int(self._clock() * 1_000_000)
        self._reads.prune_past_retention([p.config for p in self._cameras.pipelines.values()], now_us=now_us)

    def store_heartbeat(self) -> None:
        try:
            self._index.set_meta(HEARTBEAT_KEY, int(self._clock() * 1_000_000))
        except SegmentIndexError:
            logger.debug("heartbeat not stored", exc_info=True)


def _utc(us: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(us / 1_000_000, dt.timezone.utc)


def health_report(index: SegmentIndex, cameras, data_dir: Path, *, uptime_s: float,
                  cameras_recording: int) -> wire.Health:
    """The box's health for the hub and its owner: disk free and total, bytes of video held, each camera's
    retention and oldest video, and the alarms raised now (the newest 20)."""
    keep = []
    for camera in cameras:
        oldest_us, _ = index.span(camera.name)
        keep.append(wire.CameraKeep(camera=camera.name, retention_days=camera.retention_days,
                                    oldest=None if oldest_us is None else _utc(oldest_us)))
    alarms = [wire.BoxAlarm(key=a.key[:100], level="critical" if a.level == "critical" else "warning",
                            message=a.message[:500], since=_utc(a.since_us)) for a in index.alarms()[-20:]]
    return wire.Health(uptime_s=uptime_s, disk_free_bytes=free_bytes(data_dir), cameras_recording=cameras_recording,
                       disk_total_bytes=shutil.disk_usage(data_dir).total, recordings_bytes=index.stored_bytes(),
                       keep=keep, alarms=alarms)
