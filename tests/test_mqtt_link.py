"""Enrolment and the MQTT link against a real mosquitto with mutual TLS and per-device ACLs."""

from __future__ import annotations

import datetime as dt
import logging
import socket
import ssl
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from sqlalchemy import select

from edge.link.hotlist import HotListStore
from edge.link.mqtt import EdgeLink
from edge.link.outbox import Outbox
from hub.tables import Alert, Appliance, AuditEntry, Camera, Event, PlateReadRow
from provisioning.enroll import EnrolmentFailed, enroll
from provisioning.identity import Identity
from tests.hub_support import HubStack, eventually
from tests.owner_support import put_consent
from wire import messages as m
from wire import topics

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.timezone.utc)


class SimAppliance:
    """An enrolled appliance's link: real identity, real outbox, real paho client."""

    def __init__(self, root: Path, identity: Identity, **link):
        self.identity = identity
        self.outbox = Outbox(root / "outbox.db")
        self.hotlist = HotListStore(root / "hotlist.json")
        self.link = EdgeLink(identity, self.outbox, self.hotlist, **link)

    def start(self) -> "SimAppliance":
        self.link.start()
        eventually(lambda: self.link.connected, what=f"{self.identity.device_id} connected")
        return self

    def stop(self) -> None:
        self.link.stop()
        self.outbox.close()


def enrol(stack: HubStack, root: Path, business: str) -> tuple[Identity, int, str]:
    business_id, owner = stack.business_with_owner(business)
    code = stack.claim_code(owner, business_id)
    identity = enroll(stack.server.url, code, root / "identity", name=business)
    return identity, business_id, owner


def raw_client(identity: Identity, client_id: str | None = None) -> tuple[mqtt.Client, dict]:
    """A bare MQTT 5 client with an appliance's certificate, recording what the broker answers."""
    seen: dict = {"connect": None, "disconnect": None, "puback": {}, "suback": {}, "messages": []}
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or identity.device_id + "-raw",
                         protocol=mqtt.MQTTv5)
    client.tls_set(ca_certs=str(identity.ca), certfile=str(identity.cert), keyfile=str(identity.key),
                   cert_reqs=ssl.CERT_REQUIRED)
    client.on_connect = lambda c, u, f, rc, p: seen.__setitem__("connect", rc)
    client.on_disconnect = lambda c, u, f, rc, p: seen.__setitem__("disconnect", rc)
    client.on_publish = lambda c, u, mid, rc, p: seen["puback"].__setitem__(mid, rc)
    client.on_subscribe = lambda c, u, mid, rcs, p: seen["suback"].__setitem__(mid, rcs)
    client.on_message = lambda c, u, msg: seen["messages"].append(msg.topic)
    return client, seen


def can_connect(identity: Identity, port: int) -> bool:
    """Whether the broker accepts a fresh TLS connection and CONNECT with `identity`'s certificate."""
    client, seen = raw_client(identity)
    try:
        client.connect("127.0.0.1", port)
    except (ssl.SSLError, ConnectionError, OSError):
        return False
    client.loop_start()
    try:
        # With TLS 1.3 a rejected client certificate shows as the server closing the connection.
        eventually(lambda: seen["connect"] is not None or seen["disconnect"] is not None, timeout=10,
                   what="CONNACK or disconnect")
        return seen["connect"] is not None and not seen["connect"].is_failure
    finally:
        client.loop_stop()
        client.disconnect()


def refused_from_now_on(identity: Identity, port: int) -> None:
    """The broker re-reads its CRL asynchronously after SIGHUP: wait (bounded) for the first refusal,
    then every later attempt must be refused too."""
    eventually(lambda: not can_connect(identity, port), timeout=10, what="connection refused")
    assert not any(can_connect(identity, port) for _ in range(3))


