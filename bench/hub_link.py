"""Hub ingestion at city scale: N appliances on one mosquitto and one hub process, one event each per 10 s.

Starts a real mosquitto (the hub's generated config: TLS, client certificates,
per-device ACL) and `canvass-hub run` in its own process; enrols N appliances
through the hub's API (claim code, CSR, certificate); connects each with the
real appliance link (paho-mqtt over mutual TLS, a SQLite outbox each) in this
process; then every appliance sends one health event every `--interval`
seconds, evenly staggered, for `--seconds`. Prints:

- events sent and stored (each exactly once), and whether ingestion kept up
  (no backlog once sending stops);
- event-to-database latency (outbox time on the appliance → row written by
  the hub) p50 / p99 / max;
- hub and broker memory per connected appliance (RSS growth from before the
  appliances connected to after, divided by N), hub CPU during the window.

    .venv/bin/python bench/hub_link.py --appliances 1000 --seconds 60 --json
"""

from __future__ import annotations

import argparse
import getpass
import multiprocessing
import os
import platform
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from bench.measure import cpu_times, percentile, print_figures, rss_bytes  # noqa: E402
from edge.link.hotlist import HotListStore  # noqa: E402
from edge.link.mqtt import EdgeLink  # noqa: E402
from edge.link.outbox import Outbox  # noqa: E402
from provisioning.enroll import enroll  # noqa: E402
from sim.process import free_port, port_open  # noqa: E402
from tests.edge_support import wait_for  # noqa: E402
from tests.hub_support import MOSQUITTO  # noqa: E402
from wire import messages as m  # noqa: E402


WORKER_SIZE = 100


