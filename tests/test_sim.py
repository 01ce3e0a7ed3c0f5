"""The camera simulator behaves like an IP camera: real RTSP clients, real decoding."""

from __future__ import annotations

import threading
import time

import av
import pytest

from edge.recording.h264 import has_parameter_sets
from sim.truth import passes_between
from tests.edge_support import wait_for

OPTIONS = {"rtsp_transport": "tcp"}


def read_packets(url: str, seconds: float) -> list[av.Packet]:
    """Packets a fresh RTSP client receives in `seconds` (a real PyAV/FFmpeg client)."""
    packets = []
    with av.open(url, options=OPTIONS, timeout=(10, 10)) as container:
        stream = container.streams.video[0]
        deadline = time.monotonic() + seconds
        for packet in container.demux(stream):
            if packet.size:
                packets.append((packet, bytes(packet)))
            if time.monotonic() > deadline:
                break
    return packets


def test_stream_is_1080p15_about_3_mbit_with_a_short_gop_to_two_clients_at_once(cameras) -> None:
    sim = cameras(1)
    results: dict[int, list] = {}

    def client(n: int) -> None:
        results[n] = read_packets(sim.urls[0], 6)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == 2, "both clients were served"
    for packets in results.values():
        keyframes = [i for i, (p, _) in enumerate(packets) if p.is_keyframe]
        assert len(keyframes) >= 3
        gaps = {b - a for a, b in zip(keyframes, keyframes[1:])}
        assert all(15 <= gap <= 30 for gap in gaps), f"keyframe every 1-2 s at 15 fps, got {gaps}"
        steady = packets[keyframes[0] : keyframes[-1]]
        dts = [p.dts for p, _ in steady if p.dts is not None]
        seconds = float((dts[-1] - dts[0]) * steady[0][0].time_base)
        assert 14 <= (len(dts) - 1) / seconds <= 16, "15 fps"
        mbit = sum(len(data) for _, data in steady) * 8 / seconds / 1e6
        assert 2.25 <= mbit <= 3.75, f"about 3 Mbit/s (within 25%), got {mbit:.2f}"
        assert all(has_parameter_sets(data) for p, data in packets if p.is_keyframe), "SPS/PPS in band"
    with av.open(sim.urls[0], options=OPTIONS, timeout=(10, 10)) as container:
        stream = container.streams.video[0]
        frame = next(container.decode(stream))
        assert (frame.width, frame.height) == (1920, 1080)
        assert stream.codec_context.name == "h264"


def test_params_in_sdp_variant_sends_sps_pps_only_in_the_sdp(cameras) -> None:
    sim = cameras(1, params_in_sdp=True)
    with av.open(sim.urls[0], options=OPTIONS, timeout=(10, 10)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.extradata, "SPS/PPS in the SDP (sprop-parameter-sets)"
        keyframes = []
        for packet in container.demux(stream):
            if packet.is_keyframe and packet.size:
                keyframes.append(bytes(packet))
            if len(keyframes) == 2:
                break
    assert not any(has_parameter_sets(k) for k in keyframes), "no SPS/PPS in band"


def test_camera_restarts_on_the_same_url(cameras) -> None:
    sim = cameras(1)
    assert read_packets(sim.urls[0], 1)
    sim.stop()
    with pytest.raises((av.error.FFmpegError, OSError)):
        av.open(sim.urls[0], options=OPTIONS, timeout=(3, 3))
    sim.start()
    assert read_packets(sim.urls[0], 1), "served again after the restart"


def test_ground_truth_lists_distinct_plates_that_pass_often(cameras) -> None:
    sim = cameras(2)
    assert [t.camera for t in sim.truths] == ["cam1", "cam2"]
    for truth in sim.truths:
        assert (truth.width, truth.height, truth.fps) == (1920, 1080, 15)
        plates = [p.plate for p in truth.passes]
        assert len(plates) >= 2 and len(set(plates)) == len(plates)
        now = time.time()
        passes = passes_between(truth, now, now + 60)
        assert len(passes) >= 2 * len(plates) - 1, "every plate passes at least once per loop"
        assert all(p.t_first < p.t_last for p in passes)
        assert all(a.t_first <= b.t_first for a, b in zip(passes, passes[1:]))
    assert set(sim.truths[0].passes) != set(sim.truths[1].passes), "cameras differ"
    wait_for(lambda: sim.process.poll() is None, timeout=1, what="the simulator still running")
