"""The live hit stream over real HTTP (uvicorn on loopback, no broker: hits are stored by the ingest and handed to
the feed as the MQTT link does; test_console_live runs the whole path): who may open it, what it sends, resume
with Last-Event-ID, a sign-out ends it, a client that leaves leaves nothing behind."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from hub.hit_feed import HitAnnouncer, HitFeed
from hub.ingest import ingest_event
from hub.tables import Role, utcnow
from tests.hub_support import ServedHubApi, eventually
from tests.sse_support import SseReader
from tests.test_console_api import JPEG, Box, consent, read


@pytest.fixture
def served(tmp_path: Path):
    api = ServedHubApi(tmp_path, hit_stream_keepalive_s=0.2).start()
    yield api
    api.stop()


def feed_of(api: ServedHubApi) -> HitFeed:
    return api.server.app.state.hit_feed


def announcer(api: ServedHubApi) -> HitAnnouncer:
    """What the MQTT link calls after a batch with hits is committed."""
    return HitAnnouncer(api.hub.db, feed_of(api))


def test_the_stream_sends_hits_and_their_handling_and_only_to_analysts_and_admins(served: ServedHubApi):
    bakery, owner = served.business_with_owner("Bakery")
    box = Box(served, bakery, "dev-aaaaaaaaaaaa")
    consent(served, owner, box.camera("front", 40.7, -74.0), sharing="off", plate_sharing="hits_only")
    served.add_user("ana", "correct-horse-battery", Role.ANALYST)
    ana = served.login("ana", "correct-horse-battery")
    assert SseReader(served.server.url, "not-a-token").start().status == 401
    assert SseReader(served.server.url, owner).start().status == 403
    reader = SseReader(served.server.url, ana).start()
    try:
        assert reader.status == 200
        eventually(lambda: reader.comments >= 3, timeout=5, what="keep-alives while quiet")
        announce = announcer(served)
        box.send(read("XYZ9876", utcnow(), hit="stolen", thumbnail=JPEG))  # stored by the ingest
        assert announce() == 1 and announce() == 0  # as the link announces it: once
        [hit] = eventually(lambda: reader.of_kind("hit"), timeout=5, what="the hit on the stream")
        assert (hit.data["plate"], hit.data["list_name"], hit.data["camera_name"], hit.data["business_name"],
                hit.id) == ("XYZ9876", "stolen", "front", "Bakery", str(hit.data["id"]))
        with served.client(ana) as c:
            assert c.get(hit.data["thumbnail_url"]).content == JPEG
            c.post(f"/api/hits/{hit.data['id']}/acknowledge", json={"note": "on it"})
        [update] = eventually(lambda: reader.of_kind("hit_updated"), timeout=5, what="the acknowledgement")
        assert (update.data["state"], update.data["acknowledged_by"], update.id) == ("acknowledged", "ana", None)
        again = SseReader(served.server.url, ana, last_event_id=0).start()  # reconnecting: what it missed
        try:
            [missed] = eventually(lambda: again.of_kind("hit"), timeout=5, what="the hit replayed")
            assert missed.data["id"] == hit.data["id"] and missed.data["state"] == "acknowledged"
        finally:
            again.close()
    finally:
        reader.close()
    eventually(lambda: feed_of(served).clients == 0, timeout=5, what="both streams gone from the feed")


def test_signing_out_ends_the_stream_with_a_note(served: ServedHubApi):
    served.add_user("ana", "correct-horse-battery", Role.ANALYST)
    ana = served.login("ana", "correct-horse-battery")
    reader = SseReader(served.server.url, ana).start()
    try:
        with served.client(ana) as c:
            assert c.post("/api/auth/logout").status_code == 204
        [ended] = eventually(lambda: reader.of_kind("ended"), timeout=5, what="the stream's end")
        assert "sign in again" in ended.data["reason"]
        eventually(lambda: reader.ended, timeout=5, what="the response closed")
    finally:
        reader.close()
    assert feed_of(served).clients == 0


def test_an_event_from_the_box_reaches_every_open_stream_once(served: ServedHubApi):
    """Several consoles at once, each sent the hit once; a repeat of the same event (a box resending after a lost
    acknowledgement) is not applied again, which is what the link announces by."""
    bakery, owner = served.business_with_owner("Bakery")
    box = Box(served, bakery, "dev-aaaaaaaaaaaa")
    consent(served, owner, box.camera("front", 40.7, -74.0), sharing="off", plate_sharing="all")
    served.add_user("ana", "correct-horse-battery", Role.ANALYST)
    ana = served.login("ana", "correct-horse-battery")
    readers = [SseReader(served.server.url, ana).start() for _ in range(3)]
    announce = announcer(served)
    try:
        event_id = box.send(read("XYZ9876", utcnow(), hit="stolen"))
        with served.hub.db.session() as session:  # the same event again: a repeat, not applied
            from wire import messages as m

            repeat = m.EventEnvelope(stream=box.stream, seq=box.seq, id=uuid.UUID(event_id), at=utcnow(),
                                     body=read("XYZ9876", utcnow(), hit="stolen"))
            assert not ingest_event(session, box.device_id, repeat).applied
        assert announce() == 1 and announce() == 0
        for reader in readers:
            eventually(lambda: reader.of_kind("hit"), timeout=5, what="the hit on each stream")
        assert all(len(reader.of_kind("hit")) == 1 and reader.of_kind("hit")[0].data["thumbnail_url"] is None
                   for reader in readers)  # sent without a thumbnail: none at the hub
    finally:
        for reader in readers:
            reader.close()
