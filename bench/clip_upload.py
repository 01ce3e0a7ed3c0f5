"""Clip upload throughput on loopback: the box's `upload_clip` (tuspy) into `canvass-hub run` (tuspyserver,
local clip store) in its own process.

Seeds an enrolled appliance and an approved clip request in a fresh hub, writes a clip of `--mb` MB of random
bytes (the hub verifies hash, size and signature, never the picture) and a manifest signed with the box's
key, starts the hub, then uploads it `--runs` times (a new request each) and prints:

- MB/s from the first byte sent to the hub's answer to the last chunk (verified and stored);
- the hub's CPU (user + system, % of one core) and the box side's (this process) during each upload;
- /api/health latency p50 / p99 / max while uploads run (polled every 50 ms): the event loop is not blocked;
- with `--rate-mbps`, the rate the paced upload achieved.

    .venv/bin/python bench/clip_upload.py --mb 256 --runs 3 --json
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from bench.measure import cpu_times, percentile, print_figures  # noqa: E402
from edge.clips.upload import upload_clip  # noqa: E402
from hub.cli import write_secret  # noqa: E402
from hub.services import HubServices  # noqa: E402
from hub.settings import HubSettings  # noqa: E402
from sim.process import free_port, port_open  # noqa: E402
from tests.clip_support import approved_request, enrol_box, signed_manifest, write_manifest  # noqa: E402
from tests.edge_support import wait_for  # noqa: E402


def _write_clip(path: Path, mb: int) -> None:
    with path.open("wb") as out:
        for _ in range(mb):
            out.write(os.urandom(1 << 20))


class HealthProbe(threading.Thread):
    """Polls /api/health every 50 ms and keeps the latencies (ms)."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url, self.latencies, self.stop = url, [], threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self.stop.wait(0.05):
                t0 = time.perf_counter()
                client.get(self.url).raise_for_status()
                self.latencies.append(1000 * (time.perf_counter() - t0))


def _one_upload(hub_pid: int, services: HubServices, box, clip: Path, root: Path, url: str, chunk: int,
                rate: int | None) -> dict:
    request = approved_request(services, box)
    manifest = write_manifest(root / f"manifest-{request.request_id}.json", signed_manifest(box, request, clip))
    hub0, me0, t0 = cpu_times(hub_pid), cpu_times(os.getpid()), time.monotonic()
    upload_clip(clip_path=clip, manifest_path=manifest, url=url, token=request.token, request_id=request.request_id,
                chunk_bytes=chunk, rate_limit_bytes_per_s=rate)
    elapsed = time.monotonic() - t0
    hub1, me1 = cpu_times(hub_pid), cpu_times(os.getpid())
    with services.db.session() as session:
        from hub.tables import Clip

        assert session.query(Clip).filter_by(request_id=request.request_id, verified=True).count() == 1
    return {"seconds": elapsed, "mb_s": clip.stat().st_size / 2**20 / elapsed,
            "hub_cpu": 100 * (sum(hub1) - sum(hub0)) / elapsed, "box_cpu": 100 * (sum(me1) - sum(me0)) / elapsed}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=256, help="clip size in MB")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--chunk-mb", type=float, default=4, help="bytes per PATCH, in MB")
    parser.add_argument("--rate-mbps", type=float, default=None, help="pace the upload (megabits a second)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="canvass-clip-bench-") as tmp:
        root = Path(tmp)
        return _run(args, root)


def _run(args: argparse.Namespace, root: Path) -> int:
    data, port = root / "hub", free_port()
    write_secret(data)
    services = HubServices(HubSettings(data_dir=data, mqtt_enabled=False))
    box = enrol_box(services)
    clip = root / "clip.bin"
    _write_clip(clip, args.mb)
    env = {**os.environ, "CANVASS_HUB_MQTT_ENABLED": "false", "PYTHONPATH": str(REPO)}
    log = (root / "hub.log").open("wb")
    hub = subprocess.Popen([sys.executable, "-m", "hub.cli", "--data", str(data), "run", "--port", str(port)],
                           env=env, stdout=log, stderr=log, cwd=REPO)
    try:
        wait_for(lambda: port_open(port), timeout=30, what="hub up")
        probe = HealthProbe(f"http://127.0.0.1:{port}/api/health")
        probe.start()
        rate = int(args.rate_mbps * 1e6 / 8) if args.rate_mbps else None
        runs = [_one_upload(hub.pid, services, box, clip, root, f"http://127.0.0.1:{port}/api/uploads",
                            int(args.chunk_mb * 2**20), rate) for _ in range(args.runs)]
        probe.stop.set()
        probe.join()
    finally:
        hub.terminate()
        hub.wait(30)
        services.close()
    print_figures(_figures(args, runs, probe.latencies), args.json)
    return 0


def _figures(args: argparse.Namespace, runs: list[dict], latencies: list[float]) -> dict:
    result = {"date": dt.date.today().isoformat(), "machine": f"{platform.machine()} {os.cpu_count()} cores",
              "clip_mb": args.mb, "chunk_mb": args.chunk_mb, "runs": len(runs),
              "mb_s_median": round(statistics.median(r["mb_s"] for r in runs), 1),
              "mb_s_each": [round(r["mb_s"], 1) for r in runs],
              "hub_cpu_pct_median": round(statistics.median(r["hub_cpu"] for r in runs), 1),
              "box_cpu_pct_median": round(statistics.median(r["box_cpu"] for r in runs), 1),
              "health_ms_p50": round(percentile(latencies, 0.5), 1),
              "health_ms_p99": round(percentile(latencies, 0.99), 1),
              "health_ms_max": round(max(latencies), 1), "health_probes": len(latencies)}
    if args.rate_mbps:
        result["rate_limit_mbps"] = args.rate_mbps
        result["achieved_mbps_median"] = round(statistics.median(r["mb_s"] for r in runs) * 8 * 2**20 / 1e6, 2)
    return result


if __name__ == "__main__":
    sys.exit(main())
