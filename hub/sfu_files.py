"""Configuration files for the hub's media servers: Janus (the SFU) and coturn (TURN), written from settings.

`canvass-hub` never starts them itself; a deployment runs them as services, the demo and the tests start them
with the files written here (`janus -F DIR -C DIR/janus.jcfg`, `turnserver -c FILE`). What the files enforce:

- Janus loads only the VideoRoom plugin and the HTTP transport, and listens on `bind` only (loopback on one
  machine; the hub's private network at scale). Every Janus API request needs a token (`token_auth`) that only
  the hub can add, through the admin API, which needs `admin_secret`; creating a room needs the VideoRoom
  `admin_key` too. So nobody but the hub can create, join or watch a room, even with the API port in reach.
- coturn takes only time-limited credentials made with its shared secret (the TURN REST API convention,
  `hub.turn`); `allow_loopback_peers` is for one-machine set-ups only (the tests, the demo): in production a TURN
  server must not relay to the loopback or multicast addresses of its own host.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

JANUS_LIB = Path("/usr/lib/x86_64-linux-gnu/janus")
VIDEOROOM = "libjanus_videoroom.so"
HTTP_TRANSPORT = "libjanus_http.so"


@dataclass(frozen=True)
class JanusFiles:
    """Where one Janus instance is configured and what the hub needs to talk to it."""

    folder: Path
    config: Path
    api_url: str
    admin_url: str


def _quoted(value: str) -> str:
    return json.dumps(value)  # libconfig strings take JSON's escapes


def _write_private(path: Path, text: str) -> None:
    path.write_text(text)
    os.chmod(path, 0o600)


def _janus_core(folder: Path, admin_secret: str, rtp_ports: tuple[int, int], ice_interfaces: str) -> str:
    return f"""general: {{
  configs_folder = {_quoted(str(folder))}
  plugins_folder = {_quoted(str(folder / "plugins"))}
  transports_folder = {_quoted(str(folder / "transports"))}
  events_folder = {_quoted(str(folder / "events"))}
  loggers_folder = {_quoted(str(folder / "loggers"))}
  debug_level = 4
  server_name = "canvass-sfu"
  session_timeout = 60
  admin_secret = {_quoted(admin_secret)}
  token_auth = true
}}
media: {{
  rtp_port_range = "{rtp_ports[0]}-{rtp_ports[1]}"
}}
nat: {{
  ice_enforce_list = {_quoted(ice_interfaces)}
  nice_debug = false
}}
plugins: {{
}}
transports: {{
}}
events: {{
  broadcast = false
}}
"""


def write_janus_files(folder: Path, *, bind: str, api_port: int, admin_port: int, admin_secret: str,
                      room_admin_key: str, rtp_ports: tuple[int, int], ice_interfaces: str,
                      lib_dir: Path = JANUS_LIB) -> JanusFiles:
    """Janus's configuration in `folder` (created): VideoRoom + HTTP transport only, token auth, admin API on
    `admin_port`, RTP on `rtp_ports`, ICE candidates only from `ice_interfaces` (interface names or addresses;
    Janus never uses a loopback interface)."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    plugins, transports = folder / "plugins", folder / "transports"
    for sub, name in ((plugins, VIDEOROOM), (transports, HTTP_TRANSPORT)):
        sub.mkdir(exist_ok=True)
        link = sub / name
        if not link.exists():
            link.symlink_to(lib_dir / sub.name / name)
    (folder / "events").mkdir(exist_ok=True)
    (folder / "loggers").mkdir(exist_ok=True)
    config = folder / "janus.jcfg"
    _write_private(config, _janus_core(folder, admin_secret, rtp_ports, ice_interfaces))
    _write_private(folder / "janus.transport.http.jcfg", f"""general: {{
  json = "plain"
  base_path = "/janus"
  http = true
  port = {api_port}
  ip = {_quoted(bind)}
  https = false
}}
admin: {{
  admin_base_path = "/admin"
  admin_http = true
  admin_port = {admin_port}
  admin_ip = {_quoted(bind)}
  admin_https = false
}}
cors: {{
}}
""")
    _write_private(folder / "janus.plugin.videoroom.jcfg", f"""general: {{
  admin_key = {_quoted(room_admin_key)}
  lock_rtp_forward = true
}}
""")
    host = f"[{bind}]" if ":" in bind else bind
    return JanusFiles(folder, config, f"http://{host}:{api_port}/janus", f"http://{host}:{admin_port}/admin")


def janus_command(files: JanusFiles, janus: str = "janus") -> list[str]:
    return [janus, "-F", str(files.folder), "-C", str(files.config), "-o"]


def write_coturn_config(path: Path, *, listen: str, relay: str, port: int, secret: str, realm: str,
                        relay_ports: tuple[int, int], allow_loopback_peers: bool = False,
                        verbose: bool = False) -> Path:
    """coturn's configuration: clients on `listen`, relayed media from `relay`; TURN REST API credentials from
    `secret`, no TURN over TLS here, no CLI; multicast peers always refused, loopback peers only when asked
    (one-machine set-ups)."""
    lines = [f"listening-ip={listen}", f"relay-ip={relay}", f"listening-port={port}",
             f"min-port={relay_ports[0]}", f"max-port={relay_ports[1]}", "use-auth-secret",
             f"static-auth-secret={secret}", f"realm={realm}", "fingerprint", "no-tls", "no-dtls", "no-cli",
             "no-multicast-peers", "no-software-attribute", "stale-nonce=600", "simple-log", "log-file=stdout",
             f"pidfile={path.with_suffix('.pid')}", f"userdb={path.with_suffix('.db')}"]
    if allow_loopback_peers:
        lines.append("allow-loopback-peers")
    if verbose:
        lines.append("verbose")
    _write_private(path, "\n".join(lines) + "\n")
    return path
