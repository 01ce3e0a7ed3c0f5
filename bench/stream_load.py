"""Streaming cost on the appliance and latency camera → viewer, live, on loopback.

The same set-up as `stream_first_frame.py` (a simulated 1080p15 camera, mosquitto,
the hub in this process, an enrolled agent recording the camera). Then:

- **Appliance CPU**: the agent process's CPU (utime + stime from /proc, so its
  recorder, link and streamer threads) over `--window` seconds with no session,
  then with 1 and with `--viewers` sessions at once, each consumed at the hub.
  Per viewer = (with N − none) / N, in % of one core.
- **Added latency**: a second RTSP client decodes the camera directly and notes
  when each picture arrives; the hub notes when the same picture (same decoded
  bytes: passthrough is bit-exact) arrives through the box and WebRTC. Latency
  per frame = hub time − direct time: what the box path adds to watching the
  camera directly. The hub → browser leg (the hub re-encodes) is not in it.

The hub decodes every session in this process, so with 4 sessions it shares the
2 cores with the agent: the figures are for both on one machine.

    .venv/bin/python bench/stream_load.py --json
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import av  # noqa: E402

from bench.measure import measure, percentile, print_figures  # noqa: E402
from bench.stream_first_frame import REASON, setup  # noqa: E402

def picture(frame: av.VideoFrame) -> str:
    return hashlib.sha256(frame.to_ndarray(format="yuv420p").tobytes()).hexdigest()


class Direct(threading.Thread):
    """The camera watched directly: when each picture arrived (its latest arrival)."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.seen, self.stop, self.lock = url, {}, threading.Event(), threading.Lock()

    def run(self) -> None:
        with av.open(self.url, options={"rtsp_transport": "tcp", "fflags": "nobuffer"}) as container:
            for frame in container.decode(video=0):
                now = time.monotonic()
                with self.lock:
                    self.seen[picture(frame)] = now
                if self.stop.is_set():
                    return


class Consumer(threading.Thread):
    """One session's frames at the hub, read as they come (its relay subscription)."""

    def __init__(self, stack, session_id: uuid.UUID, direct: Direct | None = None) -> None:
        super().__init__(daemon=True)
        self.stack, self.session_id, self.direct = stack, session_id, direct
        self.frames, self.latencies, self.stop = 0, [], threading.Event()

    def run(self) -> None:
        track = self.stack.hub.streams.subscribe(self.session_id)
        while not self.stop.is_set():
            try:
                frame = self.stack.hub.streams.call(track.recv(), timeout=10)
            except Exception:
                return
            arrived = time.monotonic()
            self.frames += 1
            if self.direct is not None and self.frames > 30:  # past the cached GOP's fast start
                with self.direct.lock:
                    seen = self.direct.seen.get(picture(frame))
                if seen is not None and arrived - seen < 5:
                    self.latencies.append(arrived - seen)


def open_session(stack, token: str, camera_id: int) -> uuid.UUID:
    with stack.client(token) as c:
        r = c.post("/api/streams", json={"camera_id": camera_id, "mode": "live", "purpose": "other",
                                         "reason": REASON, "case_number": "BENCH-2"})
        r.raise_for_status()
        return uuid.UUID(r.json()["session_id"])


def stop_session(stack, token: str, session_id: uuid.UUID) -> None:
    with stack.client(token) as c:
        c.delete(f"/api/streams/{session_id}").raise_for_status()


def phase(stack, token: str, camera_id: int, pid: int, viewers: int, window: float, direct: Direct | None):
    sessions = [open_session(stack, token, camera_id) for _ in range(viewers)]
    consumers = [Consumer(stack, s, direct if n == 0 else None) for n, s in enumerate(sessions)]
    for consumer in consumers:
        consumer.start()
    time.sleep(3)  # past the start-up burst
    cpu = sum(measure([pid], window))
    for consumer in consumers:
        consumer.stop.set()
    frames = [c.frames for c in consumers]
    for session in sessions:
        stop_session(stack, token, session)
    for consumer in consumers:
        consumer.join(15)
    return cpu, frames, consumers[0].latencies if consumers else []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=4)
    parser.add_argument("--window", type=float, default=20, help="seconds of CPU measurement per phase")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="canvass-bench-load-") as tmp:
        stack, camera, agent, camera_id, token = setup(Path(tmp))
        direct = Direct(camera.urls[0])
        try:
            direct.start()
            time.sleep(5)
            pid = agent.process.pid
            idle = sum(measure([pid], args.window))
            one, one_frames, latencies = phase(stack, token, camera_id, pid, 1, args.window, direct)
            many, many_frames, _ = phase(stack, token, camera_id, pid, args.viewers, args.window, None)
            end_time = agent.process.poll()
        finally:
            direct.stop.set()
            agent.terminate()
            camera.close()
            stack.stop()
    out = {"bench": "stream_load", "machine": f"{platform.machine()} {platform.platform()}", "cores": os.cpu_count(),
           "window_s": args.window,
           "appliance_cpu_recording_only_pct": round(idle, 2),
           "appliance_cpu_1_viewer_pct": round(one, 2),
           f"appliance_cpu_{args.viewers}_viewers_pct": round(many, 2),
           "per_viewer_pct_1": round(one - idle, 2),
           f"per_viewer_pct_{args.viewers}": round((many - idle) / args.viewers, 2),
           "frames_per_viewer": many_frames, "frames_1_viewer": one_frames,
           "latency_frames": len(latencies),
           "added_latency_median_ms": round(1000 * statistics.median(latencies), 1) if latencies else None,
           "added_latency_p95_ms": round(1000 * percentile(latencies, 0.95), 1) if latencies else None,
           "agent_still_running": end_time is None}
    print_figures(out, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
