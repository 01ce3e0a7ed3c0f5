"""Signed checkpoints of the audit log: C2SP tlog-checkpoint text in a C2SP signed note (Ed25519).

    <origin>\\n<tree size>\\n<base64 root hash>\\n      ← the checkpoint body (what is signed)
    \\n
    — <key name> <base64(key id ‖ signature)>\\n      ← one line per signature

The key id is the first four bytes of SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ public
key), 0x01 being the Ed25519 signature type. Appliances (witnesses) and the
offline verifier check checkpoints with the hub's public key alone.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

EM_DASH = "\u2014"
ED25519 = b"\x01"


class CheckpointError(ValueError):
    pass


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def body(self) -> bytes:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n".encode()


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(name: str, key: Ed25519PublicKey) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ED25519 + raw_public(key)).digest()[:4]


def sign(checkpoint: Checkpoint, key: Ed25519PrivateKey, name: str) -> str:
    if not name or any(c.isspace() for c in name) or "+" in name:
        raise CheckpointError(f"bad key name {name!r}")
    body = checkpoint.body()
    signature = key_id(name, key.public_key()) + key.sign(body)
    return body.decode() + f"\n{EM_DASH} {name} {base64.b64encode(signature).decode()}\n"


def parse_body(text: str) -> Checkpoint:
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise CheckpointError("a checkpoint body is origin, size and root hash, one per line")
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    if not origin:
        raise CheckpointError("empty origin")
    if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
        raise CheckpointError(f"bad tree size {size_text!r}")
    try:
        root = base64.b64decode(root_text, validate=True)
    except ValueError:
        raise CheckpointError("root hash is not base64") from None
    if len(root) != 32:
        raise CheckpointError("root hash is not 32 bytes")
    return Checkpoint(origin, int(size_text), root)


def verify(note: str, key: Ed25519PublicKey, name: str, origin: str | None = None) -> Checkpoint:
    """The checkpoint in `note` if `key` (called `name`) signed it; CheckpointError saying why otherwise."""
    body, sep, signatures = note.partition("\n\n")
    if not sep:
        raise CheckpointError("no signature block")
    body += "\n"
    checkpoint = parse_body(body)
    if origin is not None and checkpoint.origin != origin:
        raise CheckpointError(f"checkpoint is for {checkpoint.origin!r}, not {origin!r}")
    wanted = key_id(name, key)
    for line in signatures.split("\n"):
        if not line:
            continue
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != EM_DASH or parts[1] != name:
            continue
        try:
            blob = base64.b64decode(parts[2], validate=True)
        except ValueError:
            continue
        if blob[:4] != wanted:
            continue
        try:
            key.verify(blob[4:], body.encode())
            return checkpoint
        except InvalidSignature:
            raise CheckpointError("checkpoint signature does not verify") from None
    raise CheckpointError(f"no signature by {name!r} with this key")
