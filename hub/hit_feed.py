"""Hot-list hits, live: the MQTT link's ingest hands each stored hit to `HitFeed`, which fans it out to every
connected console stream (`GET /api/hits/stream`, server-sent events) through a bounded asyncio queue each.

- `HitAnnouncer` is the link's hit listener (it runs on the ingest thread after a batch with hits is committed):
  it describes every hit stored since it last looked — a high-water mark on the hit's id, not the batch's own
  list, because on SQLite each message of a batch is committed on its own (pysqlite's savepoints), so a batch
  that fails half-way has stored hits that its resend will not store again — in one query, and publishes them.
  It assumes one ingest writer, as the hub has. Acknowledgements and dismissals are published too
  (`hit_updated`), so every console sees who took a hit.
- `publish` may be called from any thread: each event is handed to each stream's event loop
  (`call_soon_threadsafe`) and put in its queue there. A stream whose queue is full (a client that does not
  read) is dropped: its queue is replaced by one `dropped` note saying the last hit it was sent, the stream
  ends and the client reconnects with `Last-Event-ID` to get what it missed (`hits_after`). Nobody waits for a
  slow client.
- `async_events` is one stream's body: subscribed before anything else (so nothing stored meanwhile is missed),
  the hits after the client's `Last-Event-ID` first, then live events, a keep-alive comment whenever
  `keepalive_s` passes without one, and a check that the client's sign-in still holds at each keep-alive. It
  unsubscribes however it ends (the client went away, dropped, signed out, the hub stopping): nothing is left
  behind.

Wire format (text/event-stream): a new hit is ``id: <hit id>``, ``event: hit``, ``data: <HitOut JSON>``; a
handled one ``event: hit_updated`` (no id: it moves no resume point); the stream's end ``event: dropped`` or
``event: ended`` with ``data: <HitStreamNote JSON>``; comments (``: keep-alive``) keep proxies from closing an
idle connection.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

from hub import hits as service
from hub.db import Database
from hub.hits import HitOut

log = logging.getLogger(__name__)

#: Hits a reconnecting stream is sent from before it connected, at most.
REPLAY_MAX = 100
ANNOUNCE_BATCH = 500
OPENING = b": canvass hot-list hits\nretry: 2000\n\n"
KEEPALIVE = b": keep-alive\n\n"


class FeedFull(Exception):
    """As many streams as the hub allows are open already."""


@dataclass(frozen=True, slots=True)
class FeedEvent:
    kind: Literal["hit", "hit_updated"]
    hit: HitOut


class HitStreamNote(BaseModel):
    """The last thing a stream says before it ends (`event: dropped` or `event: ended`)."""

    reason: str
    last_hit_id: int | None = Field(description="The newest hit this stream sent: reconnect with it as "
                                    "Last-Event-ID to get what came after.")


@dataclass(frozen=True, slots=True)
class _End:
    kind: Literal["dropped", "ended"]
    reason: str


def sse_event(event: FeedEvent) -> bytes:
    lines = [f"id: {event.hit.id}"] if event.kind == "hit" else []
    lines += [f"event: {event.kind}", f"data: {event.hit.model_dump_json()}"]
    return ("\n".join(lines) + "\n\n").encode()


def sse_end(end: _End, last_hit_id: int | None) -> bytes:
    note = HitStreamNote(reason=end.reason, last_hit_id=last_hit_id)
    return f"event: {end.kind}\ndata: {note.model_dump_json()}\n\n".encode()


class _Subscriber:
    def __init__(self, loop: asyncio.AbstractEventLoop, size: int, who: str):
        self.loop, self.who = loop, who
        self.queue: asyncio.Queue[FeedEvent | _End] = asyncio.Queue(size)
        self.ended = False


class HitFeed:
    """The fan-out: at most `max_clients` streams, `queue_size` events waiting for each."""

    def __init__(self, *, queue_size: int = 256, max_clients: int = 200):
        self.queue_size, self.max_clients = queue_size, max_clients
        self._subscribers: set[_Subscriber] = set()
        self._lock = threading.Lock()
        self.dropped = 0  # streams dropped for not keeping up, since start

    @property
    def clients(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def subscribe(self, who: str = "") -> _Subscriber:
        """A new stream's queue (call on the stream's event loop); FeedFull when `max_clients` are open."""
        subscriber = _Subscriber(asyncio.get_running_loop(), self.queue_size, who)
        with self._lock:
            if len(self._subscribers) >= self.max_clients:
                raise FeedFull(f"{self.max_clients} hit streams are open already")
            self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: _Subscriber) -> None:
        with self._lock:
            self._subscribers.discard(subscriber)

    def publish(self, events: list[FeedEvent]) -> None:
        """Hand `events` to every stream (any thread; never waits for a client)."""
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            try:
                subscriber.loop.call_soon_threadsafe(self._offer, subscriber, events)
            except RuntimeError:  # its loop has closed: the stream is gone
                self.unsubscribe(subscriber)

    def close(self, reason: str = "the hub is stopping") -> None:
        """End every stream (each says why)."""
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            try:
                subscriber.loop.call_soon_threadsafe(self._end, subscriber, _End("ended", reason))
            except RuntimeError:
                self.unsubscribe(subscriber)

    def _offer(self, subscriber: _Subscriber, events: list[FeedEvent]) -> None:
        """On the stream's loop: queue the events, or drop the stream if its queue is full."""
        for event in events:
            if subscriber.ended:
                return
            try:
                subscriber.queue.put_nowait(event)
            except asyncio.QueueFull:
                self.dropped += 1
                log.warning("hit stream of %s dropped: %d events waiting, the client does not keep up",
                            subscriber.who or "a client", self.queue_size)
                self._end(subscriber, _End("dropped", f"more than {self.queue_size} events waiting: the client "
                                                      "did not keep up; reconnect with Last-Event-ID"))

    def _end(self, subscriber: _Subscriber, end: _End) -> None:
        """On the stream's loop: replace what waits with the end, so the stream says it at once."""
        if subscriber.ended:
            return
        subscriber.ended = True
        self.unsubscribe(subscriber)
        while not subscriber.queue.empty():
            subscriber.queue.get_nowait()
        subscriber.queue.put_nowait(end)


