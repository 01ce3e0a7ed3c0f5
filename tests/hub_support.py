"""Real servers for hub tests: mosquitto with the hub's generated config, the hub's API under uvicorn."""

from __future__ import annotations

import getpass
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import uvicorn

from hub.app import create_app
from hub.broker import BrokerFiles
from hub.cli import write_secret
from hub.services import HubServices
from sim.process import free_port, port_open
from tests.edge_support import wait_for

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


class Mosquitto:
    """A real mosquitto run from the hub's broker files; can be stopped and started again."""

    def __init__(self, files: BrokerFiles, port: int, log_path: Path):
        self.files = files
        self.port = port
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.files.config)], stdout=log, stderr=log)
        log.close()
        wait_for(lambda: port_open(self.port) or self.proc.poll() is not None, timeout=10, what="mosquitto up")
        if self.proc.poll() is not None:
            raise RuntimeError(f"mosquitto exited: {self.log_path.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


class HubServer:
    """The hub's FastAPI app served by uvicorn on loopback in a thread (the lifespan starts its MQTT link)."""

    def __init__(self, hub: HubServices):
        self.hub = hub
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = create_app(hub.settings, hub)
        # Open hit streams (server-sent events) never finish on their own: shutting down cuts them after 5 s.
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on",
                                timeout_graceful_shutdown=5)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)

    def start(self) -> None:
        self.thread.start()
        wait_for(lambda: self.server.started, timeout=20, what="hub API up")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def eventually(predicate, timeout: float = 20, what: str = "condition"):
    return wait_for(predicate, timeout=timeout, interval=0.05, what=what)



class ApiHelpers:
    """Sign-in and set-up steps through the hub's own API; subclasses say how to reach it."""

    hub: HubServices

    def client(self, token: str | None = None):
        raise NotImplementedError

    def add_user(self, username: str, password: str, role, business_id: int | None = None, unit: str = "") -> None:
        from hub.tables import User
        from hub.security import hash_password

        with self.hub.db.session() as session:
            session.add(User(username=username, password_hash=hash_password(password), role=role,
                             business_id=business_id, unit=unit))

    def login(self, username: str, password: str) -> str:
        with self.client() as c:
            r = c.post("/api/auth/login", json={"username": username, "password": password})
            r.raise_for_status()
            return r.json()["token"]

    def business_with_owner(self, name: str) -> tuple[int, str]:
        """A business and a signed-in owner's token."""
        from hub.tables import Role

        if not hasattr(self, "_admin"):
            self.add_user("admin", "admin-password-1", Role.ADMIN)
            self._admin = self.login("admin", "admin-password-1")
        with self.client(self._admin) as c:
            r = c.post("/api/businesses", json={"name": name})
            r.raise_for_status()
            business_id = r.json()["id"]
        owner = f"owner-{business_id}"
        self.add_user(owner, "owner-password-1", Role.OWNER, business_id)
        return business_id, self.login(owner, "owner-password-1")

    @property
    def admin_token(self) -> str:
        return self._admin

    def claim_code(self, owner_token: str, business_id: int, **body) -> str:
        with self.client(owner_token) as c:
            r = c.post(f"/api/businesses/{business_id}/claim-codes", json=body)
            r.raise_for_status()
            return r.json()["code"]


class HubStack(ApiHelpers):
    """A hub (API + MQTT link) with its own real mosquitto, all on loopback under `root`. Streams go through the
    hub's aiortc relay (the fallback, whose decoded frames tests can read in process) unless `settings` name the
    SFU (`tests.sfu_support`)."""

    def __init__(self, root: Path, database_url: str | None = None, **settings):
        from hub.settings import HubSettings

        settings.setdefault("stream_media", "relay")
        self.root = root
        port = free_port()
        write_secret(root / "hub")  # as `canvass-hub init` does, so the CLI finds it too
        self.settings = HubSettings(data_dir=root / "hub", broker_port=port, database_url=database_url,
                                    broker_pid_file=root / "hub" / "broker" / "mosquitto.pid",
                                    broker_user=getpass.getuser(), ice_host_addresses=["127.0.0.1"], **settings)
        self.hub = HubServices(self.settings)
        files = self.hub.write_broker_config()
        self.broker = Mosquitto(files, port, root / "mosquitto.log")
        self.server = HubServer(self.hub)

    def start(self) -> "HubStack":
        self.broker.start()
        self.server.start()
        eventually(lambda: self.hub.link is not None and self.hub.link.connected, what="hub connected to broker")
        return self

    def stop(self) -> None:
        self.server.stop()
        self.broker.stop()

    def client(self, token: str | None = None):
        import httpx

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.server.url, headers=headers, timeout=30)

    def enroll(self, code: str, identity: Path, name: str) -> subprocess.CompletedProcess:
        """`canvass-provision enroll` as an installer runs it, against this hub."""
        return subprocess.run([sys.executable, "-m", "provisioning.cli", "enroll", "--hub", self.server.url,
                               "--code", code, "--identity", str(identity), "--name", name],
                              capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1], timeout=60)

    def recording_camera(self, name: str = "cam1") -> int | None:
        """The hub's id for camera `name` once the hub has heard it is recording, else None."""
        from sqlalchemy import select

        from hub.tables import Camera

        with self.hub.db.session() as session:
            row = session.scalar(select(Camera).where(Camera.name == name))
            return row.id if row is not None and row.status.value == "recording" else None


class HubApi(ApiHelpers):
    """The hub's API in-process (Starlette's TestClient), no broker: for API and database tests."""

    def __init__(self, root: Path, database_url: str | None = None, **settings):
        from hub.app import create_app
        from hub.settings import HubSettings

        write_secret(root / "hub")  # as `canvass-hub init` does, so the CLI finds it too
        self.settings = HubSettings(data_dir=root / "hub", database_url=database_url, mqtt_enabled=False,
                                    **settings)
        self.hub = HubServices(self.settings)
        self.app = create_app(self.settings, self.hub)

    def client(self, token: str | None = None):
        from fastapi.testclient import TestClient

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return TestClient(self.app, headers=headers)

    def close(self) -> None:
        self.hub.close()


class ServedHubApi(ApiHelpers):
    """The hub's API under uvicorn on loopback, no broker: for what the in-process client cannot show, such as
    a response that streams for as long as the client stays (the live hit stream)."""

    def __init__(self, root: Path, database_url: str | None = None, **settings):
        from hub.settings import HubSettings

        write_secret(root / "hub")
        self.settings = HubSettings(data_dir=root / "hub", database_url=database_url, mqtt_enabled=False, **settings)
        self.hub = HubServices(self.settings)
        self.server = HubServer(self.hub)

    def start(self) -> "ServedHubApi":
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def client(self, token: str | None = None):
        import httpx

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.server.url, headers=headers, timeout=30)