def test_enrolled_appliances_are_confined_to_their_own_topics(hub_stack: HubStack, tmp_path: Path):
    a, _, _ = enrol(hub_stack, tmp_path / "a", "Bakery")
    b, _, _ = enrol(hub_stack, tmp_path / "b", "Garage")
    assert a.device_id != b.device_id and topics.is_device_id(a.device_id)
    assert (a.key.stat().st_mode & 0o777) == 0o600

    client, seen = raw_client(a)
    client.connect("127.0.0.1", hub_stack.broker.port)
    client.loop_start()
    try:
        eventually(lambda: seen["connect"] is not None, what="CONNACK")
        assert not seen["connect"].is_failure, seen["connect"]
        # Publishing into B's tree, or as the hub into its own command topic: the broker refuses.
        bad_pub = client.publish(topics.device_topic(b.device_id, topics.Leaf.EVENTS), b"{}", qos=1)
        spoof = client.publish(topics.device_topic(a.device_id, topics.Leaf.CMD), b"{}", qos=1)
        good = client.publish(topics.device_topic(a.device_id, topics.Leaf.STATE),
                              m.encode(m.DeviceState(state="online")), qos=1)
        eventually(lambda: {bad_pub.mid, spoof.mid, good.mid} <= seen["puback"].keys(), what="PUBACKs")
        assert seen["puback"][bad_pub.mid].value == 0x87  # Not authorized
        assert seen["puback"][spoof.mid].value == 0x87
        assert not seen["puback"][good.mid].is_failure
        # Subscribing to B's commands, or to every device's tree: mosquitto 2.0 grants the SUBACK but
        # checks "read" on every delivery, so nothing of B's ever reaches A; A's own commands do.
        _, bad_sub = client.subscribe(topics.device_topic(b.device_id, topics.Leaf.CMD), qos=1)
        _, wild_sub = client.subscribe(f"{topics.ROOT}/#", qos=1)
        eventually(lambda: {bad_sub, wild_sub} <= seen["suback"].keys(), what="SUBACKs")
        hub_client = hub_stack.hub.link.client
        for device in (b.device_id, b.device_id, a.device_id):
            hub_client.publish(topics.device_topic(device, topics.Leaf.CMD), b"probe", qos=1).wait_for_publish(5)
        hub_client.publish(topics.device_topic(b.device_id, topics.Leaf.ACKS), b"probe", qos=1).wait_for_publish(5)
        own = topics.device_topic(a.device_id, topics.Leaf.CMD)
        eventually(lambda: own in seen["messages"], what="A's own command delivered")
        time.sleep(0.5)  # time for anything wrongly routed to arrive too
        assert all(t.startswith(f"{topics.ROOT}/{a.device_id}/") for t in seen["messages"]), seen["messages"]
    finally:
        client.loop_stop()
        client.disconnect()


def test_an_appliance_cannot_take_over_another_appliances_session(hub_stack: HubStack, tmp_path: Path):
    """B connects again and again with A's client id: the broker uses B's certificate name as its id, so A's
    link is never knocked off."""
    a, _, _ = enrol(hub_stack, tmp_path / "a", "Bakery")
    b, _, _ = enrol(hub_stack, tmp_path / "b", "Garage")
    victim = SimAppliance(tmp_path / "a", a).start()
    drops: list[object] = []
    noticed = victim.link.client.on_disconnect
    victim.link.client.on_disconnect = lambda *args: (drops.append(args[3]), noticed(*args))
    try:
        for _ in range(5):  # bounded: five takeover attempts
            attacker, seen = raw_client(b, client_id=a.device_id)
            attacker.connect("127.0.0.1", hub_stack.broker.port)
            attacker.loop_start()
            eventually(lambda: seen["connect"] is not None, what="the attacker's CONNACK")
            time.sleep(0.3)  # time for the broker to close the session it replaced, if it did
            attacker.loop_stop()
            attacker.disconnect()
        assert drops == [] and victim.link.connected
        assert "already connected, closing old connection" not in hub_stack.broker.log()
    finally:
        victim.stop()


def test_revoked_appliance_cannot_connect(hub_stack: HubStack, tmp_path: Path):
    identity, _, _ = enrol(hub_stack, tmp_path / "a", "Bakery")
    appliance = SimAppliance(tmp_path / "a", identity).start()
    appliance.stop()
    with hub_stack.client(hub_stack.admin_token) as c:
        r = c.post(f"/api/appliances/{identity.device_id}/revoke", json={"reason": "stolen box"})
        assert r.status_code == 200 and r.json()["state"] == "revoked"
    refused_from_now_on(identity, hub_stack.broker.port)
    with hub_stack.hub.db.session() as session:
        actions = [e.action for e in session.scalars(select(AuditEntry))]
    assert "appliance.revoke" in actions


