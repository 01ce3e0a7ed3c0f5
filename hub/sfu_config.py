"""`canvass-hub sfu-config`: a production Janus and coturn configuration, and the hub's settings to match.

It writes, under the hub's data directory unless told otherwise:
- `sfu/janus/` (Janus's configuration, `hub.sfu_files`): VideoRoom + HTTP transport only, token auth, its API
  and admin API on `--bind` (loopback by default: the hub's alone), media on `--ice-interface`;
- `sfu/turnserver.conf` (coturn), with `--turn-listen` (omit it for no TURN): shared-secret credentials only,
  no loopback or multicast peers;
- `sfu/hub-sfu.env`: the `CANVASS_HUB_*` settings the hub needs for both (a systemd `EnvironmentFile=`).

The secrets (Janus's admin secret, the VideoRoom admin key, coturn's shared secret) are made once and kept in
`keys/sfu-secrets.json` (0600): running the command again (a new address, new ports) keeps the hub, Janus and
coturn in step; `--rotate` makes new ones (restart all three after).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from hub.sfu_files import JanusFiles, janus_command, write_coturn_config, write_janus_files

SECRETS_FILE = "sfu-secrets.json"
SECRET_NAMES = ("janus_admin_secret", "janus_room_admin_key", "turn_secret")


class SfuConfigError(ValueError):
    """A choice the command cannot write a working configuration for (said in plain words)."""


@dataclass(frozen=True)
class SfuConfig:
    janus: JanusFiles
    coturn: Path | None
    env: Path
    settings: dict[str, str]


def port_range(text: str) -> tuple[int, int]:
    """`LOW-HIGH`, both ports, LOW < HIGH (argparse type)."""
    try:
        low, high = (int(part) for part in text.split("-", 1))
    except ValueError:
        raise argparse.ArgumentTypeError("a port range is LOW-HIGH, e.g. 20000-40000") from None
    if not 1024 <= low < high <= 65535:
        raise argparse.ArgumentTypeError("a port range must lie in 1024-65535 with LOW below HIGH")
    return low, high


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ice-interface", required=True,
                        help="the interface name or address Janus's media use (one the boxes and browsers reach)")
    parser.add_argument("--bind", default="127.0.0.1", help="address of Janus's API and admin API (the hub's only)")
    parser.add_argument("--api-port", type=int, default=8088)
    parser.add_argument("--admin-port", type=int, default=7088)
    parser.add_argument("--rtp-ports", type=port_range, default=(20000, 40000))
    parser.add_argument("--turn-listen", default=None, help="address coturn listens on (omit for no TURN)")
    parser.add_argument("--turn-relay", default=None, help="address coturn relays from (default: --turn-listen)")
    parser.add_argument("--turn-host", default=None,
                        help="name or address boxes and browsers reach coturn at (default: --turn-listen)")
    parser.add_argument("--turn-port", type=int, default=3478)
    parser.add_argument("--turn-relay-ports", type=port_range, default=(49152, 65535))
    parser.add_argument("--realm", default="canvass")
    parser.add_argument("--janus-dir", type=Path, default=None, help="default: DATA/sfu/janus")
    parser.add_argument("--rotate", action="store_true", help="make new secrets (restart hub, Janus and coturn)")


def _address(text: str, what: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise SfuConfigError(f"{what} must be an IP address") from None


def _secrets(keys_dir: Path, rotate: bool) -> dict[str, str]:
    path = keys_dir / SECRETS_FILE
    if path.exists() and not rotate:
        try:
            kept = json.loads(path.read_text())
        except ValueError:
            raise SfuConfigError(f"{path} is not readable JSON: fix or remove it (or --rotate)") from None
        if isinstance(kept, dict) and all(isinstance(kept.get(n), str) and len(kept[n]) >= 16 for n in SECRET_NAMES):
            return {n: kept[n] for n in SECRET_NAMES}
        raise SfuConfigError(f"{path} lacks a secret: fix or remove it (or --rotate)")
    made = {name: secrets.token_urlsafe(32) for name in SECRET_NAMES}
    keys_dir.mkdir(parents=True, exist_ok=True)
    _write_private(path, json.dumps(made, indent=1) + "\n")
    return made


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)


def _port(value: int, what: str) -> int:
    if not 1 <= value <= 65535:
        raise SfuConfigError(f"{what} must be a port (1-65535)")
    return value


def write_sfu_config(data_dir: Path, keys_dir: Path, args: argparse.Namespace) -> SfuConfig:
    bind = _address(args.bind, "--bind")
    api_port, admin_port = _port(args.api_port, "--api-port"), _port(args.admin_port, "--admin-port")
    if api_port == admin_port:
        raise SfuConfigError("--api-port and --admin-port must differ")
    if not args.ice_interface.strip() or len(args.ice_interface) > 200 or "," in args.ice_interface:
        raise SfuConfigError("--ice-interface is one interface name or address")
    keys = _secrets(keys_dir, args.rotate)
    folder = data_dir / "sfu"
    janus = write_janus_files(args.janus_dir or folder / "janus", bind=bind, api_port=api_port,
                              admin_port=admin_port, admin_secret=keys["janus_admin_secret"],
                              room_admin_key=keys["janus_room_admin_key"], rtp_ports=args.rtp_ports,
                              ice_interfaces=args.ice_interface.strip())
    settings = {"CANVASS_HUB_STREAM_MEDIA": "sfu", "CANVASS_HUB_JANUS_URL": janus.api_url,
                "CANVASS_HUB_JANUS_ADMIN_URL": janus.admin_url,
                "CANVASS_HUB_JANUS_ADMIN_SECRET": keys["janus_admin_secret"],
                "CANVASS_HUB_JANUS_ROOM_ADMIN_KEY": keys["janus_room_admin_key"]}
    coturn = None
    if args.turn_listen:
        listen = _address(args.turn_listen, "--turn-listen")
        relay = _address(args.turn_relay or listen, "--turn-relay")
        host = args.turn_host or listen
        if not host.replace(".", "").replace("-", "").replace(":", "").isalnum() or len(host) > 253:
            raise SfuConfigError("--turn-host is a host name or an IP address")
        port = _port(args.turn_port, "--turn-port")
        coturn = write_coturn_config(folder / "turnserver.conf", listen=listen, relay=relay, port=port,
                                     secret=keys["turn_secret"], realm=args.realm, relay_ports=args.turn_relay_ports)
        shown = f"[{host}]" if ":" in host else host
        settings |= {"CANVASS_HUB_TURN_URLS": json.dumps([f"turn:{shown}:{port}?transport=udp"]),
                     "CANVASS_HUB_TURN_SECRET": keys["turn_secret"]}
    env = folder / "hub-sfu.env"
    _write_private(env, "# Written by `canvass-hub sfu-config`: the hub's settings for its Janus and coturn.\n"
                   + "".join(f"{name}={_env_value(value)}\n" for name, value in settings.items()))
    return SfuConfig(janus, coturn, env, settings)


def _env_value(value: str) -> str:
    """A value for a systemd EnvironmentFile and a shell `set -a; . FILE`: single-quoted (no secret has a quote)."""
    if "'" in value or "\n" in value:
        raise SfuConfigError("a setting holds a quote or a new line")
    return f"'{value}'"


def describe(config: SfuConfig) -> str:
    lines = [f"wrote Janus's configuration in {config.janus.folder}",
             "run it with: " + " ".join(janus_command(config.janus))]
    if config.coturn is not None:
        lines += [f"wrote coturn's configuration {config.coturn}", f"run it with: turnserver -c {config.coturn}"]
    else:
        lines.append("no TURN server (give --turn-listen for one)")
    lines.append(f"wrote the hub's settings for them to {config.env} (0600): load it with systemd's "
                 f"EnvironmentFile= (or `set -a; . {config.env}`) before `canvass-hub run`")
    return "\n".join(lines)
