"""The mosquitto broker's files, written by the hub: config, ACL, CRL, certificates.

The broker runs a single TLS listener that requires a client certificate
signed by the hub's CA and takes the client's identity from its common name
(`use_identity_as_username`), which is also its MQTT client id whatever the
client asks for (`use_username_as_clientid`). The ACL names every active appliance
explicitly and confines it to its own topic tree, with only the directions
`wire.topics` allows; the hub's own identity reads and writes every device
tree. Revoked certificates go in the CRL. After changing the ACL or the CRL
the hub sends the broker SIGHUP, which makes mosquitto (2.0.11 measured here)
re-read both: a revoked appliance's next TLS handshake fails and its topics
are closed to it at once.
"""

from __future__ import annotations

import logging
import os
import signal
from dataclasses import dataclass
from pathlib import Path

from hub.ca import CertificateAuthority
from provisioning.keys import write_private
from wire import topics

log = logging.getLogger(__name__)

HUB_IDENTITY = "canvass-hub"


@dataclass(frozen=True)
class BrokerFiles:
    directory: Path

    @property
    def config(self) -> Path:
        return self.directory / "mosquitto.conf"

    @property
    def acl(self) -> Path:
        return self.directory / "acl"

    @property
    def crl(self) -> Path:
        return self.directory / "crl.pem"

    @property
    def ca(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def server_cert(self) -> Path:
        return self.directory / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.directory / "server.key"

    @property
    def hub_cert(self) -> Path:
        return self.directory / "hub-client.pem"

    @property
    def hub_key(self) -> Path:
        return self.directory / "hub-client.key"

    @property
    def pid_file(self) -> Path:
        return self.directory / "mosquitto.pid"


def acl_text(device_ids: list[str]) -> str:
    lines = ["# Written by canvass-hub; every change is followed by SIGHUP to the broker.", "",
             f"user {HUB_IDENTITY}", f"topic readwrite {topics.ROOT}/#", ""]
    for device_id in sorted(device_ids):
        lines.append(f"user {device_id}")
        for leaf in topics.DEVICE_PUBLISHES:
            lines.append(f"topic write {topics.device_topic(device_id, leaf)}")
        for leaf in topics.DEVICE_SUBSCRIBES:
            lines.append(f"topic read {topics.device_topic(device_id, leaf)}")
        lines.append("")
    return "\n".join(lines)


def config_text(files: BrokerFiles, host: str, port: int, *, user: str, log_dest: str = "stderr") -> str:
    return "\n".join([
        "# Written by `canvass-hub broker-config`.",
        f"user {user}",
        "per_listener_settings false",
        "allow_anonymous false",
        f"acl_file {files.acl}",
        "persistence true",
        f"persistence_location {files.directory}/",
        "autosave_interval 30",
        f"pid_file {files.pid_file}",
        f"log_dest {log_dest}",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "log_type information",
        "connection_messages true",
        "max_packet_size 1048576",
        # Small packets (requests, replies, acknowledgements) go out at once, not after the peer's delayed ACK.
        "set_tcp_nodelay true",
        "",
        f"listener {port} {host}",
        "protocol mqtt",
        f"cafile {files.ca}",
        f"certfile {files.server_cert}",
        f"keyfile {files.server_key}",
        f"crlfile {files.crl}",
        "require_certificate true",
        "use_identity_as_username true",
        # The client id is the certificate's name whatever the client asks for: one box cannot take over
        # (and so disconnect) another's session by connecting with its id.
        "use_username_as_clientid true",
        "tls_version tlsv1.2",
        "",
    ])


def write_all(files: BrokerFiles, ca: CertificateAuthority, host: str, port: int, hosts: list[str],
              device_ids: list[str], revoked_serials: list[int], *, user: str) -> None:
    """Write every broker file (a new server and hub-client certificate each time)."""
    files.directory.mkdir(parents=True, exist_ok=True)
    files.ca.write_bytes(ca.pem)
    server, server_key = ca.issue_server(hosts)
    files.server_cert.write_bytes(server.pem + ca.pem)
    write_private(files.server_key, server_key)
    hub, hub_key = ca.issue_client_with_new_key(HUB_IDENTITY)
    files.hub_cert.write_bytes(hub.pem)
    write_private(files.hub_key, hub_key)
    write_access(files, ca, device_ids, revoked_serials)
    files.config.write_text(config_text(files, host, port, user=user))


def write_access(files: BrokerFiles, ca: CertificateAuthority, device_ids: list[str],
                 revoked_serials: list[int]) -> None:
    """Rewrite the ACL and the CRL (atomically each)."""
    for path, data in ((files.acl, acl_text(device_ids).encode()), (files.crl, ca.crl_pem(revoked_serials))):
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)


def reload(pid_file: Path | None) -> bool:
    """SIGHUP the broker named by `pid_file`; False (and a warning) if there is none to signal."""
    if pid_file is None:
        return False
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, signal.SIGHUP)
        return True
    except (OSError, ValueError) as exc:
        log.warning("could not signal the broker to reload its ACL and CRL (%s): %s", pid_file, exc)
        return False

