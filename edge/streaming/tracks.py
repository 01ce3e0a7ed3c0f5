"""Video tracks the streamer sends: H.264 packets passed through to aiortc, never re-encoded.

aiortc's sender packetizes an `av.Packet` it gets from `recv()` as it is
(`H264Encoder.pack`), so a track that returns the camera's own packets costs
no decode and no encode. `LiveTrack` starts from the GOP cache (the last
keyframe and what followed it) and then follows the camera's fan-out;
timestamps are rebased to start at 0 on a 90 kHz clock and stay continuous
across camera reconnects; SPS/PPS go in front of every keyframe that lacks
them (cameras that only announce them in the SDP).

The cached GOP goes out at once for the keyframe, then one frame every
`BACKLOG_PACE_S` with timestamps that far apart: the viewer fast-forwards to
the live edge instead of lagging a GOP behind for the whole session, and the
burst stays small enough not to overrun the receiver's UDP buffer (sent all
at once, a 1080p GOP lost packets on loopback, and passthrough cannot ask the
camera for a fresh keyframe to repair them).

Passthrough cannot make a keyframe when a receiver asks for one (a PLI: the SFU
sends one when a viewer joins a session already running, a browser when it lost
the picture). `request_keyframe` sends the cached GOP again the same way, from its
keyframe and fast: the new viewer's first frame comes at once instead of at the
camera's next keyframe (up to a GOP later); viewers already watching see the last
moments again, quickly, and catch up to the live edge. Every frame is still the
camera's own. `ReplayGate` spaces replays: a request while one is still being sent
is answered by it; one within `REPLAY_MIN_INTERVAL_S` of the last is answered when
the interval ends, never dropped (a dropped one left a viewer whose first replay
came before its connection was ready waiting up to a GOP: 1.2–1.5 s first frames).
"""

from __future__ import annotations

import asyncio
import fractions
import time
from collections import deque
from collections.abc import Callable

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from edge.recording.fanout import Fanout
from edge.recording.h264 import NAL_SPS, iter_nals, nal_type
from edge.recording.packets import MediaPacket, StreamLost

CLOCK = 90_000
TIME_BASE = fractions.Fraction(1, CLOCK)
QUEUE_PACKETS = 120  # ~8 s at 15 fps: a slow viewer drops to the next keyframe beyond this
BACKLOG_PACE_S = 0.012
REPLAY_MIN_INTERVAL_S = 0.3  # a GOP's replay takes ~0.2 s to send (15 frames, BACKLOG_PACE_S apart)


