"""The console's live facts end to end, with a real mosquitto and the hub's real MQTT link: the owner's pause on a
real box shows on the camera list within 5 s; a hot-list hit reaches a console's hit stream within 2 s of the
box queuing it — through the appliance's own link, and through a real agent reading a simulated camera — with
its thumbnail only where the owner's plate sharing lets the read leave the box; its acknowledgement audited."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from edge.alpr.events import PlateEvent, hub_message
from edge.alpr.matching import HotListMatch
from edge.alpr.reads import ReadStore, StoredRead, new_read_id
from hub.tables import Alert, AuditEntry, Camera, Event, Role
from tests.edge_support import EdgeProcess, config_text
from tests.hub_support import HubStack, eventually
from tests.sse_support import SseEvent, SseReader
from tests.test_alpr_agent import _alpr_section
from tests.test_mqtt_link import SimAppliance, enrol
from edge.recording.storage import Layout
from tests.owner_support import pair_box, put_consent
from wire.messages import HotListEntry


@pytest.fixture
def stack(tmp_path: Path):
    hub = HubStack(tmp_path, hit_stream_keepalive_s=0.5).start()
    yield hub
    hub.stop()


def analyst(stack: HubStack) -> str:
    stack.add_user("ana", "correct-horse-battery", Role.ANALYST)
    return stack.login("ana", "correct-horse-battery")


def queued_at(stack: HubStack, hit: SseEvent) -> dt.datetime:
    """When the box queued the hit's event for the hub (its outbox time, on this machine's clock)."""
    with stack.hub.db.session() as session:
        return session.scalar(select(Event.at).join(Alert, Alert.event_id == Event.event_id)
                              .where(Alert.id == hit.data["id"]))


def test_a_hit_sent_by_the_appliances_link_reaches_a_console_within_2_s_with_its_thumbnail(stack: HubStack,
                                                                                           tmp_path: Path):
    identity, _, owner = enrol(stack, tmp_path / "box", "Bakery")
    box = SimAppliance(tmp_path / "box", identity).start()
    store = ReadStore(tmp_path / "box" / "reads.sqlite3", tmp_path / "box" / "thumbnails")
    reader = SseReader(stack.server.url, analyst(stack)).start()
    try:
        from wire import messages as m

        box.link.publish_event(m.CameraStatus(camera="front", status="recording"))
        with stack.client(owner) as c:
            camera_id = eventually(lambda: c.get("/api/cameras").json(), what="the camera at the hub")[0]["id"]
            put_consent(c, camera_id, {"sharing": "off", "plate_sharing": "hits_only"})
        now_us = int(time.time() * 1_000_000)
        stored = [store.add(StoredRead(new_read_id(), "front", plate, 0.93, now_us - 3_000_000, now_us, 9, None),
                            np.full((48, 160, 3), 180, np.uint8)) for plate in ("ABC1234", "XYZ9876")]
        entry = HotListEntry(plate="XYZ9876", list_name="stolen", reason="stolen vehicle")
        plain, hit = PlateEvent(stored[0], None), PlateEvent(stored[1], HotListMatch(entry, 0))
        assert hub_message(plain, "hits_only") is None  # the box's rule: a read without a hit stays, thumbnail too
        sent = time.time()
        box.link.publish_event(hub_message(hit, "hits_only"))
        [arrived] = eventually(lambda: reader.of_kind("hit"), timeout=10, what="the hit on the console's stream")
        assert arrived.arrived - sent < 2, f"{arrived.arrived - sent:.2f} s from the box to the console"
        assert (arrived.data["plate"], arrived.data["list_name"], arrived.data["camera_name"]) == (
            "XYZ9876", "stolen", "front")
        ana = stack.login("ana", "correct-horse-battery")
        with stack.client(ana) as c:
            assert c.get(arrived.data["thumbnail_url"]).content == stored[1].thumbnail.read_bytes()
            assert c.post(f"/api/hits/{arrived.data['id']}/acknowledge").status_code == 200
        eventually(lambda: reader.of_kind("hit_updated"), timeout=5, what="the acknowledgement on the stream")
    finally:
        reader.close()
        box.stop()
        store.close()
    with stack.hub.db.session() as session:
        [entry_row] = session.scalars(select(AuditEntry).where(AuditEntry.action == "hit.acknowledge"))
        assert (entry_row.actor, entry_row.object) == ("ana", f"hit:{arrived.data['id']}")


def enrolled_agent(stack: HubStack, tmp_path: Path, urls: list[str], *, alpr: bool) -> tuple[EdgeProcess, str]:
    """A real agent enrolled with the hub (and its owner's token), started."""
    business_id, owner = stack.business_with_owner("Bakery")
    data_dir = tmp_path / "box"
    enrolled = stack.enroll(stack.claim_code(owner, business_id), data_dir / "identity", "bakery-box")
    assert enrolled.returncode == 0, enrolled.stderr
    agent = EdgeProcess(tmp_path / "edge", urls, data_dir=data_dir)
    if alpr:
        agent.config.write_text(config_text(data_dir, urls, segment_seconds=10) + _alpr_section(tmp_path))
    return agent.start(), owner


def listed(stack: HubStack, token: str) -> dict:
    with stack.client(token) as c:
        [camera] = c.get("/api/cameras").json()
    return camera


def test_the_owners_pause_on_a_real_box_shows_on_the_camera_list_within_5_s(stack: HubStack, cameras,
                                                                             tmp_path: Path):
    agent, owner = enrolled_agent(stack, tmp_path, cameras(1).urls, alpr=False)
    ana = analyst(stack)
    try:
        eventually(lambda: stack.recording_camera("cam1"), timeout=60, what="the camera recording at the hub")
        for command, paused in (("pause", True), ("resume", False)):
            done = agent.cli(command, "--camera", "cam1")
            assert done.returncode == 0, done.stderr
            asked = time.monotonic()  # in force on the box (the command's own start-up is not the hub's time)
            shown = eventually(lambda: listed(stack, ana)["sharing_paused"] is paused, timeout=10,
                               what=f"{command} on the list")
            took = time.monotonic() - asked
            assert shown and took < 5, f"{command}: {took:.1f} s from the owner's command to the list"
            assert listed(stack, ana)["status"] == "recording"  # paused or not, the box records
    finally:
        assert agent.terminate() == 0


def test_a_real_box_sends_its_hits_with_thumbnails_only_once_its_owner_shares_them(stack: HubStack, cameras,
                                                                                   tmp_path: Path):
    sim = cameras(1)
    agent, owner = enrolled_agent(stack, tmp_path, sim.urls, alpr=True)
    ana = analyst(stack)
    reader = SseReader(stack.server.url, ana).start()
    try:
        camera_id = eventually(lambda: stack.recording_camera("cam1"), timeout=60, what="the camera at the hub")
        with stack.client(ana) as c:  # every plate the simulated street shows is wanted
            for plate in sorted({p.plate for p in sim.truths[0].passes}):
                c.post("/api/hotlist", json={"plate": plate, "list_name": "stolen", "reason": "stolen vehicle"})
        wait_for_box_hit(agent, since=time.time())  # read and matched on the box; plate sharing is none
        assert reader.of_kind("hit") == [] and hub_alerts(stack) == 0  # nothing left the box
        with stack.client(owner) as c:  # the owner's passkey, paired at the box, signs the new policy
            pair_box(c, c.get("/api/appliances").json()[0]["device_id"], Layout(tmp_path / "box").consent_path)
            put_consent(c, camera_id, {"sharing": "off", "plate_sharing": "hits_only"})
        [hit] = eventually(lambda: reader.of_kind("hit")[:1], timeout=60, what="a hit on the console's stream")
        latency = hit.arrived - queued_at(stack, hit).timestamp()
        assert latency < 2, f"{latency:.2f} s from the box queuing the hit to the console"
        on_box = [r for r in box_reads(agent) if r["hit"] and r["text"] == hit.data["plate"]]
        with stack.client(ana) as c:
            thumbnail = c.get(hit.data["thumbnail_url"]).content
        assert thumbnail[:3] == b"\xff\xd8\xff" and thumbnail in [Path(r["thumbnail"]).read_bytes() for r in on_box]
    finally:
        reader.close()
        assert agent.terminate() == 0


def box_reads(agent: EdgeProcess) -> list[dict]:
    done = agent.cli("reads", "--json")
    return json.loads(done.stdout) if done.returncode == 0 else []


def wait_for_box_hit(agent: EdgeProcess, *, since: float) -> None:
    def hit_on_box() -> bool:
        return any(r["hit"] and dt.datetime.fromisoformat(r["last_seen"].replace("Z", "+00:00")).timestamp() > since
                   for r in box_reads(agent))

    eventually(hit_on_box, timeout=60, what="a hot-list hit read on the box")


def hub_alerts(stack: HubStack) -> int:
    with stack.hub.db.session() as session:
        return len(list(session.scalars(select(Alert.id).join(Camera))))