def test_expired_and_reused_claim_codes_are_refused(hub_stack: HubStack, tmp_path: Path):
    business_id, owner = hub_stack.business_with_owner("Bakery")
    code = hub_stack.claim_code(owner, business_id)
    enroll(hub_stack.server.url, code, tmp_path / "first")
    with pytest.raises(EnrolmentFailed, match="already used"):
        enroll(hub_stack.server.url, code, tmp_path / "second")
    assert not Identity.exists(tmp_path / "second")

    expiring = hub_stack.claim_code(owner, business_id, ttl_s=60)
    from hub.tables import ClaimCode

    with hub_stack.hub.db.session() as session:  # age it past its expiry
        for row in session.scalars(select(ClaimCode).where(ClaimCode.used_at.is_(None))):
            row.expires_at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
    with pytest.raises(EnrolmentFailed, match="expired"):
        enroll(hub_stack.server.url, expiring, tmp_path / "third")
    with pytest.raises(EnrolmentFailed, match="unknown claim code"):
        enroll(hub_stack.server.url, "AAAAA-BBBBB-CCCCC-DDDDD", tmp_path / "fourth")
    with hub_stack.hub.db.session() as session:
        refusals = [e.reason for e in session.scalars(select(AuditEntry).where(AuditEntry.action == "appliance.enroll",
                                                                                AuditEntry.outcome == "denied"))]
    assert refusals == ["claim code already used", "claim code expired", "unknown claim code"]


def test_key_rotation_revokes_the_old_certificate(hub_stack: HubStack, tmp_path: Path):
    from provisioning.enroll import rotate

    identity, _, _ = enrol(hub_stack, tmp_path / "a", "Bakery")
    old_cert = identity.cert.read_bytes()
    old_key = identity.key.read_bytes()
    (tmp_path / "old").mkdir()
    for name, data in (("device.pem", old_cert), ("device.key", old_key)):
        (tmp_path / "old" / name).write_bytes(data)
    rotated = rotate(identity.directory)
    assert rotated.device_id == identity.device_id and rotated.key.read_bytes() != old_key
    SimAppliance(tmp_path / "a", rotated).start().stop()  # the new key connects
    stale = Identity(tmp_path / "old", identity.device_id, identity.hub_url, identity.broker_host,
                     identity.broker_port, identity.grant_public_key_pem)
    (tmp_path / "old" / "ca.pem").write_bytes(identity.ca.read_bytes())
    refused_from_now_on(stale, hub_stack.broker.port)
    assert can_connect(rotated, hub_stack.broker.port)


def test_events_survive_a_broker_outage_exactly_once_in_order(database_url, hub_stack: HubStack, tmp_path: Path):
    identity, _, _ = enrol(hub_stack, tmp_path / "a", "Bakery")
    appliance = SimAppliance(tmp_path / "a", identity, resend_after_s=2, max_backoff_s=1).start()
    try:
        appliance.link.publish_event(m.CameraStatus(camera="front", status="recording"))
        eventually(lambda: appliance.link.acked == 1, what="first event acknowledged")

        hub_stack.broker.stop()
        eventually(lambda: not appliance.link.connected, what="appliance noticed the outage")
        for i in range(1000):
            appliance.link.publish_event(m.Alarm(code="test.outage", message=f"event {i}"))
        assert len(appliance.outbox) == 1000
        hub_stack.broker.start()
        eventually(lambda: appliance.link.acked == 1001, timeout=60, what="all events acknowledged")
        assert len(appliance.outbox) == 0
    finally:
        appliance.stop()
    with hub_stack.hub.db.session() as session:
        rows = session.execute(select(Event.seq, Event.body).join(Appliance)
                               .where(Appliance.device_id == identity.device_id).order_by(Event.id)).all()
    assert [seq for seq, _ in rows] == list(range(1, 1002))  # once each, stored in order
    assert [body["message"] for _, body in rows[1:]] == [f"event {i}" for i in range(1000)]


def test_camera_status_plate_reads_and_hotlist_hits_are_ingested(database_url, hub_stack: HubStack, tmp_path: Path):
    identity, business_id, owner = enrol(hub_stack, tmp_path / "a", "Bakery")
    appliance = SimAppliance(tmp_path / "a", identity).start()
    try:
        link = appliance.link
        link.publish_event(m.CameraStatus(camera="front", status="recording"))
        eventually(lambda: link.acked == 1, what="the camera known at the hub")
        with hub_stack.client(owner) as c:  # the owner shares hot-list hits only (the default is none)
            [camera] = c.get("/api/cameras").json()
            put_consent(c, camera['id'], {"sharing": "off", "plate_sharing": "hits_only"})
        link.publish_event(m.PlateRead(camera="front", plate="ABC1234", confidence=0.9, first_seen=NOW,
                                       last_seen=NOW))  # no hit: withheld
        link.publish_event(m.PlateRead(camera="front", plate="XYZ9876", confidence=0.95, first_seen=NOW,
                                       last_seen=NOW, hit=m.HotListHit(list_name="stolen", entry_plate="XYZ9876",
                                                                       reason="stolen vehicle")))
        eventually(lambda: link.acked == 3, what="events acknowledged")
        with hub_stack.client(owner) as c:
            [camera] = c.get("/api/cameras").json()
        assert camera["name"] == "front" and camera["status"] == "recording"
    finally:
        appliance.stop()

    def camera_status() -> str:
        with hub_stack.hub.db.session() as session:
            return session.scalar(select(Camera.status).where(Camera.name == "front")).value

    eventually(lambda: camera_status() == "offline", what="cameras offline once the appliance is")
    with hub_stack.hub.db.session() as session:
        assert [r.plate for r in session.scalars(select(PlateReadRow))] == ["XYZ9876"]
        alerts = list(session.scalars(select(Alert)))
        assert [(a.kind, a.priority) for a in alerts] == [("hotlist_hit", "high")]
        withheld = session.scalar(select(Event).where(Event.seq == 2))
        assert "plate" not in withheld.body and withheld.body["withheld"] == "hits_only"
        appliance_row = session.scalar(select(Appliance).where(Appliance.device_id == identity.device_id))
        assert appliance_row.online is False  # its clean stop said offline


