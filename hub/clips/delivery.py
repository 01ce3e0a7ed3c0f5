"""What the hub records when a clip has arrived: the `Clip` row, the request delivered (or, when the clip does
not verify, still approved with `clip_stage` "failed" and why), the single-use token spent, the audit entry."""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import audit
from hub.clips.errors import AlreadyDelivered, UploadConflict
from hub.clips.tickets import Ticket
from hub.tables import Clip, FootageRequest, RequestStatus, utcnow
from wire.evidence import SignedManifest


@dataclass(frozen=True)
class ClipKeys:
    """Where a clip and its manifest are kept in the clip store."""

    clip: str
    manifest: str

    @classmethod
    def of(cls, ticket: Ticket, upload: str, *, verified: bool) -> "ClipKeys":
        base = (f"cases/{ticket.case_id}/{ticket.request_id}" if verified
                else f"quarantine/{ticket.case_id}/{ticket.request_id}/{upload}")
        return cls(f"{base}/clip.mp4", f"{base}/manifest.json")

    @classmethod
    def beside(cls, clip_key: str) -> "ClipKeys":
        """The keys of a stored clip and the manifest kept next to it."""
        return cls(clip_key, clip_key.rpartition("/")[0] + "/manifest.json")


@dataclass(frozen=True)
class Arrival:
    """A complete upload: its SHA-256 and size, what failed to verify (nothing: evidence), where it is kept."""

    sha256: str
    bytes: int
    problems: list[str]
    keys: ClipKeys
    clip_id: int | None = None
    audit_index: int | None = None

    @property
    def verified(self) -> bool:
        return not self.problems


def record_arrival(session: Session, ticket: Ticket, signed: SignedManifest, raw: bytes, arrival: Arrival,
                   source: str) -> Arrival:
    """Record the arrival (`raw`: the manifest exactly as the box sent it) in `session`; UploadConflict or
    AlreadyDelivered if the request changed meanwhile."""
    request = session.get(FootageRequest, ticket.request_id, with_for_update=True)
    if request is None or request.upload_token_hash != ticket.token_hash:
        raise UploadConflict(f"request {ticket.request_id} changed while its clip was uploading; upload refused")
    if request.status != RequestStatus.APPROVED.value or \
            session.scalar(select(Clip.id).where(Clip.request_id == request.id)) is not None:
        raise AlreadyDelivered(f"request {request.id} already has its clip at the hub")
    manifest = signed.read()
    clip = Clip(request_id=request.id, case_id=ticket.case_id, camera_id=ticket.camera_id, device_id=ticket.device_id,
                storage_key=arrival.keys.clip, manifest=raw.decode(), sha256=arrival.sha256,
                bytes=arrival.bytes, actual_from=manifest.actual_from, actual_to=manifest.actual_to,
                verified=arrival.verified, verification=_verification(arrival), uploaded_at=utcnow(),
                upload_token_hash=ticket.token_hash)
    session.add(clip)
    request.upload_token_hash = None  # single use
    if arrival.verified:
        request.status, request.clip_stage = RequestStatus.DELIVERED.value, "uploaded"
        request.clip_detail = f"at the hub and verified (SHA-256 {arrival.sha256})"
    else:
        request.clip_stage = "failed"
        request.clip_detail = ("the clip that arrived does not verify and is kept apart, not as evidence: "
                               + "; ".join(arrival.problems))
    session.flush()
    index = audit.append(session, actor=ticket.actor, action="clip.upload",
                         outcome=audit.Outcome.SUCCESS if arrival.verified else audit.Outcome.FAILURE,
                         object=f"request:{request.id}", source=source, case_number=ticket.case_number,
                         reason="" if arrival.verified else "; ".join(arrival.problems), clip_id=clip.id,
                         sha256=arrival.sha256, bytes=arrival.bytes, verified=arrival.verified,
                         storage_key=arrival.keys.clip, camera=ticket.camera, device_id=ticket.device_id)
    return replace(arrival, clip_id=clip.id, audit_index=index)


def _verification(arrival: Arrival) -> str:
    if arrival.verified:
        return "verified: the box's signature and certificate (issued by the hub's CA), the clip's SHA-256 and size"
    return "; ".join(arrival.problems)
