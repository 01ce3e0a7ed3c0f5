"""The edge agent: builds every component from the config, starts them in
order and stops them in reverse.

    index → reconcile → retention → hub link, consent guard, streamer (if
    enrolled) → segment syncer →
    per camera: recorder (writer) + capture → plate reader (if [alpr]) →
    maintenance (clock check, heartbeat, health event, systemd watchdog) → READY

The hub link starts only on an enrolled box (`canvass-provision enroll` wrote
data_dir/identity); recording never depends on it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

from edge.clock import ClockStatus, clock_status
from edge.config import CameraConfig, EdgeConfig
from edge.errors import SegmentIndexError
from edge.recording.capture import CameraCapture
from edge.recording.durability import Syncer
from edge.recording.fanout import Fanout, GopCache
from edge.recording.index import SegmentIndex
from edge.recording.reconcile import reconcile
from edge.recording.recorder import CameraRecorder
from edge.recording.retention import Retention
from edge.recording.storage import Layout, free_bytes
from edge.service import Notifier
from wire import messages as wire

logger = logging.getLogger(__name__)

ALARM_CLOCK = "clock:unsynchronised"
HEARTBEAT_KEY = "agent_heartbeat_us"
MAINTENANCE_SECONDS = 5
CLOCK_CHECK_SECONDS = 60
HEALTH_EVENT_SECONDS = 60
WITNESS_SECONDS = 60
READS_PRUNE_SECONDS = 600
ALARM_AUDIT_FORK = "audit:log_forked"
#: What a capture state means to the hub: video flowing is video being recorded.
CAMERA_STATUS = {"online": "recording", "offline": "offline"}


@dataclass(slots=True)
class CameraPipeline:
    """Everything that runs for one camera."""

    config: CameraConfig
    fanout: Fanout
    recorder: CameraRecorder
    capture: CameraCapture

    def healthy(self) -> bool:
        return self.capture.is_alive() and self.recorder.is_alive()


class EdgeApp:
    def __init__(
        self,
        config: EdgeConfig,
        *,
        clock: Callable[[], float] = time.time,
        notifier: Notifier | None = None,
        clock_check: Callable[[], ClockStatus] = clock_status,
    ) -> None:
        self.config = config
        self.layout = Layout(config.appliance.data_dir)
        self._clock = clock
        self._clock_check = clock_check
        self.notifier = notifier or Notifier()
        self.index: SegmentIndex | None = None
        self.retention: Retention | None = None
        self.cameras: dict[str, CameraPipeline] = {}
        interval_ms = config.recording.sync_interval_ms
        self.syncer: Syncer | None = Syncer(interval_ms / 1000) if interval_ms else None
        self._maintenance: asyncio.Task | None = None
        self.link = None  # edge.link.mqtt.EdgeLink on an enrolled box
        self.witness = None  # edge.link.witness.Witness of the hub's audit log, on an enrolled box
        self.consent = None  # edge.consent.ConsentGuard: judges every grant, on an enrolled box
        self.streamer = None  # edge.streaming.streamer.Streamer: WebRTC sessions under accepted grants, on an enrolled box
        self.hotlist = None  # edge.link.hotlist.HotListStore, on an enrolled box
        self.plates = None  # edge.alpr.service.PlateReader, when the config has [alpr]
        self.substreams: list[CameraCapture] = []  # analysis-only connections to cameras' substreams
        self._started = time.monotonic()

    # -- start-up, in order ----------------------------------------------------

    async def async_start(self) -> None:
        self.init_storage()
        await asyncio.to_thread(self.init_reconcile)
        await self.start_retention()
        self.start_link()
        self.start_cameras()
        await asyncio.to_thread(self.start_plate_reading)
        self.start_maintenance()
        self.notifier.ready(self._status_line())
        logger.info("edge agent %s ready: %s", self.config.appliance.id, self._status_line())

    def init_storage(self) -> None:
        self.layout.make_dirs()
        self.index = SegmentIndex(self.layout.index_path)

    def init_reconcile(self) -> None:
        report = reconcile(self.layout, self._index)
        logger.info("index reconciled: %s", report)

    async def start_retention(self) -> None:
        self.retention = Retention(
            self.config.cameras,
            self.config.recording,
            self.layout,
            self._index,
            open_bytes=self._open_bytes,
            clock=self._clock,
        )
        await self.retention.async_start()

    def start_link(self) -> None:
        from provisioning.identity import Identity, IdentityError

        if not Identity.exists(self.layout.identity):
            logger.info("not enrolled with a hub (%s absent): recording only", self.layout.identity)
            return
        from edge.link.hotlist import HotListStore
        from edge.link.mqtt import EdgeLink
        from edge.link.outbox import Outbox

        try:
            identity = Identity.load(self.layout.identity)
        except IdentityError as exc:
            logger.error("hub link not started: %s", exc)
            return
        self.hotlist = HotListStore(self.layout.hotlist_path)
        self.link = EdgeLink(identity, Outbox(self.layout.outbox_path), self.hotlist)
        if identity.audit_public_key_pem:
            from edge.consent import ConsentGuard
            from edge.link.witness import Witness, http_fetch

            self.witness = Witness(self.layout.checkpoint_path, identity.audit_public_key_pem, identity.audit_origin,
                                   http_fetch(identity.hub_url))
            self.consent = ConsentGuard(self.layout.consent_path, device_id=identity.device_id,
                                        cameras=[camera.name for camera in self.config.cameras],
                                        grant_key_pem=identity.grant_public_key_pem,
                                        audit_key_pem=identity.audit_public_key_pem,
                                        audit_origin=identity.audit_origin, witness=self.witness)
            self.link.handlers.update(self.consent.command_handlers())
            from edge.streaming.streamer import Streamer

            self.streamer = Streamer(self.consent, self._fanout_for, self.publish, self.config.streaming,
                                     footage_for=self._footage_for)
            self.link.handlers.update(self.streamer.command_handlers())
            self.streamer.start()
        self.link.start()  # after its command handlers are in place
        logger.info("hub link started as %s", identity.device_id)

    def start_cameras(self) -> None:
        if self.syncer is not None:
            self.syncer.start()
        for camera in self.config.cameras:
            self.cameras[camera.name] = self._build_camera(camera)
        for pipeline in self.cameras.values():
            pipeline.recorder.start()
            pipeline.capture.start()

    def _build_camera(self, camera: CameraConfig) -> CameraPipeline:
        fanout = Fanout(gop_cache=GopCache(max_packets=self.config.capture.gop_cache_max_packets))
        queue_items = int(self.config.recording.writer_queue_seconds * 60)  # frames at up to 60 fps
        queue = fanout.subscribe("recorder", max_items=queue_items)
        assert self.retention is not None
        recorder = CameraRecorder(
            camera,
            self.config.recording,
            self.layout,
            self._index,
            queue,
            syncer=self.syncer,
            on_disk_full=functools.partial(self.retention.wake, disk_full=True),
            clock=self._clock,
        )
        capture = CameraCapture(
            camera,
            self.config.capture,
            fanout,
            clock=self._clock,
            on_state=lambda state, detail, name=camera.name: self._camera_state(name, state, detail),
        )
        return CameraPipeline(camera, fanout, recorder, capture)

    def start_plate_reading(self) -> None:
        if self.config.alpr is None:
            return
        from edge.alpr.base import AlprError
        from edge.alpr.reads import ReadStore
        from edge.alpr.service import PlateReader

        store = ReadStore(self.layout.reads_path, self.layout.thumbnails)
        reader = PlateReader(self.config.alpr, store, clock=self._clock, on_event=self._plate_event)
        try:
            reader.start({name: self._analysis_fanout(pipeline) for name, pipeline in self.cameras.items()})
        except AlprError as exc:  # e.g. the fast backend's models are not installed: recording goes on
            logger.error("plate reading not started: %s", exc)
            store.close()
            self._stop_substreams()
            return
        if self.hotlist is not None:
            if self.hotlist.current is not None:
                reader.set_hotlist(self.hotlist.current.entries)
            self.hotlist.listeners.append(lambda hotlist: reader.set_hotlist(hotlist.entries))
        self.plates = reader

    def _analysis_fanout(self, pipeline: CameraPipeline) -> Fanout:
        """The camera's substream when configured (its own connection, never recorded), else the main stream."""
        camera = pipeline.config
        if camera.substream_url is None:
            return pipeline.fanout
        fanout = Fanout(gop_cache=GopCache(max_packets=1))
        capture = CameraCapture(
            camera.model_copy(update={"url": camera.substream_url}), self.config.capture, fanout, clock=self._clock,
            on_state=lambda state, detail, name=camera.name: logger.info("camera %s substream: %s %s",
                                                                          name, state, detail))
        capture.start()
        self.substreams.append(capture)
        return fanout

    def _stop_substreams(self) -> None:
        for capture in self.substreams:
            capture.request_stop()
        for capture in self.substreams:
            capture.stop()
        self.substreams = []

    def _plate_event(self, event) -> None:
        """A stored read: to the hub if the camera owner's plate_sharing allows it (none by default)."""
        from edge.alpr.events import may_leave_box

        if self.link is None:
            return
        document = self.consent.policy(event.read.camera) if self.consent is not None else None
        sharing = document.policy.plate_sharing if document is not None else "none"
        if not may_leave_box(event, sharing):
            return
        hit = None
        if event.hit is not None:
            hit = wire.HotListHit(list_name=event.hit.entry.list_name, entry_plate=event.hit.entry.plate,
                                  reason=event.hit.entry.reason)
        read = event.read
        self.publish(wire.PlateRead(camera=read.camera, plate=read.plate, confidence=min(1.0, read.confidence),
                                    first_seen=_utc(read.first_seen_us), last_seen=_utc(read.last_seen_us), hit=hit))

    def start_maintenance(self) -> None:
        self._maintenance = asyncio.create_task(self._async_maintenance(), name="maintenance")

    # -- shut-down, in reverse ---------------------------------------------------

    async def async_stop(self) -> None:
        self.notifier.stopping()
        if self._maintenance is not None:
            self._maintenance.cancel()
            await asyncio.gather(self._maintenance, return_exceptions=True)
        if self.streamer is not None:  # sessions end (and are reported) while the cameras still run
            await asyncio.to_thread(self.streamer.stop)
        if self.plates is not None:  # before the cameras: it reads their fan-outs
            await asyncio.to_thread(self._stop_plate_reading)
        await asyncio.to_thread(self._stop_cameras)
        if self.link is not None:
            await asyncio.to_thread(self._stop_link)
        if self.retention is not None:
            await self.retention.async_stop()
        if self.index is not None:
            try:
                self.index.set_meta(HEARTBEAT_KEY, 0)  # "not running", for `status`
            except SegmentIndexError:
                logger.debug("heartbeat not cleared", exc_info=True)
            self.index.close()
        logger.info("edge agent stopped")

    def _stop_cameras(self) -> None:
        for pipeline in self.cameras.values():
            pipeline.capture.request_stop()
        for pipeline in self.cameras.values():
            pipeline.capture.stop()
            pipeline.fanout.close()
        for pipeline in self.cameras.values():
            pipeline.recorder.stop()
            logger.info("camera %s: recorder queue dropped %d packets", pipeline.config.name, pipeline.recorder.queue.dropped)
        if self.syncer is not None:
            self.syncer.stop()

    def _stop_plate_reading(self) -> None:
        assert self.plates is not None
        self.plates.stop()
        self.plates.store.close()
        self._stop_substreams()

    def _stop_link(self) -> None:
        assert self.link is not None
        self.link.stop()
        self.link.outbox.close()
        if self.consent is not None:
            self.consent.close()

    async def run_until_signal(self) -> None:
        """Run until SIGTERM or SIGINT, then stop gracefully (open segments are closed)."""
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await self.async_start()
        try:
            await stop.wait()
        finally:
            await self.async_stop()

    # -- maintenance ------------------------------------------------------------

    @property
    def _index(self) -> SegmentIndex:
        assert self.index is not None, "init_storage() first"
        return self.index

    def _footage_for(self, camera: str, start_us: int, end_us: int):
        from edge.streaming.playback import Footage

        return Footage(self._index, self.layout.recordings, camera, start_us=start_us, end_us=end_us)

    def _fanout_for(self, camera: str) -> Fanout | None:
        pipeline = self.cameras.get(camera)
        return pipeline.fanout if pipeline is not None else None

    def _open_bytes(self) -> int:
        return sum(p.recorder.open_segment_bytes for p in self.cameras.values())

    def _camera_state(self, camera: str, state: str, detail: str) -> None:
        now_us = int(self._clock() * 1_000_000)
        pipeline = self.cameras.get(camera)
        last = pipeline.capture.last_packet_us if pipeline else None
        try:
            self._index.set_camera_state(camera=camera, state=state, since_us=now_us, last_packet_us=last, detail=detail)
        except SegmentIndexError:
            logger.debug("camera state not stored", exc_info=True)
        if self.link is not None and state in CAMERA_STATUS:
            self.publish(wire.CameraStatus(camera=camera, status=CAMERA_STATUS[state], detail=detail[:500]))

    def publish(self, body: wire.EventBody) -> None:
        """Queue an event for the hub in the durable outbox; a failure here never touches recording."""
        try:
            self.link.publish_event(body)
        except Exception:
            logger.warning("event %s not queued for the hub", body.kind, exc_info=True)

    def _health(self) -> None:
        self.publish(wire.Health(
            uptime_s=round(time.monotonic() - self._started, 1),
            disk_free_bytes=free_bytes(self.layout.data_dir),
            cameras_recording=sum(1 for p in self.cameras.values() if p.capture.last_packet_us is not None)))

    async def _async_maintenance(self) -> None:
        interval = MAINTENANCE_SECONDS
        if self.notifier.watchdog_interval_s is not None:
            interval = min(interval, self.notifier.watchdog_interval_s)
        last_clock_check = last_health = last_witness = last_reads_pruned = -READS_PRUNE_SECONDS
        while True:
            now = time.monotonic()
            if now - last_clock_check >= CLOCK_CHECK_SECONDS:
                await asyncio.to_thread(self._check_clock)
                last_clock_check = now
            if self.link is not None and now - last_health >= HEALTH_EVENT_SECONDS:
                await asyncio.to_thread(self._health)
                last_health = now
            if self.witness is not None and now - last_witness >= WITNESS_SECONDS:
                await asyncio.to_thread(self._witness_check)
                last_witness = now
            if self.plates is not None and now - last_reads_pruned >= READS_PRUNE_SECONDS:
                await asyncio.to_thread(self._prune_reads)
                last_reads_pruned = now
            await asyncio.to_thread(self._heartbeat)
            if all(p.healthy() for p in self.cameras.values()) and (self.syncer is None or self.syncer.is_alive()):
                self.notifier.watchdog()
            else:
                logger.error("a recording thread died; withholding the watchdog so systemd restarts the agent")
            self.notifier.status(self._status_line())
            await asyncio.sleep(interval)

    def _prune_reads(self) -> None:
        """Plate reads are kept as long as their camera's video."""
        from edge.alpr.base import AlprError
        from edge.recording.retention import age_cutoff_us

        now_us = int(self._clock() * 1_000_000)
        for camera in self.config.cameras:
            try:
                gone = self.plates.store.prune(camera=camera.name, before_us=age_cutoff_us(now_us, camera.retention_days))
            except (AlprError, OSError) as exc:
                logger.warning("plate reads of %s not pruned: %s", camera.name, exc)
                continue
            if gone:
                logger.info("pruned %d plate reads of %s past %s days", gone, camera.name, camera.retention_days)

    def _witness_check(self) -> None:
        from edge.link.witness import LogForked

        try:
            self.witness.check()
        except LogForked as exc:
            logger.critical("the hub's audit log: %s", exc)
            self._index.raise_alarm(key=ALARM_AUDIT_FORK, level="critical", message=str(exc),
                                    since_us=int(self._clock() * 1_000_000))
            self.publish(wire.Alarm(code="audit.log_forked", message=str(exc)[:2000]))
        except Exception as exc:  # the hub unreachable: try again next time
            logger.info("audit checkpoint not checked: %s", exc)

    def _check_clock(self) -> None:
        status = self._clock_check()
        now_us = int(self._clock() * 1_000_000)
        if status.synchronised:
            self._index.clear_alarm(ALARM_CLOCK)
        else:
            level = "critical" if status.synchronised is False else "warning"
            self._index.raise_alarm(key=ALARM_CLOCK, level=level, message=status.detail, since_us=now_us)

    def _heartbeat(self) -> None:
        try:
            self._index.set_meta(HEARTBEAT_KEY, int(self._clock() * 1_000_000))
        except SegmentIndexError:
            logger.debug("heartbeat not stored", exc_info=True)

    def _status_line(self) -> str:
        online = sum(1 for p in self.cameras.values() if p.capture.last_packet_us is not None)
        return f"{len(self.cameras)} cameras, {online} delivered video"


def _utc(us: int):
    import datetime as dt

    return dt.datetime.fromtimestamp(us / 1_000_000, dt.UTC)

