"""What the hub hears of each camera: whether it records, and whether its owner has paused sharing.

Both facts travel in one `CameraStatus`, sent again whenever either changes. The capture reports its state as
it changes (`capture_state`, called from the capture threads). The owner's pause is written into the box's
consent store by `canvass-edge pause` — another process — so `async_start` runs a loop that reads the store
every `PAUSE_CHECK_SECONDS` and reports each camera whose pause changed: the hub shows it within a couple of
seconds. A camera is reported once its capture has said how it stands; that first report carries the pause as
it is then.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Callable

from wire import messages as wire

logger = logging.getLogger(__name__)

#: What a capture state means to the hub: video flowing is video being recorded.
CAMERA_STATUS = {"online": "recording", "offline": "offline"}
PAUSE_CHECK_SECONDS = 1.0


class CameraStateReporter:
    """`publish` queues an event for the hub; `paused` reads which cameras are paused now (None: the box has no
    consent guard, so nothing can be paused)."""

    def __init__(self, publish: Callable[[wire.EventBody], None], paused: Callable[[], set[str]] | None = None,
                 *, interval_s: float = PAUSE_CHECK_SECONDS) -> None:
        self._publish = publish
        self._paused = paused
        self.interval_s = interval_s
        self._lock = threading.Lock()  # one report at a time, so the hub hears them in the order decided
        self._status: dict[str, tuple[str, str]] = {}  # camera → (status for the hub, detail)
        self._reported_pause: dict[str, bool] = {}
        self._read_failed = False
        self._stopping = asyncio.Event()
        self._task: asyncio.Task | None = None

    # -- lifecycle (on the event loop) ----------------------------------------------

    async def async_start(self) -> None:
        if self._paused is not None:
            self._task = asyncio.create_task(self._async_run(), name="pause-watch")

    async def async_stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _async_run(self) -> None:
        while not self._stopping.is_set():
            await asyncio.to_thread(self.check_pauses)
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=self.interval_s)
            except TimeoutError:
                pass

    # -- what changes (any thread) -----------------------------------------------------

    def capture_state(self, camera: str, state: str, detail: str) -> None:
        """The capture of `camera` is now `state` ("online", "offline"; others are not reported)."""
        if state not in CAMERA_STATUS:
            return
        paused = self._read()
        with self._lock:
            self._status[camera] = (CAMERA_STATUS[state], detail[:500])
            now = camera in paused if paused is not None else self._reported_pause.get(camera, False)
            self._report(camera, now)

    def check_pauses(self) -> int:
        """Read the pauses once and report each known camera whose pause changed; how many were reported."""
        paused = self._read()
        if paused is None:
            return 0
        changed = 0
        with self._lock:
            for camera in self._status:
                if self._reported_pause.get(camera) != (camera in paused):
                    self._report(camera, camera in paused)
                    changed += 1
        return changed

    def _read(self) -> set[str] | None:
        if self._paused is None:
            return set()
        try:
            paused = self._paused()
        except sqlite3.Error as exc:  # the store is busy or broken: keep what was last reported, say so once
            if not self._read_failed:
                logger.warning("the owner's pauses could not be read: %s", exc)
            self._read_failed = True
            return None
        self._read_failed = False
        return paused

    def _report(self, camera: str, paused: bool) -> None:
        status, detail = self._status[camera]
        self._reported_pause[camera] = paused
        if paused:
            logger.info("camera %s: sharing paused by the owner (reported to the hub)", camera)
        self._publish(wire.CameraStatus(camera=camera, status=status, detail=detail,
                                        sharing_paused=True if paused else None))
