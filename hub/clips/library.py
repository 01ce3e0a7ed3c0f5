"""The case library: each case's requests per camera (who asked, who decided and how, where they stand) and
the clips that answer them (hashes, sizes, when uploaded, what verifying found), for the people who may see
the case; downloads are audited, retention is per case; play tickets (`hub.clips.play`) let a page's `<video>`
play a clip.

Who sees a case: admins and auditors every case; an analyst the cases they opened or asked footage for.
A case another analyst cannot see is "not found" to them, like one that does not exist.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field
from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session

from hub import audit
from hub.audit.recorder import AccessRecorder
from hub.clips import play
from hub.clips.errors import ClipError, Gone, NotFound
from hub.registrations.case_view import OwnerRequestOut, owner_requests_of
from hub.tables import ApiSession, Appliance, Business, Camera, Case, Clip, FootageRequest, Role, User

SEES_EVERY_CASE = (Role.ADMIN, Role.AUDITOR)


def default_retain_until(created_at: dt.datetime, days: int) -> dt.datetime:
    """When a new case's clips may be deleted: `days` (the `case_retention_days` setting) after it was opened."""
    return created_at + dt.timedelta(days=days)


class ClipOut(BaseModel):
    id: int
    sha256: str = Field(description="SHA-256 of the clip as it arrived (hex).")
    bytes: int
    actual_from: dt.datetime
    actual_to: dt.datetime
    uploaded_at: dt.datetime
    verified: bool = Field(description="The clip verified against its box-signed manifest; false: kept apart, "
                                       "not evidence.")
    verification: str = Field(description="What verifying found, in plain words.")
    deleted_at: dt.datetime | None = Field(description="When the case's retention deleted it, if it did.")
    download: str | None = Field(description="Where to download it (verified and not deleted only).")
    manifest: str = Field(description="Where to read its signed manifest.")


class RequestOut(BaseModel):
    id: int
    camera_id: int
    camera: str
    device_id: str
    business: str
    requested_by: str
    requested_at: dt.datetime
    purpose: str
    reason: str
    window_from: dt.datetime
    window_to: dt.datetime
    status: str
    decided_by: str | None
    decided_how: str = Field(description='"owner", "policy" or "" (not decided).')
    decided_at: dt.datetime | None
    decision_note: str
    approved_from: dt.datetime | None
    approved_to: dt.datetime | None
    clip_stage: str
    clip_detail: str
    clip: ClipOut | None


class CaseSummary(BaseModel):
    case_number: str
    public_reference: str
    incident_id: int | None
    created_by: str
    created_at: dt.datetime
    retain_until: dt.datetime = Field(description="When the retention pass deletes the case's clips.")
    request_count: int
    clip_count: int = Field(description="Verified clips at the hub (not deleted).")


class CaseOut(CaseSummary):
    requests: list[RequestOut] = Field(description="One per camera asked, oldest first.")
    owner_requests: list[OwnerRequestOut] = Field(default_factory=list, description=(
        "Requests to registered cameras' owners (no appliance) and the files they uploaded, oldest first."))


def _visible(user: User):
    """The condition on Case for the cases `user` may see."""
    if user.role in SEES_EVERY_CASE:
        return True
    asked = exists().where(FootageRequest.case_id == Case.id, FootageRequest.analyst == user.username)
    return or_(Case.created_by == user.username, asked)


def visible_case(session: Session, user: User, case_number: str) -> Case:
    case = session.scalar(select(Case).where(Case.case_number == case_number, _visible(user)))
    if case is None:
        raise NotFound(f"no case {case_number}")
    return case


def _counts(session: Session, case_ids: list[int]) -> tuple[dict[int, int], dict[int, int]]:
    requests = dict(session.execute(select(FootageRequest.case_id, func.count()).where(
        FootageRequest.case_id.in_(case_ids)).group_by(FootageRequest.case_id)).all())
    clips = dict(session.execute(select(Clip.case_id, func.count()).where(
        Clip.case_id.in_(case_ids), Clip.verified, Clip.deleted_at.is_(None)).group_by(Clip.case_id)).all())
    return requests, clips


def _summary(case: Case, requests: dict[int, int], clips: dict[int, int]) -> dict:
    return dict(case_number=case.case_number, public_reference=case.public_reference, incident_id=case.incident_id,
                created_by=case.created_by, created_at=case.created_at, retain_until=case.retain_until,
                request_count=requests.get(case.id, 0), clip_count=clips.get(case.id, 0))


def list_cases(session: Session, *, user: User, limit: int, offset: int) -> list[CaseSummary]:
    """The cases `user` may see, newest first."""
    cases = list(session.scalars(select(Case).where(_visible(user)).order_by(Case.created_at.desc(), Case.id.desc())
                                 .limit(limit).offset(offset)))
    requests, clips = _counts(session, [c.id for c in cases])
    return [CaseSummary(**_summary(c, requests, clips)) for c in cases]


def clip_out(clip: Clip) -> ClipOut:
    usable = clip.verified and clip.deleted_at is None
    return ClipOut(id=clip.id, sha256=clip.sha256, bytes=clip.bytes, actual_from=clip.actual_from,
                   actual_to=clip.actual_to, uploaded_at=clip.uploaded_at, verified=clip.verified,
                   verification=clip.verification, deleted_at=clip.deleted_at,
                   download=f"/api/clips/{clip.id}/download" if usable else None,
                   manifest=f"/api/clips/{clip.id}/manifest")


