"""Hot-list hit latency: the box stores a read that hits its hot list → the hit arrives at a console's live stream.

Starts a real mosquitto (the hub's generated config: TLS, client certificates, per-device ACL) and
`canvass-hub run` (SQLite) in their own processes; enrols one appliance through the API (claim code, CSR,
certificate) and runs the appliance's own link in this process (paho over mutual TLS, its SQLite outbox); the
camera's owner shares hot-list hits (`plate_sharing: hits_only`); an analyst reads `GET /api/hits/stream` as
the console does (HTTP streaming with the Bearer header, server-sent events parsed as they arrive). Then, every
`--interval` seconds, the box stores a read with its JPEG thumbnail in its own read store (`edge.alpr.reads`),
turns it into the hub message its sharing rule allows (`edge.alpr.events.hub_message`, thumbnail included) and
queues it in its outbox; the clock starts before the read is stored and stops when the hit's event has been read
off the stream. Plate reading itself (the models) is not in the figure: `bench/alpr_video.py` measures it.

    .venv/bin/python bench/hit_latency.py --hits 200 --interval 0.25 --json
"""

from __future__ import annotations

import argparse
import getpass
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
import numpy as np  # noqa: E402

from bench.measure import percentile, print_figures  # noqa: E402
from edge.alpr.events import PlateEvent, hub_message  # noqa: E402
from edge.alpr.matching import HotListMatch  # noqa: E402
from edge.alpr.reads import ReadStore, StoredRead, new_read_id  # noqa: E402
from edge.link.hotlist import HotListStore  # noqa: E402
from edge.link.mqtt import EdgeLink  # noqa: E402
from edge.link.outbox import Outbox  # noqa: E402
from provisioning.enroll import enroll  # noqa: E402
from sim.process import free_port, port_open  # noqa: E402
from tests.edge_support import wait_for  # noqa: E402
from tests.hub_support import MOSQUITTO  # noqa: E402
from tests.sse_support import SseReader  # noqa: E402
from wire import messages as m  # noqa: E402

MAX_HITS = 1000
PASSWORD = "bench-password-long-enough"


class Hub:
    """mosquitto and `canvass-hub run` in their own processes, under `root`."""

    def __init__(self, root: Path):
        self.data = root / "hub"
        self.mqtt_port, self.api_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.api_port}"
        self.env = {**os.environ, "CANVASS_HUB_BROKER_PORT": str(self.mqtt_port),
                    "CANVASS_HUB_BROKER_USER": getpass.getuser(),
                    "CANVASS_HUB_BROKER_PID_FILE": str(self.data / "broker" / "mosquitto.pid")}
        self.cli = [sys.executable, "-m", "hub.cli", "--data", str(self.data)]
        self.logs = [open(root / "mosquitto.log", "wb"), open(root / "hub.log", "wb")]
        self.processes: list[subprocess.Popen] = []

    def start(self) -> "Hub":
        subprocess.run(self.cli + ["init"], env=self.env, check=True, capture_output=True, cwd=REPO)
        subprocess.run(self.cli + ["create-admin", "--username", "admin", "--password-stdin"], env=self.env,
                       check=True, input=PASSWORD + "\n", text=True, capture_output=True, cwd=REPO)
        self.processes.append(subprocess.Popen([MOSQUITTO, "-c", str(self.data / "broker" / "mosquitto.conf")],
                                               stdout=self.logs[0], stderr=self.logs[0]))
        self.processes.append(subprocess.Popen(self.cli + ["run", "--port", str(self.api_port)], env=self.env,
                                               stdout=self.logs[1], stderr=self.logs[1], cwd=REPO))
        wait_for(lambda: port_open(self.mqtt_port) and port_open(self.api_port), timeout=30, what="hub up")
        return self

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
            process.wait(30)
        for log in self.logs:
            log.close()

    def token(self, username: str) -> str:
        answer = httpx.post(self.url + "/api/auth/login", json={"username": username, "password": PASSWORD})
        answer.raise_for_status()
        return answer.json()["token"]


