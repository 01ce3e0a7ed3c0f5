"""The court bundle: one zip per case with what proves its footage, for the hub that writes it and the
offline verifier (`canvass-audit verify-bundle`).

    README.txt                          how to verify, in plain words
    bundle.json                         `BundleIndex`: the case, the audit log's origin and public key, the clips
    certificates/hub-ca.pem             the hub's CA certificate (it issued every box certificate)
    certificates/<device>-<hash>.pem    each box's certificate, as in its manifests
    clips/request-<id>/clip.mp4         each verified clip, exactly as its box uploaded it
    clips/request-<id>/manifest.json    its manifest, signed by the box, exactly as the box wrote it
    audit/entries.jsonl                 `BundleEntry` lines: the audit entries of the case's requests,
                                        decisions, uploads, downloads, with their inclusion proofs
    audit/checkpoint.txt                the signed checkpoint (C2SP signed note) every proof leads to
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt, StrictStr

BUNDLE_FORMAT = "canvass-court-bundle/1"
INDEX = "bundle.json"
README = "README.txt"
HUB_CA = "certificates/hub-ca.pem"
ENTRIES = "audit/entries.jsonl"
CHECKPOINT = "audit/checkpoint.txt"


def clip_paths(request_id: int) -> tuple[str, str]:
    """Where request `request_id`'s clip and manifest are in the bundle."""
    return f"clips/request-{request_id}/clip.mp4", f"clips/request-{request_id}/manifest.json"


def certificate_path(device_id: str, certificate_pem: str) -> str:
    """Where a box certificate is in the bundle (named by device and fingerprint: a box that rotated its key
    has two)."""
    return f"certificates/{device_id}-{hashlib.sha256(certificate_pem.encode()).hexdigest()[:12]}.pem"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BundleClip(_Strict):
    """One clip in the bundle: the request it answers, where its files are, its SHA-256 and size."""

    clip_id: StrictInt
    request_id: StrictInt
    camera: StrictStr
    device_id: StrictStr
    clip: StrictStr
    manifest: StrictStr
    certificate: StrictStr
    sha256: Annotated[StrictStr, Field(pattern=r"^[0-9a-f]{64}$")]
    bytes: Annotated[StrictInt, Field(ge=0)]


class BundleEntry(_Strict):
    """An audit entry (its canonical text, as hashed into the log) and its inclusion proof (base64 hashes,
    RFC 6962 order) in the tree the bundle's checkpoint signs."""

    index: Annotated[StrictInt, Field(ge=0)]
    entry: StrictStr
    proof: Annotated[list[StrictStr], Field(max_length=128)]


class BundleIndex(_Strict):
    format: Literal["canvass-court-bundle/1"] = BUNDLE_FORMAT
    case_number: StrictStr
    public_reference: StrictStr
    made_at: AwareDatetime
    made_by: StrictStr
    audit_origin: StrictStr = Field(description="The audit log's name in its checkpoints.")
    audit_key_name: StrictStr
    audit_public_key: StrictStr = Field(description="The hub's audit key (base64 raw Ed25519): compare it with "
                                                    "the one the city publishes.")
    clips: list[BundleClip]
    left_out: Annotated[list[StrictStr], Field(description="Uploads of the case not in the bundle, and why.")] = []
