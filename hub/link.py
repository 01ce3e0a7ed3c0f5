"""The hub's end of the MQTT link: ingests appliance messages, acknowledges events, sends commands.

paho's network thread only parses the topic and queues the message; one
worker thread applies queued messages in batches (one transaction, a
savepoint per message), commits, and only then publishes the cumulative
acknowledgements, so an acknowledged event is always in the database.
Malformed payloads are logged with the device and the reason and dropped.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from uuid import UUID

import paho.mqtt.client as mqtt
from paho.mqtt.subscribeoptions import SubscribeOptions
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from hub import hotlist
from hub.access.grants import current_consent
from hub.broker import HUB_IDENTITY
from hub.ingest import Ack, ingest_event, ingest_state
from hub.services import HubServices
from hub.tables import Appliance, ApplianceState, Camera
from wire import messages as m
from wire import owner as wo
from wire import topics
from wire.client import persistent_session, tls_client

log = logging.getLogger(__name__)

BATCH = 500
BATCH_ATTEMPTS = 10  # a batch SQLite refused as locked is tried again this many times at once


PENDING_TTL_S = 300


@dataclass
class _Stored:
    """What one batch stored that others hear of once it is committed."""

    acks: dict[tuple[str, UUID], Ack] = field(default_factory=dict)
    came_online: list[str] = field(default_factory=list)
    ended: list[UUID] = field(default_factory=list)  # streaming sessions the appliances ended
    progress: list[tuple[str, m.ClipProgress]] = field(default_factory=list)  # clip reports
    hits: int = 0  # hot-list hits among the events (new or repeated: a repeat may follow a batch that failed)


@dataclass
class _Pending:
    device_id: str
    sent_at: float
    done: threading.Event
    reply: m.Reply | None = None


class HubLink:
    def __init__(self, hub: HubServices, *, client_id: str = HUB_IDENTITY):
        self.hub = hub
        #: Called (from the ingest thread) with the id of each streaming session an appliance reports ended.
        self.stream_ended_listeners: list[Callable[[UUID], None]] = []
        # Called from the link's worker after the batch is stored: they must not wait for a reply themselves.
        self.clip_progress_listeners: list[Callable[[str, m.ClipProgress], None]] = []
        self.came_online_listeners: list[Callable[[list[str]], None]] = []
        #: Called (from the ingest thread, after the commit) when a batch carried hot-list hits: they look for
        #: what was stored since they last looked (hub.hit_feed.HitAnnouncer).
        self.hit_listeners: list[Callable[[], object]] = []
        files = hub.broker_files
        self.client = tls_client(client_id, ca=files.ca, cert=files.hub_cert, key=files.hub_key, max_backoff_s=10)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self._inbox: queue.Queue[tuple[str, topics.Leaf, bytes] | None] = queue.Queue()
        self._pending: dict[UUID, _Pending] = {}
        self._lock = threading.Lock()
        self._worker = threading.Thread(target=self._work, name="hub-ingest", daemon=True)
        self.connected = False
        self.rejected = 0
        self.stored_batches = 0
        self.retried_batches = 0  # batches tried again after SQLite said "database is locked"

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> None:
        settings = self.hub.settings
        self._worker.start()
        self.client.connect_async(settings.broker_host, settings.broker_port, keepalive=30, clean_start=False,
                                  properties=persistent_session())
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        self._inbox.put(None)
        self._worker.join(timeout=10)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("broker refused the hub: %s", reason_code)
            return
        self.connected = True
        client.subscribe([(t, SubscribeOptions(qos=1)) for t in topics.HUB_SUBSCRIPTIONS])
        log.info("hub connected to the broker (session present: %s)", flags.session_present)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected = False
        log.warning("hub disconnected from the broker: %s", reason_code)

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        try:
            device_id, leaf = topics.parse(message.topic)
        except topics.TopicError as exc:
            self.rejected += 1
            log.warning("rejected message: %s", exc)
            return
        self._inbox.put((device_id, leaf, message.payload))

    # -- the worker ----------------------------------------------------------------

    def _work(self) -> None:
        while True:
            item = self._inbox.get()
            if item is None:
                return
            batch = [item]
            while len(batch) < BATCH:
                try:
                    nxt = self._inbox.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._inbox.put(None)
                    break
                batch.append(nxt)
            self._apply_with_retries(batch)

    def _apply_with_retries(self, batch) -> None:
        """Store a batch; a batch SQLite refused because another connection wrote meanwhile ("database is
        locked": its read-then-write transaction cannot upgrade) is tried again at once, not left for the
        appliance's resend 5 s later (a hot-list hit would reach the console that late). Storing is idempotent
        (events by sequence number), so a batch that had partly committed is safe to apply again."""
        for attempt in range(1, BATCH_ATTEMPTS + 1):
            try:
                self._apply(batch)
                return
            except OperationalError as exc:
                if attempt == BATCH_ATTEMPTS or "locked" not in str(exc):
                    log.exception("could not store a batch of %d messages; they will be resent", len(batch))
                    return
                self.retried_batches += 1
                time.sleep(0.05 * attempt)
            except Exception:
                log.exception("could not store a batch of %d messages; they will be resent", len(batch))
                return

    def _apply(self, batch) -> None:
        stored = _Stored()
        with self.hub.db.session() as session:
            for device_id, leaf, payload in batch:
                try:
                    with session.begin_nested():
                        self._take(session, device_id, leaf, payload, stored)
                except m.WireError as exc:
                    self.rejected += 1
                    log.warning("rejected %s message from %s: %s", leaf, device_id, exc)
        self.stored_batches += 1
        self._after_commit(stored)

    def _take(self, session, device_id: str, leaf: topics.Leaf, payload: bytes, stored: _Stored) -> None:
        if leaf == topics.Leaf.EVENTS:
            self._event(session, device_id, m.decode(m.EventEnvelope, payload), stored)
        elif leaf == topics.Leaf.STATE:
            if not payload:
                return  # a cleared retained message
            state = m.decode(m.DeviceState, payload)
            ingest_state(session, device_id, state)
            if state.state == "online":
                stored.came_online.append(device_id)
        elif leaf == topics.Leaf.REPLY:
            self._reply(session, device_id, m.decode(m.Reply, payload))

    def _event(self, session, device_id: str, envelope: m.EventEnvelope, stored: _Stored) -> None:
        ack = ingest_event(session, device_id, envelope, coverage_days=self.hub.settings.footage_max_age_days)
        body = envelope.body
        if isinstance(body, m.StreamEnded):
            stored.ended.append(body.session_id)
        if ack is None:
            return
        stored.acks[(ack.device_id, ack.stream)] = ack
        if isinstance(body, m.ClipProgress):
            stored.progress.append((device_id, body))
        elif isinstance(body, m.PlateRead) and body.hit is not None:
            stored.hits += 1

    def _after_commit(self, stored: _Stored) -> None:
        """Acknowledge what is in the database now, then tell the listeners."""
        for ack in stored.acks.values():
            self.client.publish(topics.device_topic(ack.device_id, topics.Leaf.ACKS),
                                m.encode(m.EventAck(stream=ack.stream, upto=ack.upto)), qos=1)
        for session_id in stored.ended:
            for listener in self.stream_ended_listeners:
                listener(session_id)
        for device_id, report in stored.progress:
            for listener in self.clip_progress_listeners:
                listener(device_id, report)
        if stored.hits:
            for hits_listener in self.hit_listeners:
                hits_listener()
        if stored.came_online:
            self.push_hotlist(stored.came_online, only_if_behind=True)
            self.push_policies(stored.came_online)
            for online_listener in self.came_online_listeners:
                online_listener(stored.came_online)

    def _reply(self, session, device_id: str, reply: m.Reply) -> None:
        with self._lock:
            pending = self._pending.get(reply.request_id)
            if pending is not None and pending.device_id == device_id:
                del self._pending[reply.request_id]
            else:
                pending = None
        if pending is None:
            log.warning("reply from %s to unknown request %s dropped", device_id, reply.request_id)
            return
        if isinstance(reply.result, m.HotListTaken):
            appliance = session.scalar(select(Appliance).where(Appliance.device_id == device_id))
            if appliance is not None:
                appliance.hotlist_version_acked = reply.result.version
        pending.reply = reply
        pending.done.set()

    # -- commands ------------------------------------------------------------------

    def send(self, device_id: str, body) -> _Pending:
        """Publish a command; the returned handle's `done` is set when the appliance replies."""
        command = m.Command(request_id=uuid.uuid4(), body=body)
        now = time.monotonic()
        pending = _Pending(device_id, now, threading.Event())
        with self._lock:
            for request_id in [r for r, p in self._pending.items() if now - p.sent_at > PENDING_TTL_S]:
                del self._pending[request_id]  # never answered
            self._pending[command.request_id] = pending
        self.client.publish(topics.device_topic(device_id, topics.Leaf.CMD), m.encode(command), qos=1)
        return pending

    def request(self, device_id: str, body, timeout_s: float = 10) -> m.Reply | None:
        pending = self.send(device_id, body)
        pending.done.wait(timeout_s)
        return pending.reply

    def push_policies(self, device_ids: list[str]) -> None:
        """Forward each camera's current owner-signed consent to appliances that just came online (they keep the
        newest their owner signed; a version nobody signed is not sent)."""
        with self.hub.db.session() as session:
            cameras = session.scalars(select(Camera).join(Appliance).where(Appliance.device_id.in_(device_ids)))
            documents = []
            for camera in cameras:
                row = current_consent(session, camera.id)
                if row is not None and row.signed is not None:
                    documents.append((camera.appliance.device_id, wo.OwnerSigned.model_validate_json(row.signed)))
        for device_id, signed in documents:
            self.send(device_id, m.PolicyUpdate(signed=signed))

    def push_hotlist(self, device_ids: list[str] | None = None, *, only_if_behind: bool = False) -> int:
        """Send the current hot list to `device_ids` (default: every active appliance); returns how many."""
        with self.hub.db.session() as session:
            body = hotlist.current(session)
            query = select(Appliance).where(Appliance.state == ApplianceState.ACTIVE)
            if device_ids is not None:
                query = query.where(Appliance.device_id.in_(device_ids))
            targets = [a.device_id for a in session.scalars(query)
                       if not only_if_behind or a.hotlist_version_acked < body.version]
        for device_id in targets:
            self.send(device_id, body)
        return len(targets)