def set_up(hub: Hub, root: Path) -> tuple[EdgeLink, str]:
    """A business, its owner, an analyst and an enrolled appliance whose camera shares hits; the link and the
    analyst's token."""
    admin = httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {hub.token('admin')}"}, timeout=60)
    business = admin.post("/api/businesses", json={"name": "Bench bakery"}).json()["id"]
    for name, role in (("owner", "owner"), ("analyst", "analyst")):
        admin.post("/api/users", json={"username": name, "password": PASSWORD, "role": role,
                                       "business_id": business if role == "owner" else None}).raise_for_status()
    code = admin.post(f"/api/businesses/{business}/claim-codes", json={}).json()["code"]
    identity = enroll(hub.url, code, root / "box" / "identity")
    link = EdgeLink(identity, Outbox(root / "box" / "outbox.sqlite3"), HotListStore(root / "box" / "hotlist.json"))
    link.start()
    wait_for(lambda: link.connected, timeout=30, what="the box connected")
    link.publish_event(m.CameraStatus(camera="front", status="recording"))
    owner = httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {hub.token('owner')}"}, timeout=60)
    camera = wait_for(lambda: owner.get("/api/cameras").json(), timeout=30, what="the camera at the hub")[0]["id"]
    owner.put(f"/api/cameras/{camera}/consent", json={"sharing": "off", "plate_sharing": "hits_only"}
              ).raise_for_status()
    return link, hub.token("analyst")


def send_hits(link: EdgeLink, store: ReadStore, count: int, interval: float) -> tuple[dict[str, float], list[int]]:
    """`count` hits as the box makes them; when each read began to be stored, by plate, and the thumbnails' sizes."""
    crop = np.random.default_rng(7).integers(60, 200, (60, 200, 3), dtype=np.uint8)  # a plate-sized crop
    entry = m.HotListEntry(plate="HIT0000", list_name="stolen", reason="stolen vehicle")
    started, sizes = {}, []
    for n in range(count):
        plate = f"HIT{n:04d}"
        t0 = time.time()
        now_us = int(t0 * 1_000_000)
        read = store.add(StoredRead(new_read_id(), "front", plate, 0.93, now_us - 2_000_000, now_us, 10, None), crop)
        message = hub_message(PlateEvent(read, HotListMatch(entry, 0)), "hits_only")
        link.publish_event(message)
        started[plate] = t0
        sizes.append(len(message.thumbnail() or b""))
        time.sleep(interval)
    return started, sizes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hits", type=int, default=100, help=f"hits to send (at most {MAX_HITS})")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between hits")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not 1 <= args.hits <= MAX_HITS:
        parser.error(f"--hits must be 1 to {MAX_HITS}")
    root = Path(tempfile.mkdtemp(prefix="canvass-bench-hits-"))
    hub = Hub(root).start()
    link = store = reader = None
    try:
        link, analyst = set_up(hub, root)
        reader = SseReader(hub.url, analyst).start()
        store = ReadStore(root / "box" / "reads.sqlite3", root / "box" / "thumbnails")
        started, sizes = send_hits(link, store, args.hits, args.interval)
        wait_for(lambda: len(reader.of_kind("hit")) >= args.hits, timeout=60, what="every hit at the console")
        arrived = {event.data["plate"]: event for event in reader.of_kind("hit")}
        latencies = [(arrived[plate].arrived - t0) * 1000 for plate, t0 in started.items()]
        with_thumbnail = sum(event.data["thumbnail_url"] is not None for event in arrived.values())
    finally:
        if reader is not None:
            reader.close()
        if link is not None:
            link.stop()
        if store is not None:
            store.close()
        hub.stop()
        shutil.rmtree(root, ignore_errors=True)
    result = {
        "bench": "hit_latency", "hits": args.hits, "interval_s": args.interval, "received": len(arrived),
        "with_thumbnail": with_thumbnail, "thumbnail_bytes_median": int(statistics.median(sizes)),
        "latency_ms_p50": round(statistics.median(latencies), 1),
        "latency_ms_p95": round(percentile(latencies, 0.95), 1), "latency_ms_max": round(max(latencies), 1),
        "target_p95_ms": 2000, "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.platform()}",
    }
    print_figures(result, args.json)
    return 0 if result["received"] == args.hits and result["latency_ms_p95"] <= 2000 else 1


if __name__ == "__main__":
    sys.exit(main())