class ReplayGate:
    """When a track answers a receiver's keyframe request: at once; not while its last answer is still being sent
    (`busy`); and at most once per `REPLAY_MIN_INTERVAL_S`: a request inside the interval is answered when it ends
    (any number of them, once), so a receiver that still has no picture always gets one soon."""

    def __init__(self, replay: Callable[[], bool], busy: Callable[[], bool],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._replay, self._busy, self._clock = replay, busy, clock
        self._last = float("-inf")
        self._deferred: asyncio.TimerHandle | None = None

    def request(self, now: float) -> bool:
        """True if the replay starts now; False if it is already on its way, deferred, or impossible."""
        if self._busy():
            return False
        wait = self._last + REPLAY_MIN_INTERVAL_S - now
        if wait > 0:
            if self._deferred is None:
                self._deferred = asyncio.get_running_loop().call_later(wait, self._when_due)
            return False
        if not self._replay():
            return False
        self._last = now
        return True

    def _when_due(self) -> None:
        self._deferred = None
        self.request(self._clock())

    def close(self) -> None:
        if self._deferred is not None:
            self._deferred.cancel()
            self._deferred = None


def with_parameter_sets(packet: MediaPacket) -> bytes:
    """The packet's bytes, with the stream's SPS/PPS in front if it is a keyframe that lacks them."""
    if not packet.keyframe or not packet.stream.extradata:
        return packet.data
    if any(nal_type(nal) == NAL_SPS for nal in iter_nals(packet.data[:4096])):
        return packet.data
    return packet.stream.extradata + packet.data


class Rebaser:
    """Camera timestamps → a continuous 90 kHz clock from 0, across reconnects (each re-anchored)."""

    def __init__(self) -> None:
        self._connection: int | None = None
        self._offset = 0
        self._next = 0
        self._last_dts: int | None = None
        self._reanchor = False

    def accepts(self, packet: MediaPacket) -> bool:
        """False for packets to skip: before a new connection's first keyframe, or already sent (duplicates)."""
        if packet.stream.connection != self._connection:
            return packet.keyframe
        return self._last_dts is None or packet.dts > self._last_dts

    def rebase(self, packet: MediaPacket, *, gap_ticks: int | None = None) -> int:
        """The packet's output time; with `gap_ticks`, `gap_ticks` after the previous one (a compressed backlog)."""
        tb = packet.stream.time_base
        ticks = int(packet.pts * tb * CLOCK)
        if gap_ticks is not None:
            self._connection, self._last_dts, self._reanchor = packet.stream.connection, packet.dts, True
            out = self._next
            self._next = out + gap_ticks
            return out
        if packet.stream.connection != self._connection or self._reanchor:
            self._connection, self._reanchor = packet.stream.connection, False
            self._offset = self._next - ticks
        self._last_dts = packet.dts
        out = ticks + self._offset
        self._next = max(self._next, out + max(1, int(packet.duration * tb * CLOCK)))
        return out


class LiveTrack(MediaStreamTrack):
    """The camera as it is now, from its last keyframe."""

    kind = "video"

    def __init__(self, fanout: Fanout, name: str = "stream") -> None:
        super().__init__()
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        # Subscribe before taking the cache so no packet falls between; duplicates are dropped by DTS.
        self._subscription = fanout.subscribe(name, max_items=QUEUE_PACKETS, on_item=self._notify)
        self._fanout = fanout
        self._backlog: deque[MediaPacket] = deque(fanout.gop_cache.snapshot())
        self._rebaser = Rebaser()
        self._replaying = False  # the backlog is a replay: its packets were sent before
        self._gate = ReplayGate(self._replay, busy=lambda: self._replaying and bool(self._backlog))
        self.packets_sent = 0
        self.replays = 0

    def _notify(self) -> None:
        try:
            self._loop.call_soon_threadsafe(self._wake.set)
        except RuntimeError:  # the loop is closed: the session is over
            pass

    def _next_item(self):
        if self._backlog:
            return self._backlog.popleft()
        return self._subscription.get_nowait()

    async def recv(self) -> av.Packet:
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            from_backlog = bool(self._backlog)
            item = self._next_item()
            if item is None:
                self._wake.clear()
                if len(self._subscription):
                    continue
                await self._wake.wait()
                continue
            if not from_backlog:
                self._replaying = False
            if isinstance(item, StreamLost) or not (self._replaying or self._rebaser.accepts(item)):
                continue
            if from_backlog and self.packets_sent:
                await asyncio.sleep(BACKLOG_PACE_S)
            packet = av.Packet(with_parameter_sets(item))
            gap = int(BACKLOG_PACE_S * CLOCK) if from_backlog else None
            packet.pts = packet.dts = self._rebaser.rebase(item, gap_ticks=gap)
            packet.time_base = TIME_BASE
            packet.is_keyframe = item.keyframe
            self.packets_sent += 1
            return packet

    def request_keyframe(self, now: float) -> bool:
        """A receiver asked for a keyframe: the cached GOP again from its keyframe, now or when `ReplayGate` lets;
        True if it starts now."""
        return self._gate.request(now)

    def _replay(self) -> bool:
        if self.readyState != "live":
            return False
        cached = self._fanout.gop_cache.snapshot()
        if not cached:
            return False
        self._backlog = deque(cached)
        self._replaying = True
        self.replays += 1
        self._wake.set()
        return True

    def stop(self) -> None:
        self._gate.close()
        if self.readyState == "live":
            self._fanout.unsubscribe(self._subscription)
        super().stop()
        self._wake.set()
