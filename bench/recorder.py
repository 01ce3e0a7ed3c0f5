"""Recorder CPU cost: the agent recording N simulated 1080p15 cameras vs. FFmpeg doing the same.

Starts N simulated cameras (sim/), runs `canvass-edge run` on them for a
warm-up and then a measuring window, reading the agent's CPU time from
/proc/<pid>/stat; then runs N `ffmpeg -c copy -f segment` processes (the
usual NVR baseline: remux, no transcode, no fsync) over the same window on
the same cameras. Prints one JSON object (`--json`) or a short table.

    .venv/bin/python bench/recorder.py --cameras 4 --seconds 60 --json

Each figure is the median of `--repeats` alternating runs (agent, ffmpeg,
agent, ...): on this VM one 40 s window varies by about ±0.3 points.
`SYNC_INTERVAL_MS=0` in the environment measures fdatasync after every
frame on the writers instead of the group-commit syncer.

Target (issue 2): at most 1% of one core per camera for the agent.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.measure import measure, print_figures, rss_bytes  # noqa: E402
from edge.recording.index import SegmentIndex  # noqa: E402
from sim.process import CameraProcess  # noqa: E402
from tests.edge_support import config_text, wait_for  # noqa: E402

SYNC_INTERVAL_MS = int(os.environ.get("SYNC_INTERVAL_MS", "66"))


def bench_agent(urls: list[str], root: Path, warmup: float, seconds: float) -> dict:
    data_dir = root / "agent"
    config = root / "edge.toml"
    config.write_text(config_text(data_dir, urls, segment_seconds=60, sync_interval_ms=SYNC_INTERVAL_MS))
    with open(root / "edge.log", "ab") as log:
        agent = subprocess.Popen([sys.executable, "-m", "edge.cli", "run", "--config", str(config)],
                                 stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        wait_for(lambda: (data_dir / "index.sqlite3").exists(), timeout=30, what="the agent's index")
        time.sleep(warmup)
        user, system = measure([agent.pid], seconds)
        rss = rss_bytes(agent.pid)
        agent.terminate()
        agent.wait(30)
        index = SegmentIndex(data_dir / "index.sqlite3", readonly=True)
        frames = sum(s.frames or 0 for name in ("cam1", "cam2", "cam3", "cam4") for s in index.segments(name))
        index.close()
        return {"cpu_pct": user + system, "user_pct": user, "system_pct": system, "rss_mb": rss / 2**20,
                "frames_recorded": frames}  # fmt: skip
    finally:
        if agent.poll() is None:
            agent.kill()


def bench_ffmpeg(urls: list[str], root: Path, warmup: float, seconds: float) -> dict:
    processes = []
    for n, url in enumerate(urls, start=1):
        out = root / f"ffmpeg-cam{n}"
        out.mkdir()
        command = ["ffmpeg", "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", url, "-c", "copy",
                   "-f", "segment", "-segment_time", "60", "-reset_timestamps", "1", str(out / "%05d.mp4")]  # fmt: skip
        processes.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        time.sleep(warmup)
        user, system = measure([p.pid for p in processes], seconds)
        rss = sum(rss_bytes(p.pid) for p in processes)
        return {"cpu_pct": user + system, "user_pct": user, "system_pct": system, "rss_mb": rss / 2**20}
    finally:
        for p in processes:
            p.terminate()
        for p in processes:
            p.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, choices=range(1, 5), default=4)
    parser.add_argument("--seconds", type=float, default=60.0, help="measuring window")
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs; medians are reported")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    agents, ffmpegs = [], []
    with tempfile.TemporaryDirectory(prefix="canvass-bench-") as tmp, CameraProcess(
        count=args.cameras, cache_dir=REPO / ".cache" / "sim"
    ) as sim:
        for run in range(args.repeats):  # alternate, so drift on the machine hits both alike
            root = Path(tmp) / f"run{run}"
            root.mkdir()
            agents.append(bench_agent(sim.urls, root, args.warmup, args.seconds))
            ffmpegs.append(bench_ffmpeg(sim.urls, root, args.warmup, args.seconds))
    agent = {key: statistics.median(a[key] for a in agents) for key in agents[0]}
    ffmpeg = {key: statistics.median(f[key] for f in ffmpegs) for key in ffmpegs[0]}
    result = {
        "bench": "recorder",
        "cameras": args.cameras,
        "stream": "1920x1080 15 fps H.264 ~3 Mbit/s, RTSP/TCP on loopback",
        "window_s": args.seconds,
        "repeats": args.repeats,
        "sync_interval_ms": SYNC_INTERVAL_MS,
        "cpu_pct_per_camera_runs": [round(a["cpu_pct"] / args.cameras, 2) for a in agents],
        "ffmpeg_cpu_pct_per_camera_runs": [round(f["cpu_pct"] / args.cameras, 2) for f in ffmpegs],
        "cpu_pct_per_camera": round(agent["cpu_pct"] / args.cameras, 2),
        "agent_cpu_pct": round(agent["cpu_pct"], 2),
        "agent_user_pct": round(agent["user_pct"], 2),
        "agent_system_pct": round(agent["system_pct"], 2),
        "agent_rss_mb": round(agent["rss_mb"], 1),
        "ffmpeg_cpu_pct_per_camera": round(ffmpeg["cpu_pct"] / args.cameras, 2),
        "ffmpeg_user_pct": round(ffmpeg["user_pct"], 2),
        "ffmpeg_system_pct": round(ffmpeg["system_pct"], 2),
        "ffmpeg_rss_mb_total": round(ffmpeg["rss_mb"], 1),
        "frames_recorded": agent["frames_recorded"],
        "target_cpu_pct_per_camera": 1.0,
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.processor() or platform.platform()}",
    }
    print_figures(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
