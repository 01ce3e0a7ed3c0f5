"""The appliance's end of the MQTT link: events out through the durable outbox, commands in.

Sending is go-back-N over the outbox: up to `window` events are in flight;
the hub acknowledges cumulatively once they are in its database, and only
then are they deleted here. After a reconnect, or when acknowledgements stop
advancing for `resend_after_s`, sending restarts from the oldest
unacknowledged event. The hub stores an event only right after its
predecessor and drops repeats, so every event arrives exactly once and in
order however often the broker or the hub goes away.

Presence is a retained `state` message: "online" on every connect, and the
broker publishes the last will, "offline", if the box vanishes.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.subscribeoptions import SubscribeOptions

from edge.link.hotlist import HotListStore
from edge.link.outbox import Outbox
from provisioning.identity import Identity
from wire import messages as m
from wire import topics
from wire.client import persistent_session, tls_client

log = logging.getLogger(__name__)

#: Answers one kind of command with its result (`wire.messages.RESULT_OF`); raising makes a failed reply.
CommandHandler = Callable[[Any], m.ReplyResult]


class EdgeLink:
    def __init__(self, identity: Identity, outbox: Outbox, hotlist: HotListStore, *, window: int = 100,
                 resend_after_s: float = 5.0, min_backoff_s: float = 0.5, max_backoff_s: float = 30.0):
        self.identity = identity
        self.outbox = outbox
        self.hotlist = hotlist
        self.window = window
        self.resend_after_s = resend_after_s
        self.device_id = identity.device_id
        self.client = tls_client(identity.device_id, ca=identity.ca, cert=identity.cert, key=identity.key,
                                 min_backoff_s=min_backoff_s, max_backoff_s=max_backoff_s)
        self.client.max_inflight_messages_set(window)
        self.client.will_set(self._topic(topics.Leaf.STATE), m.encode(m.DeviceState(state="offline")), qos=1,
                             retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.handlers: dict[type, CommandHandler] = {m.Ping: lambda body: m.Pong(),
                                                     m.HotListReplace: self._replace_hotlist}
        self._wake = threading.Condition()
        self._connected = False
        self._stopping = False
        oldest = outbox.oldest()
        self._acked = oldest - 1 if oldest is not None else outbox.last_seq()
        self._sent = self._acked
        self._progress_at = time.monotonic()
        self._sender = threading.Thread(target=self._send_loop, name="link-sender", daemon=True)
        self.rejected = 0

    def _topic(self, leaf: topics.Leaf) -> str:
        return topics.device_topic(self.device_id, leaf)

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> None:
        self._sender.start()
        self.client.connect_async(self.identity.broker_host, self.identity.broker_port, keepalive=30,
                                  clean_start=False, properties=persistent_session())
        self.client.loop_start()

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        self._sender.join(timeout=5)
        if self._connected:
            info = self.client.publish(self._topic(topics.Leaf.STATE), m.encode(m.DeviceState(state="offline")),
                                       qos=1, retain=True)
            info.wait_for_publish(timeout=2)
        self.client.disconnect()
        self.client.loop_stop()

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def acked(self) -> int:
        return self._acked

    # -- events out ----------------------------------------------------------------

    def publish_event(self, body: m.EventBody) -> m.EventEnvelope:
        """Store `body` in the outbox (durable before this returns) and wake the sender."""
        envelope = self.outbox.put(body)
        with self._wake:
            self._wake.notify_all()
        return envelope

    def _send_loop(self) -> None:
        while True:
            with self._wake:
                if self._stopping:
                    return
                if not self._connected:
                    self._wake.wait(0.5)
                    continue
                if self._sent > self._acked and time.monotonic() - self._progress_at > self.resend_after_s:
                    log.info("no acknowledgement for %.0f s: resending from event %d", self.resend_after_s,
                             self._acked + 1)
                    self._sent, self._progress_at = self._acked, time.monotonic()
                room = self.window - (self._sent - self._acked)
                start = self._sent
            batch = self.outbox.after(start, room) if room > 0 else []
            if not batch:
                with self._wake:
                    self._wake.wait(0.5)
                continue
            for seq, payload in batch:
                info = self.client.publish(self._topic(topics.Leaf.EVENTS), payload, qos=1)
                if info.rc != mqtt.MQTT_ERR_SUCCESS:
                    break  # disconnected: on_connect rewinds
                with self._wake:
                    self._sent = max(self._sent, seq)

    # -- messages in -------------------------------------------------------------

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("broker refused this appliance: %s", reason_code)
            return
        client.subscribe([(self._topic(topics.Leaf.ACKS), SubscribeOptions(qos=1)),
                          (self._topic(topics.Leaf.CMD), SubscribeOptions(qos=1))])
        client.publish(self._topic(topics.Leaf.STATE),
                       m.encode(m.DeviceState(state="online", at=dt.datetime.now(dt.timezone.utc))), qos=1,
                       retain=True)
        with self._wake:
            self._connected = True
            self._sent, self._progress_at = self._acked, time.monotonic()  # resend what is unacknowledged
            self._wake.notify_all()
        log.info("connected to the hub's broker as %s", self.device_id)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        with self._wake:
            self._connected = False
        log.warning("disconnected from the broker: %s", reason_code)

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        try:
            _, leaf = topics.parse(message.topic)
            if leaf == topics.Leaf.ACKS:
                self._on_ack(m.decode(m.EventAck, message.payload))
            elif leaf == topics.Leaf.CMD:
                self._on_command(m.decode(m.Command, message.payload))
        except (m.WireError, topics.TopicError) as exc:
            self.rejected += 1
            log.warning("rejected message on %s: %s", message.topic, exc)
        except Exception:
            log.exception("error handling message on %s", message.topic)

    def _on_ack(self, ack: m.EventAck) -> None:
        if ack.stream != self.outbox.stream:
            log.warning("acknowledgement for another event stream %s ignored", ack.stream)
            return
        if ack.upto > self._acked:
            self.outbox.ack(ack.upto)
            with self._wake:
                self._acked = ack.upto
                self._sent = max(self._sent, ack.upto)
                self._progress_at = time.monotonic()
                self._wake.notify_all()
        elif ack.upto == 0 and self._acked > 0:
            log.error("the hub has no record of event stream %s, whose first %d events it acknowledged before",
                      ack.stream, self._acked)

    def handle(self, command_type: type, handler: CommandHandler) -> None:
        """Answer commands of `command_type` (a `wire.messages` command class) with `handler`."""
        if command_type not in m.RESULT_OF:
            raise TypeError(f"{command_type.__name__} is not a command")
        self.handlers[command_type] = handler

    def _on_command(self, command: m.Command) -> None:
        handler = self.handlers.get(type(command.body))
        try:
            if handler is None:
                raise ValueError(f"unsupported command {command.body.kind}")
            result = handler(command.body)
            expected = m.RESULT_OF[type(command.body)]
            if not isinstance(result, expected):
                raise TypeError(f"{command.body.kind} answered with {type(result).__name__}, not {expected.__name__}")
            reply = m.Reply(request_id=command.request_id, ok=True, result=result)
        except Exception as exc:
            log.warning("command %s (%s) failed: %s", command.body.kind, command.request_id, exc)
            reply = m.Reply(request_id=command.request_id, ok=False, error=str(exc)[:2000])
        self.client.publish(self._topic(topics.Leaf.REPLY), m.encode(reply), qos=1)

    def _replace_hotlist(self, body: m.HotListReplace) -> m.HotListTaken:
        self.hotlist.replace(body)
        log.info("hot list version %d with %d entries", body.version, len(body.entries))
        return m.HotListTaken(version=body.version, entries=len(body.entries))
