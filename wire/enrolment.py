"""Formats shared by the enrolment client (provisioning/) and the hub."""

from __future__ import annotations

import hashlib


def rotation_message(csr_pem: str) -> bytes:
    """What an appliance's current key signs to get a certificate for a new key: the new CSR's SHA-256."""
    return b"canvass-rotate-v1\n" + hashlib.sha256(csr_pem.encode()).digest()
