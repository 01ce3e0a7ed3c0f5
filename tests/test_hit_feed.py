"""The live hit feed's fan-out on its own: bounded queues, slow clients dropped with a note, nothing left behind
by a stream that ends, resume without repeats, keep-alives and a sign-in that lapses."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading

import pytest

from hub.hit_feed import KEEPALIVE, OPENING, FeedEvent, FeedFull, HitFeed, async_events
from hub.hits import HitOut

AT = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.timezone.utc)


def hit(n: int) -> HitOut:
    return HitOut(id=n, plate=f"ABC{n:04d}", entry_plate=None, list_name="stolen", reason="stolen vehicle", at=AT,
                  first_seen=AT, confidence=0.9, camera_id=1, camera_name="front", business_id=1,
                  business_name="Bakery", latitude=40.7, longitude=-74.0, view_direction_deg=None, read_id=n,
                  thumbnail_url=None, state="new", acknowledged_by=None, acknowledged_at=None, dismissed_by=None,
                  dismissed_at=None, note="")


def parsed(chunk: bytes) -> tuple[str, dict, str | None]:
    fields = dict(line.split(": ", 1) for line in chunk.decode().strip().split("\n"))
    return fields["event"], json.loads(fields["data"]), fields.get("id")


async def drain(stream, count: int) -> list[bytes]:
    return [await asyncio.wait_for(anext(stream), 5) for _ in range(count)]


def publish_from_another_thread(feed: HitFeed, events: list[FeedEvent]) -> None:
    """As the MQTT link's ingest thread does."""
    thread = threading.Thread(target=feed.publish, args=(events,))
    thread.start()
    thread.join()


def test_a_client_that_does_not_keep_up_is_dropped_with_a_note_and_the_others_get_everything():
    async def scenario():
        feed = HitFeed(queue_size=3)
        fast, slow = async_events(feed, keepalive_s=60), async_events(feed, keepalive_s=60, who="ana")
        assert await drain(fast, 1) == [OPENING] and await drain(slow, 1) == [OPENING]
        publish_from_another_thread(feed, [FeedEvent("hit", hit(1))])
        assert parsed((await drain(slow, 1))[0])[2] == "1"  # the slow one read hit 1, then stops reading
        received = []
        for n in range(2, 7):
            publish_from_another_thread(feed, [FeedEvent("hit", hit(n))])
            received += await drain(fast, 1 if n > 2 else 2)
        assert [parsed(chunk)[2] for chunk in received] == ["1", "2", "3", "4", "5", "6"]
        assert feed.clients == 1 and feed.dropped == 1  # the slow one is gone: nobody waits for it
        kind, note, _ = parsed((await drain(slow, 1))[0])  # what it reads next is why, and where to resume
        assert kind == "dropped" and note["last_hit_id"] == 1 and "Last-Event-ID" in note["reason"]
        with pytest.raises(StopAsyncIteration):
            await anext(slow)
        await fast.aclose()
        assert feed.clients == 0

    asyncio.run(scenario())


def test_a_stream_that_goes_away_leaves_nothing_behind():
    async def scenario():
        feed = HitFeed()
        closed, cancelled = async_events(feed, keepalive_s=60), async_events(feed, keepalive_s=60)
        await drain(closed, 1)
        await drain(cancelled, 1)
        assert feed.clients == 2
        await closed.aclose()  # the response ended
        waiting = asyncio.ensure_future(anext(cancelled))  # the client disconnected while the stream waited
        await asyncio.sleep(0.05)
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        assert feed.clients == 0
        feed.publish([FeedEvent("hit", hit(1))])  # to nobody: harmless
        await asyncio.sleep(0.05)

    asyncio.run(scenario())


def test_a_reconnecting_stream_gets_what_it_missed_once_then_live_hits_and_updates():
    async def scenario():
        feed = HitFeed()
        stream = async_events(feed, keepalive_s=60, replay=lambda: [hit(2), hit(3)])
        assert await drain(stream, 1) == [OPENING]
        # Stored while the replay was read: hit 3 arrives live too, and is not sent twice.
        feed.publish([FeedEvent("hit", hit(3)), FeedEvent("hit", hit(4)), FeedEvent("hit_updated", hit(2))])
        got = [parsed(chunk) for chunk in await drain(stream, 4)]
        assert [(kind, data["id"], event_id) for kind, data, event_id in got] == [
            ("hit", 2, "2"), ("hit", 3, "3"), ("hit", 4, "4"), ("hit_updated", 2, None)]
        await stream.aclose()

    asyncio.run(scenario())


def test_keep_alives_flow_while_quiet_and_a_lapsed_sign_in_ends_the_stream():
    async def scenario():
        feed = HitFeed()
        allowed = iter([True, True, False])
        stream = async_events(feed, keepalive_s=0.05, still_allowed=lambda: next(allowed))
        assert await drain(stream, 3) == [OPENING, KEEPALIVE, KEEPALIVE]
        kind, note, _ = parsed((await drain(stream, 1))[0])
        assert kind == "ended" and "sign in again" in note["reason"] and note["last_hit_id"] is None
        with pytest.raises(StopAsyncIteration):
            await anext(stream)
        assert feed.clients == 0

    asyncio.run(scenario())


def test_the_feed_has_room_for_so_many_streams_and_ends_them_all_on_close():
    async def scenario():
        feed = HitFeed(max_clients=1)
        first = async_events(feed, keepalive_s=60)
        await drain(first, 1)
        with pytest.raises(FeedFull):
            feed.subscribe()
        second = async_events(feed, keepalive_s=60)
        kind, note, _ = parsed((await drain(second, 1))[0])
        assert kind == "ended" and "open already" in note["reason"]
        feed.close()
        kind, note, _ = parsed((await drain(first, 1))[0])
        assert kind == "ended" and note["reason"] == "the hub is stopping"
        assert feed.clients == 0

    asyncio.run(scenario())