class HitAnnouncer:
    """Publishes to `feed` each hit stored after the newest one there was when it was made (module docstring)."""

    def __init__(self, db: Database, feed: HitFeed):
        self.db, self.feed = db, feed
        self._lock = threading.Lock()
        with db.session() as session:
            self.last_id = service.newest_id(session)

    def __call__(self) -> int:
        """Announce what was stored since the last call; how many hits."""
        announced = 0
        with self._lock:
            while True:
                with self.db.session() as session:
                    stored = service.hits_after(session, after_id=self.last_id, limit=ANNOUNCE_BATCH)
                if not stored:
                    return announced
                self.last_id = stored[-1].id
                self.feed.publish([FeedEvent("hit", hit) for hit in stored])
                announced += len(stored)


async def async_events(feed: HitFeed, *, keepalive_s: float, who: str = "",
                       replay: Callable[[], list[HitOut]] | None = None,
                       still_allowed: Callable[[], bool] | None = None) -> AsyncIterator[bytes]:
    """One stream's body (module docstring): `replay` gives what came after the client's resume point (run in
    a thread), `still_allowed` whether the client's sign-in still holds (run in a thread at each keep-alive)."""
    try:
        subscriber = feed.subscribe(who)
    except FeedFull as exc:  # the router checked, but another stream took the last place meanwhile
        yield sse_end(_End("ended", str(exc)), None)
        return
    try:
        yield OPENING
        last_id = None
        for hit in (await asyncio.to_thread(replay)) if replay is not None else []:
            last_id = hit.id
            yield sse_event(FeedEvent("hit", hit))
        async for item in _async_live(subscriber, keepalive_s, still_allowed):
            if isinstance(item, _End):
                yield sse_end(item, last_id)
                return
            if item is None:
                yield KEEPALIVE
            elif item.kind != "hit" or last_id is None or item.hit.id > last_id:  # not one replayed already
                last_id = item.hit.id if item.kind == "hit" else last_id
                yield sse_event(item)
    finally:
        feed.unsubscribe(subscriber)


async def _async_live(subscriber: _Subscriber, keepalive_s: float,
                      still_allowed: Callable[[], bool] | None) -> AsyncIterator[FeedEvent | _End | None]:
    """What the stream's queue gives, None at each keep-alive, and the end if the client's sign-in lapses."""
    while True:
        try:
            yield await asyncio.wait_for(subscriber.queue.get(), keepalive_s)
        except TimeoutError:
            if still_allowed is not None and not await asyncio.to_thread(still_allowed):
                yield _End("ended", "the session expired or was revoked: sign in again")
                return
            yield None
