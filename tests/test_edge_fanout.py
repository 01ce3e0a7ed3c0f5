"""Fan-out: slow consumers drop (to the next keyframe) and never slow the publisher."""

import threading
from fractions import Fraction

from edge.recording.fanout import Fanout, GopCache, Subscription
from edge.recording.packets import MediaPacket, StreamInfo, StreamLost

INFO = StreamInfo("cam", 1, "h264", 640, 360, Fraction(1, 90_000), 6000, b"")


def _packet(n: int, gop: int = 15) -> MediaPacket:
    return MediaPacket(INFO, bytes([n % 256]), n * 6000, n * 6000, 6000, n % gop == 0, n * 66_666)


def test_gop_cache_holds_the_last_keyframe_onward():
    cache = GopCache(max_packets=100)
    for n in range(40):
        cache.add(_packet(n))
    snapshot = cache.snapshot()
    assert snapshot[0].keyframe and snapshot[0].pts == 30 * 6000
    assert [p.pts // 6000 for p in snapshot] == list(range(30, 40))


def test_gop_cache_is_bounded_without_keyframes():
    cache = GopCache(max_packets=5)
    for n in range(1, 100):
        cache.add(_packet(n, gop=1000) if n > 1 else _packet(0))
    assert len(cache.snapshot()) == 5


def test_a_subscriber_that_never_reads_does_not_block_or_starve_others():
    fanout = Fanout(gop_cache=GopCache(max_packets=100))
    stuck = fanout.subscribe("stuck", max_items=10)
    fast = fanout.subscribe("recorder", max_items=10_000)
    done = threading.Event()

    def publish() -> None:
        for n in range(3000):
            fanout.publish(_packet(n))
        done.set()

    thread = threading.Thread(target=publish)
    thread.start()
    assert done.wait(30), "publisher blocked by a subscriber"
    thread.join()
    assert len(fast) == 3000 and fast.dropped == 0
    assert stuck.dropped > 2900 and len(stuck) <= 10


def test_after_overflow_a_subscriber_resumes_at_a_keyframe():
    sub = Subscription("s", max_items=4)
    for n in range(7):  # overflows at n = 4 (not a keyframe)
        sub.offer(_packet(n))
    got = []
    while (item := sub.get_nowait()) is not None:
        got.append(item.pts // 6000)
    assert got == [0, 1, 2, 3]
    for n in range(7, 16):
        sub.offer(_packet(n))
    got = []
    while (item := sub.get_nowait()) is not None:
        got.append(item.pts // 6000)
    assert got == [15]  # everything before the next keyframe was dropped


def test_stream_lost_reaches_subscribers_and_clears_the_gop_cache():
    fanout = Fanout(gop_cache=GopCache(max_packets=100))
    sub = fanout.subscribe("s", max_items=100)
    fanout.publish(_packet(0))
    fanout.publish(StreamLost("cam", 1, 5, "camera closed the stream"))
    assert fanout.gop_cache.snapshot() == []
    assert isinstance(sub.get_nowait(), MediaPacket)
    assert isinstance(sub.get_nowait(), StreamLost)


def test_closed_subscription_wakes_a_waiting_reader():
    sub = Subscription("s", max_items=4)
    result = []
    reader = threading.Thread(target=lambda: result.append(sub.get(timeout=30)))
    reader.start()
    sub.close()
    reader.join(5)
    assert not reader.is_alive() and result == [None]
