"""Enrolment and key rotation over HTTP: what the installer (provisioning/) sends and the hub answers.

The appliance makes its key and CSR itself; `EnrollIn` trades a one-time
claim code for a certificate, `RotateIn` proves possession of the current key
(a signature over `rotation_message`) for a certificate on a new one. Both
are answered with `EnrollOut`: the identity the box keeps.
"""

from __future__ import annotations

import hashlib
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from wire.topics import DEVICE_ID_PATTERN

Pem = Annotated[str, Field(min_length=1, max_length=16_384)]


def rotation_message(csr_pem: str) -> bytes:
    """What an appliance's current key signs to get a certificate for a new key: the new CSR's SHA-256."""
    return b"canvass-rotate-v1\n" + hashlib.sha256(csr_pem.encode()).digest()


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EnrollIn(_In):
    code: Annotated[str, Field(min_length=1, max_length=64)]
    csr_pem: Pem
    name: Annotated[str, Field(max_length=100)] = ""


class RotateIn(_In):
    device_id: Annotated[str, Field(pattern=f"^{DEVICE_ID_PATTERN}$")]
    csr_pem: Pem
    proof_b64: Annotated[str, Field(min_length=1, max_length=400, description="base64 ECDSA signature by the "
                                    "current key over wire.enrolment.rotation_message(csr_pem)")]


class BrokerOut(BaseModel):
    """Where the appliance's MQTT link connects."""

    host: Annotated[str, Field(min_length=1, max_length=253)]
    port: Annotated[int, Field(ge=1, le=65535)]


class EnrollOut(BaseModel):
    """The appliance's identity as the hub issued it: certificate, CA chain, broker, and the hub's public keys."""

    device_id: Annotated[str, Field(pattern=f"^{DEVICE_ID_PATTERN}$")]
    certificate_pem: Pem
    ca_chain_pem: Pem
    broker: BrokerOut
    grant_public_key_pem: Pem
    audit_public_key_pem: Annotated[str, Field(max_length=16_384)] = ""
    audit_origin: Annotated[str, Field(max_length=200)] = ""
