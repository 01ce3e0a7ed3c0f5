"""A case's court bundle (format: `wire.bundle`): planned in one go from the database (the bundle's own audit
entry first, then a checkpoint covering it, then every entry of the case with its inclusion proof at that
checkpoint), then streamed as a zip: small files from memory, clips chunk by chunk from the clip store, so a
bundle of many gigabytes never sits in memory. Every method blocks: run it in a worker thread (Starlette
iterates a sync generator in one)."""

from __future__ import annotations

import base64
import datetime as dt
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from hub import audit
from hub.audit.log import canonical, inclusion_proof
from hub.clips.errors import Gone
from hub.clips.library import visible_case
from hub.clips.readme import readme
from hub.clips.store import ClipStore
from hub.db import Database
from hub.tables import AuditCheckpoint, AuditEntry, Camera, Case, Clip, FootageRequest, User, utcnow
from wire import bundle as wb
from wire.checkpoint import raw_public
from wire.evidence import SignedManifest


@dataclass(frozen=True)
class AuditSigner:
    """What the bundle needs of the audit log: a fresh checkpoint, and the key and name it is signed under."""

    checkpoint: Callable[[], AuditCheckpoint]
    public_key: Ed25519PublicKey
    origin: str


@dataclass(frozen=True)
class BundlePlan:
    index: wb.BundleIndex
    texts: list[tuple[str, bytes]]  # small files, written first
    clips: list[tuple[str, str]]  # (name in the zip, clip store key), streamed

    @property
    def filename(self) -> str:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in self.index.case_number)
        return f"case-{safe}-bundle.zip"


def _clips(session: Session, case: Case) -> list[tuple[Clip, str]]:
    return list(session.execute(select(Clip, Camera.name).join(Camera, Camera.id == Clip.camera_id)
                                .where(Clip.case_id == case.id).order_by(Clip.request_id)).all())


def _record(session: Session, user: User, case: Case, clip_ids: list[int], source: str) -> None:
    audit.append(session, actor=user.username, action="case.bundle", outcome=audit.Outcome.SUCCESS,
                 object=f"case:{case.case_number}", source=source, case_number=case.case_number, clip_ids=clip_ids)


def _entries(session: Session, case: Case, clip_ids: list[int], size: int) -> list[wb.BundleEntry]:
    """Every entry about the case (its number, its requests, clips, the case itself) in the first `size`."""
    request_ids = session.scalars(select(FootageRequest.id).where(FootageRequest.case_id == case.id)).all()
    objects = [f"request:{i}" for i in request_ids] + [f"clip:{i}" for i in clip_ids] + [f"case:{case.case_number}"]
    rows = session.scalars(select(AuditEntry).where(
        or_(AuditEntry.case_number == case.case_number, AuditEntry.object.in_(objects)),
        AuditEntry.leaf_index < size).order_by(AuditEntry.leaf_index)).all()
    return [wb.BundleEntry(index=row.leaf_index, entry=canonical(row).decode(),
                           proof=[base64.b64encode(h).decode() for h in inclusion_proof(session, row.leaf_index, size)])
            for row in rows]


def _clip_files(rows: list[tuple[Clip, str]]) -> tuple[list[wb.BundleClip], list[tuple[str, bytes]], list[str]]:
    """The clips that are evidence (verified, not deleted), their manifests and certificates; what is left out."""
    clips, texts, left_out = [], {}, []
    for clip, camera in rows:
        if not clip.verified or clip.deleted_at is not None:
            why = "did not verify (kept apart)" if not clip.verified else f"deleted {clip.deleted_at.date()}"
            left_out.append(f"request {clip.request_id}: the upload {why}")
            continue
        clip_name, manifest_name = wb.clip_paths(clip.request_id)
        pem = SignedManifest.model_validate_json(clip.manifest).read().certificate_pem
        certificate = wb.certificate_path(clip.device_id, pem)
        texts[manifest_name], texts[certificate] = clip.manifest.encode(), pem.encode()
        clips.append(wb.BundleClip(clip_id=clip.id, request_id=clip.request_id, camera=camera,
                                   device_id=clip.device_id, clip=clip_name, manifest=manifest_name,
                                   certificate=certificate, sha256=clip.sha256, bytes=clip.bytes))
    return clips, list(texts.items()), left_out


def plan_bundle(db: Database, store: ClipStore, signer: AuditSigner, ca_pem: bytes, *, user: User,
                case_number: str, source: str) -> BundlePlan:
    """Everything the bundle of `case_number` holds but the clips' bytes (their store keys instead); the
    bundle is on the record before the checkpoint that covers it is signed."""
    with db.session() as session:
        case = visible_case(session, user, case_number)
        rows = _clips(session, case)
        clips, texts, left_out = _clip_files(rows)
        _record(session, user, case, [c.clip_id for c in clips], source)
    keys = {clip.id: clip.storage_key for clip, _ in rows}
    missing = [c.request_id for c in clips if not store.exists(keys[c.clip_id])]
    if missing:
        raise Gone(f"the clip store lacks the clips of request(s) {missing}: no bundle can be made")
    signed = signer.checkpoint()
    with db.session() as session:
        entries = _entries(session, case, [c.clip_id for c in clips], signed.size)
    index = wb.BundleIndex(case_number=case.case_number, public_reference=case.public_reference, made_at=utcnow(),
                           made_by=user.username, audit_origin=signer.origin, audit_key_name=signer.origin,
                           audit_public_key=base64.b64encode(raw_public(signer.public_key)).decode(), clips=clips,
                           left_out=left_out)
    files = [(wb.README, readme(index, len(entries)).encode()), (wb.INDEX, index.model_dump_json(indent=2).encode()),
             (wb.HUB_CA, ca_pem), *texts, (wb.CHECKPOINT, signed.note.encode()),
             (wb.ENTRIES, "".join(e.model_dump_json() + "\n" for e in entries).encode())]
    return BundlePlan(index, files, [(c.clip, keys[c.clip_id]) for c in clips])


class _Sink:
    """Where zipfile writes; each `take()` hands over what it wrote since (zipfile tracks the position itself)."""

    def __init__(self):
        self._buffer = bytearray()

    def write(self, data: bytes) -> int:
        self._buffer += data
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data, self._buffer = bytes(self._buffer), bytearray()
        return data


def _member(name: str, when: dt.datetime, compression: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=when.astimezone(dt.timezone.utc).timetuple()[:6])
    info.compress_type = compression
    info.external_attr = 0o644 << 16
    return info


def stream_bundle(plan: BundlePlan, store: ClipStore) -> Iterator[bytes]:
    """The bundle as a zip, piece by piece: texts (deflated), then each clip (stored) read from the store."""
    sink, when = _Sink(), plan.index.made_at
    with zipfile.ZipFile(sink, "w", allowZip64=True) as archive:
        for name, data in plan.texts:
            archive.writestr(_member(name, when, zipfile.ZIP_DEFLATED), data)
            yield sink.take()
        for name, key in plan.clips:
            with archive.open(_member(name, when, zipfile.ZIP_STORED), "w", force_zip64=True) as out:
                for chunk in store.stream(key):
                    out.write(chunk)
                    yield sink.take()
    yield sink.take()
