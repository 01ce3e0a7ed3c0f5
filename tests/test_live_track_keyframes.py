"""The live track's answer to a receiver's keyframe request: the cached GOP again, from its keyframe, with
timestamps that keep going forward; then the live packets, none twice. Requests while a replay is on its way are
answered by it; one soon after is answered when `REPLAY_MIN_INTERVAL_S` ends, never dropped."""

from __future__ import annotations

import asyncio
import time
from fractions import Fraction

from edge.recording.fanout import Fanout, GopCache
from edge.recording.packets import MediaPacket, StreamInfo
from edge.streaming.tracks import REPLAY_MIN_INTERVAL_S, LiveTrack

INFO = StreamInfo("cam", 1, "h264", 640, 360, Fraction(1, 90_000), 6000, b"")


def packet(n: int) -> MediaPacket:
    return MediaPacket(INFO, bytes([n]), n * 6000, n * 6000, 6000, n % 15 == 0, n * 66_666)


async def read(track: LiveTrack, count: int) -> list[tuple[int, int, bool]]:
    out = []
    for _ in range(count):
        p = await asyncio.wait_for(track.recv(), 5)
        out.append((bytes(p)[0], p.pts, p.is_keyframe))
    return out


def test_a_keyframe_request_sends_the_cached_gop_again_then_the_live_edge():
    async def scenario():
        fanout = Fanout(gop_cache=GopCache(max_packets=100))
        for n in range(15, 20):  # keyframe 15, then 16..19
            fanout.publish(packet(n))
        track = LiveTrack(fanout)
        first = await read(track, 5)
        assert [n for n, _, _ in first] == [15, 16, 17, 18, 19] and first[0][2]
        assert track.request_keyframe(now=100.0)
        assert not track.request_keyframe(now=100.0 + REPLAY_MIN_INTERVAL_S / 2)  # the replay on its way answers it
        fanout.publish(packet(20))
        again = await read(track, 6)
        assert [n for n, _, _ in again] == [15, 16, 17, 18, 19, 20]  # the GOP again, then the new frame once
        assert again[0][2] and track.replays == 1
        pts = [p for _, p, _ in first + again]
        assert pts == sorted(pts) and len(set(pts)) == len(pts)  # time only goes forward
        fanout.publish(packet(21))
        assert [n for n, _, _ in await read(track, 1)] == [21]
        assert track.request_keyframe(now=100.0 + REPLAY_MIN_INTERVAL_S)
        track.stop()

    asyncio.run(scenario())


def test_a_request_soon_after_a_replay_is_answered_when_the_interval_ends_and_only_once():
    async def scenario():
        fanout = Fanout(gop_cache=GopCache(max_packets=100))
        for n in range(15, 20):
            fanout.publish(packet(n))
        track = LiveTrack(fanout)
        await read(track, 5)
        assert track.request_keyframe(time.monotonic())
        await read(track, 5)  # the replay, sent
        # A receiver still without a picture asks again, twice, inside the interval: neither is dropped, both are
        # answered by one replay when the interval ends.
        assert not track.request_keyframe(time.monotonic())
        assert not track.request_keyframe(time.monotonic())
        again = await read(track, 5)
        assert [n for n, _, _ in again] == [15, 16, 17, 18, 19] and again[0][2]
        await asyncio.sleep(REPLAY_MIN_INTERVAL_S * 2)
        assert track.replays == 2
        track.stop()

    asyncio.run(scenario())
