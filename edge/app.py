"""The edge agent: builds every component from the config, starts them in order and stops them in reverse.

    index → reconcile → retention → hub link, consent guard, clip orders, streamer, camera states (if
    enrolled) → segment syncer → per camera: recorder (writer) + capture (edge.recording.cameras) → plate
    reader (if [alpr]) → maintenance (clock check, heartbeat, health event, coverage reports, watchdog) → READY

The hub link starts only on an enrolled box (`canvass-provision enroll` wrote data_dir/identity); recording
never depends on it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from edge.alpr.events import PlateEvent, hub_message
from edge.clips.orders import ClipOrders, clip_orders_for
from edge.clock import ClockStatus, clock_status
from edge.config import EdgeConfig
from edge.consent.guard import ConsentGuard
from edge.link.camera_state import CameraStateReporter
from edge.link.hotlist import HotListStore
from edge.link.mqtt import EdgeLink
from edge.link.outbox import Outbox
from edge.link.witness import Witness, http_fetch
from edge.maintenance import Maintenance, clear_heartbeat
from edge.recording.cameras import Cameras
from edge.recording.coverage import CoverageReporter
from edge.recording.index import SegmentIndex
from edge.recording.reconcile import reconcile
from edge.recording.retention import Retention
from edge.recording.storage import Layout
from edge.service import Notifier
from provisioning.identity import Identity, IdentityError
from wire import messages as wire

if TYPE_CHECKING:  # imported where they are built: start_streamer and start_plate_reading say why
    from edge.alpr.service import PlateReader
    from edge.streaming.streamer import Streamer

logger = logging.getLogger(__name__)


class EdgeApp:
    def __init__(self, config: EdgeConfig, *, clock: Callable[[], float] = time.time, notifier: Notifier | None = None,
                 clock_check: Callable[[], ClockStatus] = clock_status) -> None:
        self.config = config
        self.layout = Layout(config.appliance.data_dir)
        self._clock = clock
        self._clock_check = clock_check
        self.notifier = notifier or Notifier()
        self._started = time.monotonic()
        self.index: SegmentIndex | None = None
        self.retention: Retention | None = None
        self.cameras = Cameras(config, self.layout, clock=clock)
        self.maintenance: Maintenance | None = None
        self.link: EdgeLink | None = None  # on an enrolled box, as are the four below
        self.hotlist: HotListStore | None = None
        self.witness: Witness | None = None  # of the hub's audit log
        self.consent: ConsentGuard | None = None  # judges every grant
        self.streamer: Streamer | None = None  # WebRTC sessions under accepted grants
        self.plates: PlateReader | None = None  # when the config has [alpr]
        self.clip_orders: ClipOrders | None = None  # footage requests and clip orders from the hub
        self.camera_reports: CameraStateReporter | None = None  # recording and the owner's pause, to the hub

    # -- start-up, in order ----------------------------------------------------

    async def async_start(self) -> None:
        self.init_storage()
        await asyncio.to_thread(self.init_reconcile)
        await self.start_retention()
        identity = self.init_identity()
        if identity is not None:
            self.init_link(identity)
            self.init_consent(identity)
            self.start_streamer()
            await self.start_link(identity)
        self.start_cameras()
        await asyncio.to_thread(self.start_plate_reading)
        await self.start_maintenance()
        self.notifier.ready(self.cameras.status_line())
        logger.info("edge agent %s ready: %s", self.config.appliance.id, self.cameras.status_line())

    def init_storage(self) -> None:
        self.layout.make_dirs()
        self.index = SegmentIndex(self.layout.index_path)

    def init_reconcile(self) -> None:
        report = reconcile(self.layout, self._index)
        logger.info("index reconciled: %s", report)

    async def start_retention(self) -> None:
        self.retention = Retention(self.config.cameras, self.config.recording, self.layout, self._index,
                                   open_bytes=self.cameras.open_segment_bytes, clock=self._clock)
        await self.retention.async_start()

    def init_identity(self) -> Identity | None:
        """The box's identity from enrolment; None (recording only) if it has none or it cannot be read."""
        if not Identity.exists(self.layout.identity):
            logger.info("not enrolled with a hub (%s absent): recording only", self.layout.identity)
            return None
        try:
            return Identity.load(self.layout.identity)
        except IdentityError as exc:
            logger.error("hub link not started: %s", exc)
            return None

    def init_link(self, identity: Identity) -> None:
        self.hotlist = HotListStore(self.layout.hotlist_path)
        self.link = EdgeLink(identity, Outbox(self.layout.outbox_path), self.hotlist)

    def init_consent(self, identity: Identity) -> None:
        """The witness of the hub's audit log and the consent guard, when enrolment gave the audit key."""
        if not identity.audit_public_key_pem:
            return
        assert self.link is not None
        self.witness = Witness(self.layout.checkpoint_path, identity.audit_public_key_pem, identity.audit_origin,
                               http_fetch(identity.hub_url))
        self.consent = ConsentGuard(self.layout.consent_path, device_id=identity.device_id,
                                    cameras=[camera.name for camera in self.config.cameras],
                                    grant_key_pem=identity.grant_public_key_pem,
                                    audit_key_pem=identity.audit_public_key_pem,
                                    audit_origin=identity.audit_origin, witness=self.witness)
        self.link.handlers.update(self.consent.command_handlers())
        self.clip_orders = clip_orders_for(identity=identity, layout=self.layout, index=self._index, guard=self.consent,
                                           publish=self.publish, config=self.config.clips, handlers=self.link.handlers)

    def start_streamer(self) -> None:
        if self.consent is None:
            return
        assert self.link is not None
        # aiortc (about 30 MB resident) is loaded only on a box that streams: one that records only stays small.
        from edge.streaming.playback import footage_reader
        from edge.streaming.snapshot import Snapshots
        from edge.streaming.streamer import Streamer

        self.streamer = Streamer(self.consent, self.cameras.fanout_for, self.publish, self.config.streaming,
                                 footage_for=footage_reader(self._index, self.layout.recordings))
        self.link.handlers |= self.streamer.command_handlers() | Snapshots(self.cameras.fanout_for).command_handlers()
        self.streamer.start()

    async def start_link(self, identity: Identity) -> None:
        assert self.link is not None
        self.link.start()  # after its command handlers are in place
        if self.clip_orders is not None:
            self.clip_orders.start()
        self.camera_reports = CameraStateReporter(self.publish, self.consent.paused_cameras if self.consent else None)
        await self.camera_reports.async_start()  # before the cameras: their first states go through it
        logger.info("hub link started as %s", identity.device_id)

    def start_cameras(self) -> None:
        assert self.retention is not None
        self.cameras.start(self._index, on_disk_full=functools.partial(self.retention.wake, disk_full=True),
                           on_state=self.camera_reports.capture_state if self.camera_reports else None)

    def start_plate_reading(self) -> None:
        if self.config.alpr is None:
            return
        # Optional ([alpr]), and it loads numpy, OpenCV and ONNX Runtime (about 50 MB resident): imported here.
        from edge.alpr.base import AlprError
        from edge.alpr.reads import ReadStore
        from edge.alpr.service import PlateReader

        store = ReadStore(self.layout.reads_path, self.layout.thumbnails)
        reader = PlateReader(self.config.alpr, store, clock=self._clock, on_event=self._plate_event)
        try:
            reader.start(self.cameras.analysis_fanouts())
        except AlprError as exc:  # e.g. the fast backend's models are not installed: recording goes on
            logger.error("plate reading not started: %s", exc)
            store.close()
            self.cameras.stop_substreams()
            return
        if self.hotlist is not None:
            reader.follow(self.hotlist)
        self.plates = reader

    async def start_maintenance(self) -> None:
        coverage = None if self.link is None else CoverageReporter(
            self._index, [camera.name for camera in self.config.cameras], self.link.publish_event,
            interval_s=self.config.recording.coverage_report_seconds)
        self.maintenance = Maintenance(
            index=self._index, cameras=self.cameras, notifier=self.notifier, data_dir=self.layout.data_dir,
            clock=self._clock, clock_check=self._clock_check, started=self._started,
            publish=self.publish if self.link is not None else None, witness=self.witness,
            reads=self.plates.store if self.plates is not None else None, coverage=coverage)
        await self.maintenance.async_start()

    # -- shut-down, in reverse ---------------------------------------------------

    async def async_stop(self) -> None:
        self.notifier.stopping()
        if self.maintenance is not None:
            await self.maintenance.async_stop()
        if self.camera_reports is not None:
            await self.camera_reports.async_stop()
        if self.streamer is not None:  # sessions end (and are reported) while the cameras still run
            await asyncio.to_thread(self.streamer.stop)
        if self.plates is not None:  # before the cameras: it reads their fan-outs
            await asyncio.to_thread(self._stop_plate_reading)
        await asyncio.to_thread(self.cameras.stop)
        if self.link is not None:
            await asyncio.to_thread(self._stop_link)
        if self.retention is not None:
            await self.retention.async_stop()
        if self.index is not None:
            clear_heartbeat(self.index)
            self.index.close()
        logger.info("edge agent stopped")

    def _stop_plate_reading(self) -> None:
        assert self.plates is not None
        self.plates.stop()
        self.plates.store.close()
        self.cameras.stop_substreams()

    def _stop_link(self) -> None:
        assert self.link is not None
        if self.clip_orders is not None:  # stops between chunks: an unfinished upload resumes at the next start
            self.clip_orders.stop()
        self.link.stop()
        self.link.outbox.close()
        if self.consent is not None:
            self.consent.close()

    # -- what the components call back -------------------------------------------

    @property
    def _index(self) -> SegmentIndex:
        assert self.index is not None, "init_storage() first"
        return self.index

    def _plate_event(self, event: PlateEvent) -> None:
        """A stored read: to the hub if the camera owner's plate_sharing allows it (none by default)."""
        if self.link is None:
            return
        document = self.consent.policy(event.read.camera) if self.consent is not None else None
        message = hub_message(event, document.policy.plate_sharing if document is not None else "none")
        if message is not None:
            self.publish(message)

    def publish(self, body: wire.EventBody) -> None:
        """Queue an event for the hub in the durable outbox; a failure here never touches recording."""
        try:
            self.link.publish_event(body)  # type: ignore[union-attr]  # called on an enrolled box only
        except Exception:
            logger.warning("event %s not queued for the hub", body.kind, exc_info=True)
