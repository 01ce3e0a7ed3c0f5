"""An enrolled appliance's identity on disk: its key (0600), certificate, the hub's CA and link settings.

    <dir>/device.key        EC P-256 key generated on the box; never leaves it
    <dir>/device.pem        certificate issued by the hub's CA (CN = device id)
    <dir>/ca.pem            the hub's CA chain (verifies the broker)
    <dir>/enrollment.json   device id, hub URL, broker address, grant-signing public key
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from provisioning.keys import write_private


class IdentityError(ValueError):
    pass


@dataclass(frozen=True)
class Identity:
    directory: Path
    device_id: str
    hub_url: str
    broker_host: str
    broker_port: int
    grant_public_key_pem: str
    audit_public_key_pem: str = ""  # checkpoints of the hub's audit log are signed with this key
    audit_origin: str = ""

    @property
    def key(self) -> Path:
        return self.directory / "device.key"

    @property
    def cert(self) -> Path:
        return self.directory / "device.pem"

    @property
    def ca(self) -> Path:
        return self.directory / "ca.pem"

    @staticmethod
    def exists(directory: Path) -> bool:
        return (directory / "enrollment.json").exists()

    @classmethod
    def load(cls, directory: Path) -> "Identity":
        path = directory / "enrollment.json"
        try:
            data = json.loads(path.read_text())
            identity = cls(directory=directory, **data)
        except FileNotFoundError:
            raise IdentityError(f"not enrolled: {path} is missing (run `canvass-provision enroll`)") from None
        except (ValueError, TypeError) as exc:
            raise IdentityError(f"{path} is damaged: {exc}") from None
        for f in (identity.key, identity.cert, identity.ca):
            if not f.exists():
                raise IdentityError(f"identity incomplete: {f} is missing")
        if identity.key.stat().st_mode & 0o077:
            raise IdentityError(f"{identity.key} is readable by others; chmod 600 it")
        return identity

    def save(self, key_pem: bytes, cert_pem: bytes, ca_pem: bytes) -> None:
        """Write every file; the key last-but-one and the JSON last, so a half-written identity never loads."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.cert.write_bytes(cert_pem)
        self.ca.write_bytes(ca_pem)
        write_private(self.key, key_pem)
        data = {k: v for k, v in asdict(self).items() if k != "directory"}
        (self.directory / "enrollment.json").write_text(json.dumps(data, indent=2) + "\n")
