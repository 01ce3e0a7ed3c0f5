"""The demo: a hub, its MQTT broker, its SFU and TURN server, and one appliance recording four simulated cameras.

It starts Janus (the SFU) and coturn (TURN) with fresh secrets (`sim.media_servers`), writes the hub's broker
files and starts mosquitto (mutual TLS, per-device ACL) and `canvass-hub run`; creates a demo business with an owner, an
analyst and an auditor (fresh random passwords each run, printed once); has the owner make a
claim code and enrols the appliance with `canvass-provision enroll`; starts
the simulated cameras and `canvass-edge run`; prints a pairing code from the
box for the owner's passkey (the owner signs consent in the owner console);
places the cameras on the map once the hub hears of them and has a simulated
owner share them (live and recorded, signed with a software passkey paired
with the box, development only); then prints the appliance's status every few
seconds. Ctrl-C (or `--seconds`) stops the agent gracefully (open segments
are closed and hashed), then the hub, the broker and the cameras.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from sim.media_servers import MediaServers
from sim.owner_key import SoftwareAuthenticator
from sim.process import CameraProcess, free_port, port_open

REPO = Path(__file__).resolve().parents[1]
STATUS_EVERY_S = 15


def appliance_config(data_dir: Path, urls: list[str], *, max_bytes: int, ice_address: str) -> str:
    lines = [
        "# Written by `python -m sim.demo`: a development appliance recording the simulated cameras.",
        "[appliance]",
        'id = "demo-appliance"',
        f'data_dir = "{data_dir}"',
        "",
        "[recording]",
        f"max_bytes = {max_bytes}  # the demo never takes more than this of your disk",
        "",
        "[streaming]",
        f'ice_host_addresses = ["{ice_address}"]  # the SFU runs on this machine, on its own address',
        "",
        "[alpr]",
        'backend = "offline"  # PP-OCRv4 from the installed wheel: no download; "fast" after `canvass-alpr models fetch`',
        "analysis_fps = 3  # the demo shares this machine with the hub and the cameras",
    ]
    for n, url in enumerate(urls, start=1):
        lines += ["", "[[cameras]]", f'name = "cam{n}"', f'url = "{url}"']
    return "\n".join(lines) + "\n"


DEMO_SITE = (40.7580, -73.9855)  # where the demo cameras stand on the map


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"demo: timed out waiting for {what}")
        time.sleep(0.2)


class DemoHub:
    """mosquitto + `canvass-hub run` under `root/hub`, with a demo business, owner and analyst."""

    def __init__(self, root: Path):
        self.root = root
        self.data = root / "hub"
        self.api_port, self.mqtt_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.api_port}"
        self.public_url = f"http://localhost:{self.api_port}"  # passkeys need a host name, not an IP address
        self.env = {**os.environ, "CANVASS_HUB_BROKER_PORT": str(self.mqtt_port),
                    "CANVASS_HUB_BROKER_USER": getpass.getuser(),
                    "CANVASS_HUB_BROKER_PID_FILE": str(self.data / "broker" / "mosquitto.pid"),
                    "CANVASS_HUB_ICE_HOST_ADDRESSES": '["127.0.0.1"]',
                    "CANVASS_HUB_PUBLIC_URL": self.public_url}
        self.media = MediaServers(root / "sfu")  # Janus and coturn: streams reach browsers through them
        self.env |= {f"CANVASS_HUB_{key.upper()}": value if isinstance(value, str) else json.dumps(value)
                     for key, value in self.media.hub_settings().items()}
        self.processes: list[subprocess.Popen] = []
        self.users: dict[str, str] = {}

    def _hub(self, *args: str, **kw) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "hub.cli", "--data", str(self.data), *args], env=self.env,
                              cwd=REPO, check=True, capture_output=True, text=True, **kw)

    def start(self) -> None:
        if self.data.exists():
            shutil.rmtree(self.data)  # a fresh hub each run: new CA, new users, new passwords
        self._hub("init")  # the hub's own server secret (0600, under its data) and the broker's files
        admin_password = secrets.token_urlsafe(12)
        self._hub("create-admin", "--username", "admin", "--password-stdin", input=admin_password + "\n")
        self.users["admin"] = admin_password
        self.media.start()
        mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        with open(self.root / "mosquitto.log", "ab") as log:
            self.processes.append(subprocess.Popen([mosquitto, "-c", str(self.data / "broker" / "mosquitto.conf")],
                                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        with open(self.root / "hub.log", "ab") as log:
            self.processes.append(subprocess.Popen(
                [sys.executable, "-m", "hub.cli", "--data", str(self.data), "run", "--port", str(self.api_port)],
                env=self.env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        _wait(lambda: port_open(self.mqtt_port) and port_open(self.api_port), 30, "the hub and its broker")

    def client(self, user: str | None = None) -> httpx.Client:
        headers = {}
        if user:
            signed_in = httpx.post(f"{self.url}/api/auth/login", json={"username": user, "password": self.users[user]},
                                   timeout=30)
            signed_in.raise_for_status()
            headers["Authorization"] = f"Bearer {signed_in.json()['token']}"
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def seed(self) -> str:
        """The demo business, its owner, an analyst and an auditor; returns a claim code made by the owner."""
        with self.client("admin") as admin:
            business = admin.post("/api/businesses", json={"name": "Demo Bakery"}).raise_for_status().json()["id"]
            for username, role in (("owner", "owner"), ("analyst", "analyst"), ("auditor", "auditor")):
                password = secrets.token_urlsafe(12)
                body = {"username": username, "password": password, "role": role}
                if role == "owner":
                    body["business_id"] = business
                elif role == "analyst":
                    body["unit"] = "RTCC"
                admin.post("/api/users", json=body).raise_for_status()
                self.users[username] = password
        with self.client("owner") as owner:
            owner.post(f"/api/businesses/{business}/sites", json={
                "name": "Main St", "address": "1 Main St", "latitude": DEMO_SITE[0], "longitude": DEMO_SITE[1]}
            ).raise_for_status()
            return owner.post(f"/api/businesses/{business}/claim-codes", json={}).raise_for_status().json()["code"]

    def place_cameras(self, count: int) -> bool:
        """Put the cameras on the map once the hub has heard of them (the owner's job)."""
        with self.client("owner") as owner:
            cameras = owner.get("/api/cameras").raise_for_status().json()
            if len(cameras) < count:
                return False
            for n, camera in enumerate(sorted(cameras, key=lambda c: c["name"])):
                owner.patch(f"/api/cameras/{camera['id']}", json={
                    "latitude": DEMO_SITE[0] + 0.0002 * n, "longitude": DEMO_SITE[1], "view_direction_deg": 90 * n}
                ).raise_for_status()
        return True

    def share_as_the_demo_owner(self, config: Path) -> None:
        """The demo's simulated owner pairs a software passkey with the box (a code from `canvass-edge owners
        pair`, offered through the hub, as the owner console does) and signs a policy sharing live and recorded
        video of every camera. Development only: a real owner's key is in their authenticator, and a real
        camera shares nothing until its owner signs."""
        with self.client("owner") as owner:
            options = owner.post("/api/owner/passkeys/options").raise_for_status().json()
            authenticator = SoftwareAuthenticator(rp_id=options["rp"]["id"], origin=self.public_url)
            owner.post("/api/owner/passkeys", json={"credential": authenticator.registration(options),
                                                    "label": "demo owner (software)"}).raise_for_status()
            device_id = owner.get("/api/appliances").raise_for_status().json()[0]["device_id"]
            code = subprocess.run([sys.executable, "-m", "edge.cli", "owners", "pair", "--config", str(config)],
                                  cwd=REPO, check=True, capture_output=True, text=True).stdout.split()[2]
            owner.post(f"/api/appliances/{device_id}/owner-keys",
                       json=authenticator.offer(device_id, code, "demo owner (software)").model_dump(mode="json")
                       ).raise_for_status()
            cameras = sorted(owner.get("/api/cameras").raise_for_status().json(), key=lambda c: c["name"])
            for camera in cameras:
                document = owner.post(f"/api/cameras/{camera['id']}/consent/document", json={
                    "sharing": "always", "modes": ["live", "playback"]}).raise_for_status().json()["document"]
                owner.put(f"/api/cameras/{camera['id']}/consent",
                          json=authenticator.sign(document).model_dump(mode="json")).raise_for_status()
        print(f"demo: the owner shares {', '.join(c['name'] for c in cameras)} (live and recorded, signed with the "
              "demo owner's software passkey)", flush=True)

    def cameras_line(self) -> str:
        with self.client("analyst") as analyst:
            cameras = analyst.get("/api/cameras", params={"lat": DEMO_SITE[0], "lon": DEMO_SITE[1],
                                                          "radius_m": 200}).json()
        return ", ".join(f"{c['name']} {c['status']} ({c['distance_m']:.0f} m)" for c in cameras)

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
        self.media.stop()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sim.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=REPO / ".demo", help="where config, logs and recordings go")
    parser.add_argument("--cameras", type=int, choices=range(1, 5), default=4, metavar="1-4")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long (default: until Ctrl-C)")
    parser.add_argument("--max-gb", type=float, default=2.0, help="disk budget for the demo's recordings")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    root: Path = args.dir.resolve()
    root.mkdir(parents=True, exist_ok=True)
    stopping = False

    def request_stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    print("demo: starting the hub and its MQTT broker", flush=True)
    hub = DemoHub(root)
    hub.start()
    print(f"demo: starting {args.cameras} simulated cameras (the first run encodes their clips, ~10 s each)", flush=True)
    cameras = CameraProcess(count=args.cameras, cache_dir=REPO / ".cache" / "sim", log_path=root / "cameras.log")
    agent: subprocess.Popen | None = None
    try:
        cameras.start()
        code = hub.seed()
        identity = root / "data" / "identity"
        if identity.exists():
            shutil.rmtree(identity)  # enrolled with the previous run's hub
        subprocess.run([sys.executable, "-m", "provisioning.cli", "enroll", "--hub", hub.url, "--code", code,
                        "--identity", str(identity), "--name", "demo-appliance"], cwd=REPO, check=True)
        config = root / "edge.toml"
        config.write_text(appliance_config(root / "data", cameras.urls, max_bytes=int(args.max_gb * 1e9),
                                           ice_address=hub.media.address))
        with open(root / "edge.log", "ab") as log:
            agent = subprocess.Popen(
                [sys.executable, "-m", "edge.cli", "run", "--config", str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        for url in cameras.urls:
            print(f"demo: camera {url}")
        print(f"demo: hub {hub.url}  (API docs: {hub.url}/docs; log: {root / 'hub.log'})")
        print(f"demo: SFU (Janus) {hub.media.janus_files.api_url}, TURN (coturn) {hub.media.turn_url}  "
              f"(logs: {root / 'sfu'})")
        print(f"demo: analyst page {hub.url}/  (the console: sign in as 'analyst', pick a camera on the map or "
              "in the list, Stream now)")
        pairing = subprocess.run([sys.executable, "-m", "edge.cli", "owners", "pair", "--config", str(config)],
                                 cwd=REPO, check=True, capture_output=True, text=True).stdout.split()[2]
        print(f"demo: owner console http://localhost:{hub.api_port}/owner  (sign in as 'owner'; add a passkey "
              f"to the box with the code {pairing} — valid 15 minutes, or run `canvass-edge owners pair` again — "
              "then change what police may see; the demo's simulated owner shares live and recorded video of each "
              "camera at start, signed with a software passkey of its own)")
        print(f"demo: owner's access log and alerts {hub.url}/owner/activity  (sign in as 'owner')")
        print(f"demo: auditor's console {hub.url}/auditor  (sign in as 'auditor'); public transparency report "
              f"{hub.url}/transparency  (no sign-in)")
        for user, password in hub.users.items():
            print(f"demo: sign in as {user!r} with password {password!r} (development only, new each run)")
        print(f"demo: appliance recording to {root / 'data' / 'recordings'} (log: {root / 'edge.log'})")
        print(f"demo: status:   .venv/bin/canvass-edge status --config {config}")
        print(f"demo: segments: .venv/bin/canvass-edge segments --config {config} --camera cam1")
        print("demo: Ctrl-C stops the appliance (open segments are closed and hashed) and the cameras", flush=True)
        started = time.monotonic()
        next_status = started + 5
        placed = False
        while not stopping and agent.poll() is None:
            if args.seconds is not None and time.monotonic() - started >= args.seconds:
                break
            if not placed:
                placed = hub.place_cameras(args.cameras)
                if placed:
                    hub.share_as_the_demo_owner(config)
            if time.monotonic() >= next_status:
                subprocess.run([sys.executable, "-m", "edge.cli", "status", "--config", str(config)], check=False)
                print(f"demo: the hub's map near the bakery: {hub.cameras_line() or 'no cameras yet'}", flush=True)
                next_status += STATUS_EVERY_S
            time.sleep(0.2)
        if agent.poll() is not None:
            print(f"demo: the appliance exited with {agent.returncode}; see {root / 'edge.log'}", file=sys.stderr)
            return 1
        agent.terminate()
        code = agent.wait(30)
        subprocess.run([sys.executable, "-m", "edge.cli", "status", "--config", str(config)], check=False)
        print(f"demo: stopped (appliance exit code {code}); recordings are in {root / 'data' / 'recordings'}")
        return code
    finally:
        if agent is not None and agent.poll() is None:
            agent.kill()
        hub.stop()
        cameras.close()


if __name__ == "__main__":
    sys.exit(main())
