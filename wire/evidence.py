"""Evidence manifests: what a box says about a clip it cut, signed with the box's own key.

A manifest names the device and camera, the requested and the actual window,
the gaps inside it, every source segment with the SHA-256 the box recorded
when the segment closed, the clip's SHA-256 and size, the request, grant and
audit index it answers (none for an owner's own export), and the box's
certificate. The box signs the manifest's canonical JSON (sorted keys,
compact, UTF-8) with its enrolment key (EC P-256, ECDSA with SHA-256, DER,
base64). `verify_clip` checks all of it offline and names each mismatch.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Annotated, Literal
from uuid import UUID

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from wire.messages import CameraName
from wire.topics import DEVICE_ID_PATTERN

MAX_MANIFEST_BYTES = 4 * 1024 * 1024
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class ManifestError(ValueError):
    """A manifest that cannot be read at all (not JSON, not the format, too large)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceSegment(_Strict):
    """A recorded segment the clip was cut from, with the hash the box recorded when it closed it."""

    start: AwareDatetime
    end: AwareDatetime
    sha256: Sha256
    bytes: Annotated[int, Field(ge=0)]


class ManifestGap(_Strict):
    """A time inside the actual window that has no video, and why (camera offline, not recorded)."""

    start: AwareDatetime
    end: AwareDatetime
    reason: Annotated[str, Field(max_length=200)]


class Manifest(_Strict):
    kind: Literal["clip_manifest"] = "clip_manifest"
    version: Literal[1] = 1
    device_id: Annotated[str, Field(pattern=f"^{DEVICE_ID_PATTERN}$")]
    camera: CameraName
    requested_from: AwareDatetime
    requested_to: AwareDatetime
    actual_from: AwareDatetime
    actual_to: AwareDatetime
    gaps: Annotated[list[ManifestGap], Field(max_length=10_000)] = []
    segments: Annotated[list[SourceSegment], Field(min_length=1, max_length=10_000)]
    clip_sha256: Sha256
    clip_bytes: Annotated[int, Field(gt=0)]
    masked: bool = False  # the picture went through the owner's privacy masks (re-encoded)
    request_id: Annotated[int | None, Field(ge=1)] = None
    grant_id: UUID | None = None
    audit_index: Annotated[int | None, Field(ge=0)] = None
    created_at: AwareDatetime
    certificate_pem: Annotated[str, Field(max_length=8000, description="The box's certificate (PEM).")]

    @model_validator(mode="after")
    def _ordered(self) -> "Manifest":
        if self.requested_to <= self.requested_from or self.actual_to <= self.actual_from:
            raise ValueError("a window ends after it starts")
        return self


class SignedManifest(_Strict):
    """The manifest's canonical JSON text exactly as signed, and the signature over its UTF-8 bytes."""

    manifest: Annotated[str, Field(max_length=MAX_MANIFEST_BYTES)]
    signature: Annotated[str, Field(max_length=200)]

    def read(self) -> Manifest:
        try:
            return Manifest.model_validate_json(self.manifest)
        except ValidationError as exc:
            raise ManifestError(f"not a clip manifest: {_first_problem(exc)}") from None


def canonical(manifest: Manifest) -> str:
    return json.dumps(manifest.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sign_manifest(manifest: Manifest, key: ec.EllipticCurvePrivateKey) -> SignedManifest:
    text = canonical(manifest)
    signature = key.sign(text.encode(), ec.ECDSA(hashes.SHA256()))
    return SignedManifest(manifest=text, signature=base64.b64encode(signature).decode())


def parse_signed(data: bytes) -> SignedManifest:
    """A signed manifest file's contents; ManifestError if it is not one (nothing is trusted yet)."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestError(f"manifest of {len(data)} bytes exceeds {MAX_MANIFEST_BYTES}")
    try:
        signed = SignedManifest.model_validate_json(data)
    except ValidationError as exc:
        raise ManifestError(f"not a signed clip manifest: {_first_problem(exc)}") from None
    signed.read()
    return signed


def file_sha256(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def verify_clip(clip: Path, signed: SignedManifest, ca_pem: bytes | None = None, *,
                device_id: str | None = None) -> list[str]:
    """Every way `clip` and `signed` fail to match (empty: they verify). Checks the signature with the
    certificate inside the manifest, that certificate's issuer when the hub's CA is given (and its validity
    at the manifest's time), the device id it names (and `device_id`, when the caller expects one), and the
    clip's SHA-256 and size."""
    manifest = signed.read()
    problems = _certificate_problems(manifest, ca_pem, device_id)
    certificate = _certificate(manifest)
    if certificate is not None and not _signature_verifies(certificate, signed):
        problems.append("the manifest's signature does not verify with the box certificate it names "
                        "(the manifest was changed after signing, or signed by another key)")
    digest, size = file_sha256(clip)
    if digest != manifest.clip_sha256:
        problems.append(f"the clip's SHA-256 is {digest}; the manifest says {manifest.clip_sha256}")
    if size != manifest.clip_bytes:
        problems.append(f"the clip is {size} bytes; the manifest says {manifest.clip_bytes}")
    return problems


def _certificate(manifest: Manifest) -> x509.Certificate | None:
    try:
        return x509.load_pem_x509_certificate(manifest.certificate_pem.encode())
    except ValueError:
        return None


def _certificate_problems(manifest: Manifest, ca_pem: bytes | None, device_id: str | None) -> list[str]:
    certificate = _certificate(manifest)
    if certificate is None:
        return ["the manifest's box certificate is not a readable certificate"]
    problems = []
    names = [a.value for a in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if names != [manifest.device_id]:
        problems.append(f"the box certificate is for {names[0] if names else 'no device'}, "
                        f"the manifest names {manifest.device_id}")
    if device_id is not None and manifest.device_id != device_id:
        problems.append(f"the manifest names device {manifest.device_id}, expected {device_id}")
    if ca_pem is not None:
        problems += _chain_problems(certificate, ca_pem, manifest.created_at)
    return problems


def _chain_problems(certificate: x509.Certificate, ca_pem: bytes, at: dt.datetime) -> list[str]:
    try:
        ca = x509.load_pem_x509_certificate(ca_pem)
    except ValueError:
        return ["the CA certificate given is not a readable certificate"]
    try:
        certificate.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return ["the box certificate was not issued by the given CA"]
    if not certificate.not_valid_before_utc <= at <= certificate.not_valid_after_utc:
        return [f"the box certificate was not valid when the manifest was made ({at.isoformat()})"]
    return []


def _signature_verifies(certificate: x509.Certificate, signed: SignedManifest) -> bool:
    key = certificate.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        return False
    try:
        key.verify(base64.b64decode(signed.signature, validate=True), signed.manifest.encode(),
                   ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


def _first_problem(exc: ValidationError) -> str:
    first = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(p) for p in first["loc"]) or "document"
    return f"{where}: {first['msg']}"


def verify_signed(signed: SignedManifest, ca_pem: bytes | None = None, *, device_id: str | None = None) -> list[str]:
    """Every way the signed manifest itself fails (its certificate, issuer, device and signature, as
    `verify_clip` checks them), before any clip is at hand: what a hub checks when a box announces an upload."""
    manifest = signed.read()
    problems = _certificate_problems(manifest, ca_pem, device_id)
    certificate = _certificate(manifest)
    if certificate is not None and not _signature_verifies(certificate, signed):
        problems.append("the manifest's signature does not verify with the box certificate it names "
                        "(the manifest was changed after signing, or signed by another key)")
    return problems
