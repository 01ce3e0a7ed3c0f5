"""`canvass-hub sfu-config`: the production Janus and coturn files and the hub's settings for them, written once,
started for real (Debian's janus and turnserver) and used by a hub configured from the written settings only."""

from __future__ import annotations

import json
import shlex
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from hub.settings import HubSettings
from hub.stream_sfu import VIDEOROOM, SfuMedia
from hub.turn import turn_credentials
from sim.media_servers import JANUS, TURNSERVER, machine_address, stop_process
from sim.process import free_port
from tests.sfu_support import relay_candidates

REPO = Path(__file__).resolve().parents[1]


def canvass_hub(data: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hub.cli", "--data", str(data), *args], capture_output=True,
                          text=True, cwd=REPO, timeout=120)


def read_env(path: Path) -> dict[str, str]:
    """The settings file as systemd's EnvironmentFile= and a shell's `set -a; . FILE` read it."""
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))
    return {name: shlex.split(value)[0] for name, value in pairs}


def rooms(media: SfuMedia, handle: int) -> list[int]:
    """Every room in Janus, private ones too (listed with the room admin key)."""
    listed = media.janus.request(handle, {"request": "list", "admin_key": media.access.room_admin_key}).data
    return [room["room"] for room in listed["list"]]


def started(command: list[str], log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(command, stdout=out, stderr=out)


def test_sfu_config_writes_janus_coturn_and_the_hubs_settings_that_work_together(tmp_path: Path):
    data = tmp_path / "hub"
    assert canvass_hub(data, "init").returncode == 0
    api_port, admin_port, turn_port = free_port(), free_port(), free_port()
    made = canvass_hub(data, "sfu-config", "--ice-interface", machine_address(), "--api-port", str(api_port),
                       "--admin-port", str(admin_port), "--rtp-ports", "31000-31099", "--turn-listen", "127.0.0.1",
                       "--turn-relay", machine_address(), "--turn-port", str(turn_port),
                       "--turn-relay-ports", "32000-32099")
    assert made.returncode == 0, made.stderr
    env_path = data / "sfu" / "hub-sfu.env"
    env = read_env(env_path)
    for path in (env_path, data / "sfu" / "turnserver.conf", data / "keys" / "sfu-secrets.json",
                 *(data / "sfu" / "janus").glob("*.jcfg")):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert all(secret not in made.stdout for secret in (env["CANVASS_HUB_JANUS_ADMIN_SECRET"],
                                                         env["CANVASS_HUB_TURN_SECRET"]))
    assert "turnserver -c" in made.stdout and "janus -F" in made.stdout

    # Run again (a new RTP range): the same secrets, so a running hub, Janus and coturn stay in step.
    again = canvass_hub(data, "sfu-config", "--ice-interface", machine_address(), "--api-port", str(api_port),
                        "--admin-port", str(admin_port), "--rtp-ports", "31000-31199", "--turn-listen", "127.0.0.1",
                        "--turn-relay", machine_address(), "--turn-port", str(turn_port),
                        "--turn-relay-ports", "32000-32099")
    assert again.returncode == 0 and read_env(env_path) == env

    janus = started([JANUS, "-F", str(data / "sfu" / "janus"), "-C", str(data / "sfu" / "janus" / "janus.jcfg"),
                     "-o"], tmp_path / "janus.log")
    coturn = started([TURNSERVER, "-c", str(data / "sfu" / "turnserver.conf")], tmp_path / "coturn.log")
    try:
        api = env["CANVASS_HUB_JANUS_URL"]
        deadline = time.monotonic() + 15
        while True:  # Janus up: it answers `info` (no token needed for that)
            try:
                if httpx.post(api, json={"janus": "info", "transaction": "t"}, timeout=1).json()["janus"]:
                    break
            except (httpx.HTTPError, ValueError, KeyError):
                assert time.monotonic() < deadline and janus.poll() is None, (tmp_path / "janus.log").read_text()
                time.sleep(0.1)
        # Nobody but the hub: without a token Janus refuses; the hub, from the written settings alone, gets in.
        refused = httpx.post(api, json={"janus": "create", "transaction": "t"}).json()
        assert refused["janus"] == "error" and refused["error"]["code"] == 403
        settings = {name.removeprefix("CANVASS_HUB_").lower(): value for name, value in env.items()}
        settings["turn_urls"] = json.loads(settings["turn_urls"])
        hub_settings = HubSettings(data_dir=tmp_path / "other", secret_key="k" * 32, **settings)
        media = SfuMedia.connect(hub_settings)
        try:
            assert media.janus.alive
            # The hub crashes with a session's room still in Janus (made as `publish` makes them) ...
            left = 4711
            handle = media.janus.attach(VIDEOROOM)
            media.janus.request(handle, {"request": "create", "room": left, "admin_key": settings["janus_room_admin_key"],
                                         "secret": media.room_secret(left), "is_private": True,
                                         "description": "canvass 00000000-0000-0000-0000-000000000000"})
            assert left in rooms(media, handle)
        finally:
            media.close()
        # ... and its next run destroys it before making rooms of its own.
        media = SfuMedia.connect(hub_settings)
        try:
            handle = media.janus.attach(VIDEOROOM)
            assert left not in rooms(media, handle)
            # Only once a run: when Janus drops the hub's session later, the next one keeps this run's rooms.
            mine = 4712
            media.janus.request(handle, {"request": "create", "room": mine, "admin_key": settings["janus_room_admin_key"],
                                         "secret": media.room_secret(mine), "is_private": True,
                                         "description": "canvass 00000000-0000-0000-0000-000000000001"})
            media.janus.close()
            assert mine in rooms(media, media.janus.attach(VIDEOROOM))
        finally:
            media.close()
        # coturn relays for credentials made with the written secret, and for no others.
        [turn_url] = settings["turn_urls"]
        good = turn_credentials(settings["turn_secret"], "box-config-test", now=time.time(), ttl_s=600)
        assert any("typ relay" in c for c in relay_candidates(turn_url, good.username, good.credential))
        bad = turn_credentials("not-the-secret-0123456789", "box-config-test", now=time.time(), ttl_s=600)
        assert relay_candidates(turn_url, bad.username, bad.credential) == []
    finally:
        stop_process(coturn)
        stop_process(janus)

    # A rotation makes new secrets (all three restart after it).
    rotated = canvass_hub(data, "sfu-config", "--ice-interface", "eth0", "--rotate")
    assert rotated.returncode == 0
    assert read_env(env_path)["CANVASS_HUB_JANUS_ADMIN_SECRET"] != env["CANVASS_HUB_JANUS_ADMIN_SECRET"]


@pytest.mark.parametrize("args, said", [
    (["--ice-interface", "eth0", "--bind", "<script>alert(1)</script>"], "--bind must be an IP address"),
    (["--ice-interface", "eth0", "--turn-listen", "not-an-address"], "--turn-listen must be an IP address"),
    (["--ice-interface", "eth0,eth1"], "--ice-interface is one interface name or address"),
    (["--ice-interface", "eth0", "--api-port", "7088"], "--api-port and --admin-port must differ"),
    (["--ice-interface", "eth0", "--rtp-ports", "40000-30000"], "port range"),
    (["--ice-interface", "eth0", "--turn-listen", "127.0.0.1", "--turn-host", "a b;rm -rf"], "--turn-host is a"),
])
def test_sfu_config_refuses_what_it_cannot_write_a_working_configuration_for(tmp_path: Path, args, said):
    data = tmp_path / "hub"
    assert canvass_hub(data, "init").returncode == 0
    refused = canvass_hub(data, "sfu-config", *args)
    assert refused.returncode == 2 and said in refused.stderr
    assert "<script>" not in refused.stderr and "rm -rf" not in refused.stderr
    assert not (data / "sfu" / "hub-sfu.env").exists()