def _request_out(request: FootageRequest, camera: Camera, appliance: Appliance, business: Business,
                 clip: Clip | None) -> RequestOut:
    return RequestOut(id=request.id, camera_id=camera.id, camera=camera.name, device_id=appliance.device_id,
                      business=business.name, requested_by=request.analyst, requested_at=request.created_at,
                      purpose=request.purpose, reason=request.reason, window_from=request.window_from,
                      window_to=request.window_to, status=request.status, decided_by=request.decided_by,
                      decided_how=request.decided_how, decided_at=request.decided_at,
                      decision_note=request.decision_note, approved_from=request.approved_from,
                      approved_to=request.approved_to, clip_stage=request.clip_stage,
                      clip_detail=request.clip_detail, clip=clip_out(clip) if clip is not None else None)


def case_detail(session: Session, *, user: User, case_number: str) -> CaseOut:
    """The case with every request of it and each request's clip."""
    case = visible_case(session, user, case_number)
    rows = session.execute(
        select(FootageRequest, Camera, Appliance, Business, Clip)
        .join(Camera, Camera.id == FootageRequest.camera_id).join(Appliance, Appliance.id == Camera.appliance_id)
        .join(Business, Business.id == Appliance.business_id).outerjoin(Clip, Clip.request_id == FootageRequest.id)
        .where(FootageRequest.case_id == case.id).order_by(FootageRequest.id)).all()
    requests, clips = _counts(session, [case.id])
    return CaseOut(**_summary(case, requests, clips), requests=[_request_out(*row) for row in rows],
                   owner_requests=owner_requests_of(session, case.id))


def visible_clip(session: Session, *, user: User, clip_id: int) -> tuple[Clip, Case]:
    row = session.execute(select(Clip, Case).join(Case, Case.id == Clip.case_id)
                          .where(Clip.id == clip_id, _visible(user))).first()
    if row is None:
        raise NotFound(f"no clip {clip_id}")
    return row[0], row[1]


def downloadable_clip(session: Session, *, user: User, clip_id: int) -> tuple[Clip, Case]:
    """The clip `user` may download, with its case: visible to them, not deleted, verified."""
    clip, case = visible_clip(session, user=user, clip_id=clip_id)
    if clip.deleted_at is not None:
        raise Gone(f"clip {clip_id} was deleted on {clip.deleted_at.date()} when case {case.case_number}'s "
                   "retention ended")
    if not clip.verified:
        raise ClipError(f"clip {clip_id} did not verify against its manifest: it is kept apart and is not "
                        f"evidence ({clip.verification})", status=409)
    return clip, case


def record_download(recorder: AccessRecorder, *, user: User, clip: Clip, case: Case, source: str, via: str,
                    served: str) -> None:
    """Put a download on the record (who, when, which clip, from where) before a byte of it is sent.

    A video element fetches a clip in many range requests (the start, then one per seek), so the record is kept
    per (user, clip, address) and minute, by the access recorder: the first request of a minute is an entry of
    its own, written before this returns, with what it asked for (`served`: "whole" or "bytes a-b/size") and how
    it was authorised (`via`); the requests after it in that minute are counted, and one entry says how many and
    between when once the minute is over. Every byte sent is covered by an entry; none is dropped."""
    recorder.record(actor=user.username, action="clip.download", object=f"clip:{clip.id}",
                    outcome=audit.Outcome.SUCCESS, source=source, case_number=case.case_number, essential=True,
                    request_id=clip.request_id, sha256=clip.sha256, bytes=clip.bytes, served=served, via=via)


def issue_play_ticket(session: Session, *, signed_in: ApiSession, clip_id: int, secret: str, ttl_s: int,
                      source: str, now: dt.datetime) -> tuple[str, dt.datetime]:
    """A play ticket for a clip the signed-in user may download, and when it expires; issuing it is audited."""
    user = signed_in.user
    clip, case = downloadable_clip(session, user=user, clip_id=clip_id)
    ticket = play.PlayTicket(user_id=user.id, session_id=signed_in.id, clip_id=clip.id,
                             expires=play.ticket_expiry(now, ttl_s, signed_in.expires_at))
    audit.append(session, actor=user.username, action="clip.play_ticket", outcome=audit.Outcome.SUCCESS,
                 object=f"clip:{clip.id}", source=source, case_number=case.case_number, request_id=clip.request_id,
                 expires_at=ticket.expires_at.isoformat())
    return play.make_ticket(secret, ticket), ticket.expires_at


def extend_retention(session: Session, *, user: User, case_number: str, until: dt.datetime, source: str,
                     now: dt.datetime) -> Case:
    """Keep the case's clips longer (never shorter than already set, never in the past); audited."""
    case = visible_case(session, user, case_number)
    if until <= case.retain_until or until <= now:
        raise ClipError(f"retention can only be extended: case {case_number} is kept until "
                        f"{case.retain_until.isoformat()}", status=422)
    audit.append(session, actor=user.username, action="case.retention", outcome=audit.Outcome.SUCCESS,
                 object=f"case:{case.case_number}", source=source, case_number=case.case_number,
                 retain_until_was=case.retain_until.isoformat(), retain_until=until.isoformat())
    case.retain_until = until
    return case