def run_appliances(root: Path, identities: list, first: int, total: int, interval: float, seconds: float,
                   ready, done, go, stop, t_go) -> None:
    """A worker process: `identities[i]` is appliance `first + i` of `total`; each sends one health event
    every `interval` s for `seconds`, appliance g offset by g * interval / total."""
    links = []
    for i, identity in enumerate(identities):
        box = root / f"box{first + i}"
        link = EdgeLink(identity, Outbox(box / "outbox.sqlite3"), HotListStore(box / "hotlist.json"),
                        max_backoff_s=5)
        link.start()
        links.append(link)
    wait_for(lambda: all(link.connected for link in links), timeout=300, what="appliances connected")
    ready.put(first)
    go.wait()
    schedule = sorted((t_go.value + (first + i) * interval / total + k * interval, i)
                      for i in range(len(links)) for k in range(int(seconds / interval)))
    for due, i in schedule:
        time.sleep(max(0.0, due - time.time()))
        links[i].publish_event(m.Health(uptime_s=0, disk_free_bytes=1 << 40, cameras_recording=4))
    end = time.time()
    wait_for(lambda: all(len(link.outbox) == 0 for link in links), timeout=300, what="every event acknowledged")
    done.put((len(schedule), time.time() - end))
    stop.wait()
    for link in links:
        link.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appliances", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--interval", type=float, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # 1000 TLS sockets + outboxes

    root = Path(tempfile.mkdtemp(prefix="canvass-bench-hub-"))
    data = root / "hub"
    mqtt_port, api_port = free_port(), free_port()
    env = {**os.environ, "CANVASS_HUB_BROKER_PORT": str(mqtt_port), "CANVASS_HUB_BROKER_USER": getpass.getuser(),
           "CANVASS_HUB_SIGNED_OUT_ATTEMPTS_PER_MINUTE": "10000",  # one installer enrols every simulated box
           "CANVASS_HUB_BROKER_PID_FILE": str(data / "broker" / "mosquitto.pid")}
    hub_cli = [sys.executable, "-m", "hub.cli", "--data", str(data)]
    subprocess.run(hub_cli + ["init"], env=env, check=True, capture_output=True, cwd=REPO)
    subprocess.run(hub_cli + ["create-admin", "--username", "admin", "--password-stdin"], env=env, check=True,
                   input="bench-admin-password\n", text=True, capture_output=True, cwd=REPO)
    broker_log = open(root / "mosquitto.log", "wb")
    broker = subprocess.Popen([MOSQUITTO, "-c", str(data / "broker" / "mosquitto.conf")], stdout=broker_log,
                              stderr=broker_log)
    hub_log = open(root / "hub.log", "wb")
    hub = subprocess.Popen(hub_cli + ["run", "--port", str(api_port)], env=env, stdout=hub_log, stderr=hub_log,
                           cwd=REPO)
    workers: list = []
    try:
        wait_for(lambda: port_open(mqtt_port) and port_open(api_port), timeout=30, what="broker and hub up")
        url = f"http://127.0.0.1:{api_port}"
        api = httpx.Client(base_url=url, timeout=60)
        admin = api.post("/api/auth/login", json={"username": "admin", "password": "bench-admin-password"}).json()
        api.headers["Authorization"] = f"Bearer {admin['token']}"
        business = api.post("/api/businesses", json={"name": "Bench"}).json()["id"]

        t0 = time.monotonic()
        identities = []
        for i in range(args.appliances):
            code = api.post(f"/api/businesses/{business}/claim-codes", json={}).json()["code"]
            identities.append(enroll(url, code, root / f"box{i}" / "identity"))
        enrol_s = time.monotonic() - t0
        time.sleep(2)
        hub_rss0, broker_rss0 = rss_bytes(hub.pid), rss_bytes(broker.pid)

        # The appliances run in worker processes of WORKER_SIZE each: paho waits on select(), which
        # cannot watch file descriptors above 1024, and each appliance holds about six (socket,
        # wake-up pair, outbox database + WAL + shared memory). Real appliances are each their own
        # process on their own box.
        ctx = multiprocessing.get_context("fork")
        ready, done = ctx.Queue(), ctx.Queue()
        go, stop = ctx.Event(), ctx.Event()
        t_go = ctx.Value("d", 0.0)
        t0 = time.monotonic()
        for first in range(0, len(identities), WORKER_SIZE):
            worker = ctx.Process(target=run_appliances, daemon=True, args=(
                root, identities[first:first + WORKER_SIZE], first, len(identities), args.interval, args.seconds,
                ready, done, go, stop, t_go))
            worker.start()
            workers.append(worker)
            ready.get(timeout=300)  # one batch at a time: a burst of TLS handshakes on two cores
        connect_s = time.monotonic() - t0
        time.sleep(5)  # their online states and the hub's hot-list pushes settle
        hub_rss1, broker_rss1 = rss_bytes(hub.pid), rss_bytes(broker.pid)

        hub_cpu0 = sum(cpu_times(hub.pid))
        t_go.value = time.time() + 1
        go.set()
        results = [done.get(timeout=args.seconds + 300) for _ in workers]
        window = args.seconds
        hub_cpu = 100 * (sum(cpu_times(hub.pid)) - hub_cpu0) / (time.time() - t_go.value)
        sent = sum(r[0] for r in results)
        drain_s = max(r[1] for r in results)
        stop.set()

        db = sqlite3.connect(f"file:{data / 'hub.db'}?mode=ro", uri=True)
        rows = db.execute("SELECT at, received_at FROM events WHERE kind = 'health'").fetchall()
        db.close()
        latencies = [(datetime.fromisoformat(r) - datetime.fromisoformat(a)).total_seconds() * 1000 for a, r in rows]
        result = {
            "bench": "hub_link",
            "appliances": len(identities),
            "interval_s": args.interval,
            "window_s": round(window, 1),
            "events_sent": sent,
            "events_stored": len(rows),
            "drain_after_window_s": round(drain_s, 2),
            "latency_ms_p50": round(statistics.median(latencies), 1),
            "latency_ms_p99": round(percentile(latencies, 0.99), 1),
            "latency_ms_max": round(max(latencies), 1),
            "hub_cpu_pct": round(hub_cpu, 1),
            "hub_rss_mb": round(hub_rss1 / 2**20, 1),
            "hub_kb_per_appliance": round((hub_rss1 - hub_rss0) / 1024 / len(identities), 1),
            "broker_rss_mb": round(broker_rss1 / 2**20, 1),
            "broker_kb_per_appliance": round((broker_rss1 - broker_rss0) / 1024 / len(identities), 1),
            "enrol_s": round(enrol_s, 1),
            "connect_s": round(connect_s, 1),
            "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.platform()}",
        }
    finally:
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.kill()
        hub.terminate()
        broker.terminate()
        hub.wait(30)
        broker.wait(30)
        shutil.rmtree(root, ignore_errors=True)
    print_figures(result, args.json)
    return 0 if result["events_stored"] == result["events_sent"] else 1


if __name__ == "__main__":
    sys.exit(main())