def test_both_ends_and_the_broker_send_small_packets_without_waiting(hub_stack: HubStack, tmp_path: Path):
    """Nagle's algorithm held each request and reply for the peer's delayed ACK (~45 ms a hop, ~0.2 s of every
    stream's start): the box's and the hub's sockets and the broker's listener all send at once."""
    identity, _, _ = enrol(hub_stack, tmp_path / "a", "Bakery")
    appliance = SimAppliance(tmp_path / "a", identity).start()
    try:
        for client in (appliance.link.client, hub_stack.hub.link.client):
            assert client.socket().getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        assert "set_tcp_nodelay true" in hub_stack.hub.broker_files.config.read_text().splitlines()
        # And the link still carries a request and its reply (this link has no streamer: it says so).
        reply = hub_stack.hub.link.request(identity.device_id, m.StreamKeepalive(session_ids=[]))
        assert reply is not None and reply.error == "unsupported command stream.keepalive"
    finally:
        appliance.stop()


def test_hotlist_is_pushed_and_acknowledged(hub_stack: HubStack, tmp_path: Path):
    identity, _, _ = enrol(hub_stack, tmp_path / "a", "Bakery")
    appliance = SimAppliance(tmp_path / "a", identity).start()
    try:
        with hub_stack.client(hub_stack.admin_token) as c:
            r = c.post("/api/hotlist", json={"plate": "XYZ9876", "list_name": "stolen", "reason": "stolen vehicle"})
            assert r.status_code == 201, r.text
            version = r.json()["version"]
        eventually(lambda: appliance.hotlist.version == version, what="hot list received")
        assert [e.plate for e in appliance.hotlist.current.entries] == ["XYZ9876"]

        def acked() -> int:
            with hub_stack.hub.db.session() as session:
                return session.scalar(select(Appliance.hotlist_version_acked)
                                      .where(Appliance.device_id == identity.device_id))

        eventually(lambda: acked() == version, what="hub recorded the acknowledgement")
    finally:
        appliance.stop()
    # A restarted appliance keeps its list (it is on disk).
    assert HotListStore(tmp_path / "a" / "hotlist.json").version == version


def test_malformed_payloads_are_rejected_and_logged_without_harm(hub_stack: HubStack, tmp_path: Path, caplog):
    identity, _, _ = enrol(hub_stack, tmp_path / "a", "Bakery")
    appliance = SimAppliance(tmp_path / "a", identity).start()
    caplog.set_level(logging.WARNING)
    try:
        # Garbage from the box, on its own connection (the broker lets each certificate hold one session).
        events = topics.device_topic(identity.device_id, topics.Leaf.EVENTS)
        for payload in (b"not json", b'{"v": 1}', b"\xff" * 100, b'{"v":2,"stream":"x"}', b"[]" * 10):
            appliance.link.client.publish(events, payload, qos=1).wait_for_publish(5)
        # And the hub sends the appliance a malformed command (as the hub: through the hub's own client).
        hub_stack.hub.link.client.publish(topics.device_topic(identity.device_id, topics.Leaf.CMD), b"{oops", qos=1)
        eventually(lambda: hub_stack.hub.link.rejected >= 5, what="hub rejected the bad events")
        eventually(lambda: appliance.link.rejected >= 1, what="appliance rejected the bad command")
        # Both sides still work.
        appliance.link.publish_event(m.Alarm(code="after.garbage", message="still alive"))
        eventually(lambda: appliance.link.acked == 1, what="a good event after the garbage")
        reply = hub_stack.hub.link.request(identity.device_id, m.Ping(), timeout_s=10)
        assert reply is not None and reply.ok
    finally:
        appliance.stop()
    assert any("rejected events message from " + identity.device_id in r.getMessage() for r in caplog.records)
