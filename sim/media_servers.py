"""Janus (the SFU) and coturn (TURN) on loopback, for the demo and the tests: ports chosen here, configuration
generated with fresh secrets in a folder of their own (`hub.sfu_files`), processes stopped in reverse.

`hub_settings()` is what a hub needs to use them (the `janus_*` and `turn_*` settings).
"""

from __future__ import annotations

import random
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx

from hub.sfu_files import janus_command, write_coturn_config, write_janus_files
from sim.process import free_port

JANUS = shutil.which("janus") or "/usr/bin/janus"
TURNSERVER = shutil.which("turnserver") or "/usr/bin/turnserver"
START_TIMEOUT_S = 15


def machine_address() -> str:
    """The machine's own IPv4 address (the one its default route would use; no packet is sent). Janus never
    gathers ICE candidates on a loopback interface (janus-gateway src/ice.c skips IFF_LOOPBACK), so on one machine
    its media sockets use this address; the packets between local processes still never leave the machine."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: routing only, nothing is sent
            return probe.getsockname()[0]
        except OSError:
            return "127.0.0.1"


def _port_block(size: int) -> tuple[int, int]:
    """A block of UDP ports for media, at random in 20000–59999 (several runs may share the machine)."""
    start = random.randrange(20_000, 60_000 - size, 2)
    return start, start + size - 1


def stop_process(proc: subprocess.Popen | None) -> None:
    """Terminate `proc` (a media server), killing it if it does not stop within 10 s."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class MediaServers:
    """One Janus and one coturn on 127.0.0.1."""

    def __init__(self, folder: Path, *, turn: bool = True) -> None:
        self.folder = folder
        self.with_turn = turn
        self.address = machine_address()
        self.admin_secret = secrets.token_urlsafe(24)
        self.room_admin_key = secrets.token_urlsafe(24)
        self.turn_secret = secrets.token_urlsafe(24)
        self.janus_files = write_janus_files(
            folder / "janus", bind="127.0.0.1", api_port=free_port(), admin_port=free_port(),
            admin_secret=self.admin_secret, room_admin_key=self.room_admin_key, rtp_ports=_port_block(200),
            ice_interfaces=self.address)
        self.turn_port = free_port()
        self.turn_url = f"turn:127.0.0.1:{self.turn_port}?transport=udp"
        # Browsers reach coturn on loopback; it relays from the machine's address, where Janus is (Janus drops
        # loopback peers as it skips loopback interfaces); peers on loopback are allowed for boxes pinned there.
        self.turn_config = write_coturn_config(folder / "turnserver.conf", listen="127.0.0.1", relay=self.address,
                                               port=self.turn_port, secret=self.turn_secret, realm="canvass.test",
                                               relay_ports=_port_block(200), allow_loopback_peers=True, verbose=True)
        self.janus: subprocess.Popen | None = None
        self.coturn: subprocess.Popen | None = None

    def start(self) -> "MediaServers":
        with open(self.folder / "janus.log", "ab") as log:
            self.janus = subprocess.Popen(janus_command(self.janus_files, JANUS), stdout=log, stderr=log)
        if self.with_turn:
            with open(self.folder / "coturn.log", "ab") as log:
                self.coturn = subprocess.Popen([TURNSERVER, "-c", str(self.turn_config)], stdout=log, stderr=log)
        self._wait_for_janus()
        return self

    def _wait_for_janus(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.janus.poll() is not None:
                raise RuntimeError(f"janus exited: {self.log('janus')[-2000:]}")
            try:
                if httpx.post(self.janus_files.api_url, json={"janus": "info", "transaction": "up"},
                              timeout=1).json().get("janus") == "server_info":
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"janus did not answer within {START_TIMEOUT_S} s: {self.log('janus')[-2000:]}")

    def hub_settings(self) -> dict:
        settings = {"stream_media": "sfu", "janus_url": self.janus_files.api_url,
                    "janus_admin_url": self.janus_files.admin_url, "janus_admin_secret": self.admin_secret,
                    "janus_room_admin_key": self.room_admin_key}
        if self.with_turn:
            settings |= {"turn_urls": [self.turn_url], "turn_secret": self.turn_secret}
        return settings

    def log(self, name: str) -> str:
        path = self.folder / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        stop_process(self.coturn)
        stop_process(self.janus)
        self.coturn = self.janus = None
