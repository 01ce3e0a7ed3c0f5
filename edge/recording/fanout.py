"""Fan a camera's packets out to the writer, the GOP cache and subscribers.

The capture thread calls `Fanout.publish` for every packet; nothing in it may
block. Each consumer has a bounded queue: when it is full, new packets are
dropped until the next keyframe (an H.264 decoder cannot use frames after a
hole); a keyframe arriving at a full queue replaces the stale packets. The
consumer's `dropped` count says how many it missed.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from edge.recording.packets import MediaPacket, StreamInfo, StreamLost

Item = MediaPacket | StreamLost


class Subscription:
    """A bounded, drop-to-next-keyframe queue for one consumer."""

    def __init__(self, name: str, *, max_items: int, on_item: Callable[[], None] | None = None) -> None:
        self.name = name
        self.max_items = max_items
        self.dropped = 0
        self._items: deque[Item] = deque()
        self._waiting_for_keyframe = False
        self._ready = threading.Condition()
        self._closed = False
        self._on_item = on_item

    def offer(self, item: Item) -> bool:
        """Queue `item` without blocking; False if it was dropped."""
        with self._ready:
            if isinstance(item, MediaPacket):
                if self._waiting_for_keyframe and not item.keyframe:
                    self.dropped += 1
                    return False
                if len(self._items) >= self.max_items:
                    if not item.keyframe:
                        self.dropped += 1
                        self._waiting_for_keyframe = True
                        return False
                    # A keyframe into a full queue: what is queued is stale, start afresh.
                    stale = sum(isinstance(i, MediaPacket) for i in self._items)
                    self.dropped += stale
                    self._items = deque(i for i in self._items if not isinstance(i, MediaPacket))
                self._waiting_for_keyframe = False
            self._items.append(item)
            self._ready.notify()
        if self._on_item is not None:
            self._on_item()
        return True

    def get(self, timeout: float | None = None) -> Item | None:
        """The next item, or None on timeout or once closed and drained."""
        with self._ready:
            if not self._items and not self._closed:
                self._ready.wait(timeout)
            return self._items.popleft() if self._items else None

    def get_nowait(self) -> Item | None:
        with self._ready:
            return self._items.popleft() if self._items else None

    def close(self) -> None:
        """Wake any waiting reader; `get` returns None once drained."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        return len(self._items)


class GopCache:
    """The packets from the last keyframe onward, so a viewer can start at once."""

    def __init__(self, *, max_packets: int) -> None:
        self._packets: list[MediaPacket] = []
        self._max = max_packets
        self._lock = threading.Lock()

    def add(self, packet: MediaPacket) -> None:
        with self._lock:
            if packet.keyframe:
                self._packets = [packet]
            elif self._packets and len(self._packets) < self._max:
                self._packets.append(packet)

    def clear(self) -> None:
        with self._lock:
            self._packets = []

    def snapshot(self) -> list[MediaPacket]:
        """A copy of the cached packets; the first, if any, is a keyframe."""
        with self._lock:
            return list(self._packets)

    @property
    def stream(self) -> StreamInfo | None:
        with self._lock:
            return self._packets[0].stream if self._packets else None


class Fanout:
    """Delivers each packet to every subscriber and keeps the GOP cache."""

    def __init__(self, *, gop_cache: GopCache) -> None:
        self.gop_cache = gop_cache
        self._subscribers: list[Subscription] = []
        self._lock = threading.Lock()

    def subscribe(self, name: str, *, max_items: int, on_item: Callable[[], None] | None = None) -> Subscription:
        subscription = Subscription(name, max_items=max_items, on_item=on_item)
        with self._lock:
            self._subscribers = [*self._subscribers, subscription]
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscribers = [s for s in self._subscribers if s is not subscription]
        subscription.close()

    def publish(self, item: Item) -> None:
        if isinstance(item, MediaPacket):
            self.gop_cache.add(item)
        else:
            self.gop_cache.clear()
        for subscription in self._subscribers:  # copy-on-write list: no lock needed
            subscription.offer(item)

    def close(self) -> None:
        with self._lock:
            subscribers, self._subscribers = self._subscribers, []
        for subscription in subscribers:
            subscription.close()
