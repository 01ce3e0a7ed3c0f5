"""The evidence manifest of a cut clip, signed with the box's own key, and the export directory it goes in.

    <out_dir>/clip.mp4        the clip
    <out_dir>/manifest.json   `wire.evidence.SignedManifest` of it (canonical manifest text + ECDSA signature)

Both are written to temporary names in the directory, fsynced, then renamed, the manifest last, and the
directory fsynced: a directory with a manifest.json always has the whole clip it describes. A directory that
already holds a manifest (a finished export) is never overwritten.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from edge.clips.cut import Cut
from edge.clips.plan import to_datetime
from edge.errors import ClipError
from edge.recording.storage import fsync_dir, fsync_file
from provisioning.identity import Identity
from wire.evidence import Manifest, ManifestGap, SignedManifest, SourceSegment

CLIP_NAME = "clip.mp4"
MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True, slots=True)
class BoxSigner:
    """The box's enrolment key and the certificate the hub's CA issued for it (CN = device id)."""

    device_id: str
    key: ec.EllipticCurvePrivateKey
    certificate_pem: str

    @classmethod
    def from_identity(cls, identity: Identity) -> BoxSigner:
        """The signer of an enrolled box; ClipError if its key cannot sign for its certificate."""
        try:
            key = serialization.load_pem_private_key(identity.key.read_bytes(), password=None)
            certificate_pem = identity.cert.read_text(encoding="ascii")
            certificate = x509.load_pem_x509_certificate(certificate_pem.encode())
        except (OSError, ValueError, TypeError) as exc:
            raise ClipError(f"the box's identity in {identity.directory} cannot sign clips: {exc}") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != certificate.public_key():
            raise ClipError(f"the box's key in {identity.directory} is not the key of its certificate")
        return cls(identity.device_id, key, certificate_pem)


@dataclass(frozen=True, slots=True)
class Answering:
    """What an exported clip answers at the hub (all None for the owner's own export)."""

    request_id: int | None = None
    grant_id: UUID | None = None
    audit_index: int | None = None


def build_manifest(cut: Cut, *, device_id: str, certificate_pem: str, clip_sha256: str, clip_bytes: int,
                   created_at: dt.datetime, answering: Answering = Answering()) -> Manifest:
    """The manifest of `cut` (pure: every value is given)."""
    return Manifest(
        device_id=device_id, camera=cut.camera,
        requested_from=to_datetime(cut.requested_from_us), requested_to=to_datetime(cut.requested_to_us),
        actual_from=to_datetime(cut.actual_from_us), actual_to=to_datetime(cut.actual_to_us),
        gaps=[ManifestGap(start=to_datetime(g.start_us), end=to_datetime(g.end_us), reason=g.reason[:200])
              for g in cut.gaps],
        segments=[SourceSegment(start=to_datetime(s.start_us), end=to_datetime(s.end_us), sha256=s.sha256,
                                bytes=s.bytes) for s in cut.segments],
        clip_sha256=clip_sha256, clip_bytes=clip_bytes, masked=cut.masked,
        request_id=answering.request_id, grant_id=answering.grant_id, audit_index=answering.audit_index,
        created_at=created_at, certificate_pem=certificate_pem,
    )


def prepare_directory(out_dir: Path) -> Path:
    """Make `out_dir` (and its parents) and a temporary path in it for the clip being cut."""
    if (out_dir / MANIFEST_NAME).exists():
        raise ClipError(f"{out_dir} already holds an exported clip ({MANIFEST_NAME}); export into another directory")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ClipError(f"cannot create {out_dir}: {exc.strerror}") from None
    return out_dir / f".{CLIP_NAME}.{uuid.uuid4().hex}.tmp"


def publish(out_dir: Path, clip_tmp: Path, signed: SignedManifest) -> tuple[Path, Path]:
    """Make the cut clip and its signed manifest durable under their names (the manifest last)."""
    manifest_tmp = out_dir / f".{MANIFEST_NAME}.{uuid.uuid4().hex}.tmp"
    try:
        _write_synced(manifest_tmp, signed.model_dump_json().encode() + b"\n")
        fsync_file(clip_tmp)
        clip, manifest = out_dir / CLIP_NAME, out_dir / MANIFEST_NAME
        os.replace(clip_tmp, clip)
        os.replace(manifest_tmp, manifest)
        fsync_dir(out_dir)
    finally:
        manifest_tmp.unlink(missing_ok=True)
    return clip, manifest


def _write_synced(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
