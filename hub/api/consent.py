"""Consent the owner sets, and access requests the hub checks before it signs a grant.

Every consent change is a new version (who, when), audited, and pushed to the
appliance signed; the appliance keeps the newest and judges every grant
against it, whatever the hub says. An access request needs a reason and a
case number; the hub checks role, consent, mode, schedule and session length,
writes the audit entry first, then signs the grant and presents it to the
appliance, whose answer is audited too.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select

from hub import audit
from hub.access import ApplianceUnreachable, present_grant, push_policy
from hub.api.deps import HubDep, SessionDep, UserDep, client_address, require
from hub.api.registry import owned_business, visible_camera
from hub.core import Hub
from hub.grants import current_consent, issue_grant, sign_policy
from hub.models import Appliance, Camera, ConsentVersion, FootageRequest, Role, User, utcnow
from wire import consent as c

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api", tags=["consent"])
Analyst = Annotated[User, Depends(require(Role.ANALYST, Role.ADMIN))]


class ConsentOut(BaseModel):
    camera_id: int
    version: int
    policy: c.Policy
    created_by: str
    created_at: dt.datetime


def _out(row: ConsentVersion) -> ConsentOut:
    return ConsentOut(camera_id=row.camera_id, version=row.version, policy=c.Policy.model_validate(row.policy),
                      created_by=row.created_by, created_at=row.created_at)


@router.get("/cameras/{camera_id}/consent", response_model=ConsentOut)
def get_consent(camera_id: int, session: SessionDep, user: UserDep) -> ConsentOut:
    visible_camera(session, user, camera_id)
    row = current_consent(session, camera_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no consent set for this camera: sharing is off")
    return _out(row)


@router.get("/cameras/{camera_id}/consent/history", response_model=list[ConsentOut])
def consent_history(camera_id: int, session: SessionDep, user: UserDep) -> list[ConsentOut]:
    visible_camera(session, user, camera_id)
    return [_out(r) for r in session.scalars(select(ConsentVersion).where(ConsentVersion.camera_id == camera_id)
                                             .order_by(ConsentVersion.version))]


def push_current(hub: Hub, camera: Camera, row: ConsentVersion) -> None:
    """Best effort: an appliance that is away gets the policy when it comes back online."""
    if hub.link is None:
        return
    signed = sign_policy(hub, device_id=camera.appliance.device_id, camera=camera.name, version=row.version,
                         policy=c.Policy.model_validate(row.policy))
    try:
        push_policy(hub, camera.appliance.device_id, signed, timeout_s=5)
    except ApplianceUnreachable as exc:
        log.info("consent version %d for camera %d not delivered now: %s", row.version, camera.id, exc)


@router.put("/cameras/{camera_id}/consent", response_model=ConsentOut)
def set_consent(camera_id: int, policy: c.Policy, request: Request, hub: HubDep, user: UserDep) -> ConsentOut:
    with hub.db.session() as session:
        camera = visible_camera(session, user, camera_id)
        owned_business(session, user, camera.appliance.business_id)
        before = current_consent(session, camera_id)
        row = ConsentVersion(camera_id=camera_id, version=(before.version if before else 0) + 1,
                             policy=policy.model_dump(mode="json"), created_by=user.username)
        session.add(row)
        session.flush()
        audit.append(session, actor=user.username, action="consent.change", outcome=audit.Outcome.SUCCESS,
                     object=f"camera:{camera_id}", source=client_address(request), version=row.version,
                     sharing=policy.sharing, modes=list(policy.modes))
        out = _out(row)
    with hub.db.session() as session:
        camera = session.get(Camera, camera_id)
        push_current(hub, camera, current_consent(session, camera_id))
    return out


Purpose = Literal["violent_crime", "property_crime", "missing_person", "traffic", "emergency", "other"]


class AccessIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    camera_id: int
    mode: c.AccessMode
    purpose: Purpose = Field(description="Category for the public transparency report; the reason says the rest.")
    reason: Annotated[str, Field(min_length=10, max_length=2000, description="Why: free text, kept.")]
    case_number: Annotated[str, Field(min_length=3, max_length=100)]
    duration_s: Annotated[int, Field(ge=10, le=24 * 3600)] = 600
    window_from: AwareDatetime | None = None
    window_to: AwareDatetime | None = None


class AccessOut(BaseModel):
    status: Literal["accepted", "refused_by_appliance", "pending_owner_approval", "denied_by_owner"]
    reason: str
    grant_id: str | None = None
    expires_at: dt.datetime | None = None
    request_id: int | None = None


def _refuse(hub: Hub, user: User, body: AccessIn, source: str, why: str, code: int = 403) -> HTTPException:
    with hub.db.session() as session:
        audit.append(session, actor=user.username, action="access.request", outcome=audit.Outcome.DENIED,
                     object=f"camera:{body.camera_id}", source=source, reason=body.reason,
                     case_number=body.case_number, mode=body.mode, refused=why, purpose=body.purpose,
                     unit=user.unit)
    return HTTPException(code, f"access refused: {why}")


def check_access(hub: Hub, user: User, body, source: str) -> tuple[ConsentVersion, str, str, c.Policy]:
    """The hub's own checks of an access request (`body`: camera_id, mode, duration_s, reason, case_number,
    purpose): the camera's consent in force, its mode, schedule and maximum session. A refusal is audited
    and raised (403); returns (consent version, device id, camera name, policy)."""
    with hub.db.session() as session:
        camera = session.get(Camera, body.camera_id)
        if camera is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such camera")
        row = current_consent(session, camera.id)
        device_id, name = camera.appliance.device_id, camera.name
    now = utcnow()
    policy = c.Policy.model_validate(row.policy) if row else None
    why = None
    if policy is None or policy.sharing == "off":
        why = "the owner does not share this camera"
    elif body.mode not in policy.modes:
        why = f"the owner does not allow {body.mode} for this camera"
    elif policy.sharing == "request_only" and body.mode == "live":
        why = "this camera shares recorded footage on request only, never live"
    elif not policy.in_schedule(now):
        why = "outside the camera's allowed schedule"
    elif body.duration_s > policy.max_session_s:
        why = f"longer than the camera's maximum session of {policy.max_session_s} s"
    if why:
        raise _refuse(hub, user, body, source, why)
    return row, device_id, name, policy


@router.post("/access", response_model=AccessOut, status_code=201,
             responses={202: {"description": "Waiting for the owner's approval (request_only cameras)"},
                        403: {"description": "Refused (the reason says why; audited)"},
                        503: {"description": "Granted and audited, but the appliance could not be reached"}})
def request_access(body: AccessIn, request: Request, response: Response, hub: HubDep, user: Analyst) -> AccessOut:
    source = client_address(request)
    if body.mode != "live" and (body.window_from is None or body.window_to is None
                                or body.window_to <= body.window_from):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "playback and clip need window_from < window_to")
    row, device_id, name, policy = check_access(hub, user, body, source)
    if policy.sharing == "request_only":
        with hub.db.session() as session:
            pending = FootageRequest(camera_id=body.camera_id, mode=body.mode, window_from=body.window_from,
                                     window_to=body.window_to, duration_s=body.duration_s, analyst=user.username,
                                     reason=body.reason, case_number=body.case_number, purpose=body.purpose)
            session.add(pending)
            session.flush()
            audit.append(session, actor=user.username, action="access.request", outcome="pending",
                         object=f"camera:{body.camera_id}", source=source, reason=body.reason,
                         case_number=body.case_number, mode=body.mode, request_id=pending.id,
                         purpose=body.purpose, unit=user.unit)
            request_id = pending.id
        response.status_code = status.HTTP_202_ACCEPTED
        return AccessOut(status="pending_owner_approval", reason="waiting for the camera owner's decision",
                         request_id=request_id)
    ask = Ask(user.username, user.unit, body.purpose, body.mode, body.reason, body.case_number, body.duration_s,
              (body.window_from, body.window_to) if body.window_from else None)
    return _grant_and_present(hub, ask, source, device_id, name, row.version)


@dataclass(frozen=True)
class Ask:
    """What an analyst asked for, as it goes on the record and into the grant."""
    analyst: str
    unit: str
    purpose: str
    mode: c.AccessMode
    reason: str
    case_number: str
    duration_s: int
    window: tuple[dt.datetime, dt.datetime] | None


def _grant_and_present(hub: Hub, ask: Ask, source: str, device_id: str, camera: str, policy_version: int,
                       approval_index: int | None = None, request_id: int | None = None) -> AccessOut:
    signed = issue_grant(hub, device_id=device_id, camera=camera, mode=ask.mode, analyst=ask.analyst,
                         reason=ask.reason, case_number=ask.case_number, policy_version=policy_version,
                         lifetime_s=ask.duration_s, source=source, window=ask.window, approval_index=approval_index,
                         purpose=ask.purpose, unit=ask.unit)
    grant = c.Grant.model_validate_json(signed.document)
    try:
        accepted, why = present_grant(hub, device_id, signed)
    except ApplianceUnreachable as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"granted, but {exc}") from None
    return AccessOut(status="accepted" if accepted else "refused_by_appliance", reason=why,
                     grant_id=str(grant.grant_id), expires_at=grant.expires_at, request_id=request_id)


class RequestOut(BaseModel):
    id: int
    camera_id: int
    mode: str
    window_from: dt.datetime
    window_to: dt.datetime
    analyst: str
    reason: str
    case_number: str
    purpose: str
    status: str
    decided_by: str | None


@router.get("/requests", response_model=list[RequestOut], tags=["consent"])
def list_requests(session: SessionDep, user: UserDep) -> list[RequestOut]:
    """Owners see requests for their cameras; analysts their own; admins and auditors all."""
    query = select(FootageRequest).join(Camera).join(Appliance).order_by(FootageRequest.id)
    if user.role == Role.OWNER:
        query = query.where(Appliance.business_id == user.business_id)
    elif user.role == Role.ANALYST:
        query = query.where(FootageRequest.analyst == user.username)
    return [RequestOut(id=r.id, camera_id=r.camera_id, mode=r.mode, window_from=r.window_from,
                       window_to=r.window_to, analyst=r.analyst, reason=r.reason, case_number=r.case_number,
                       purpose=r.purpose, status=r.status, decided_by=r.decided_by) for r in session.scalars(query)]


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    approve: bool
    note: Annotated[str, Field(max_length=2000)] = ""


@router.post("/requests/{request_id}/decision", response_model=AccessOut, tags=["consent"])
def decide(request_id: int, body: DecisionIn, request: Request, hub: HubDep, user: UserDep) -> AccessOut:
    """The owner approves or denies; an approval is audited, then granted and presented to the appliance."""
    source = client_address(request)
    with hub.db.session() as session:
        pending = session.get(FootageRequest, request_id)
        if pending is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such request")
        camera = visible_camera(session, user, pending.camera_id)
        owned_business(session, user, camera.appliance.business_id)
        if pending.status != "pending":
            raise HTTPException(status.HTTP_409_CONFLICT, f"request already {pending.status}")
        row = current_consent(session, camera.id)
        pending.status = "approved" if body.approve else "denied"
        pending.decided_by, pending.decided_at = user.username, utcnow()
        approval_index = audit.append(
            session, actor=user.username, action="access.owner_decision",
            outcome=audit.Outcome.SUCCESS if body.approve else audit.Outcome.DENIED,
            object=f"camera:{camera.id}", source=source, reason=body.note, case_number=pending.case_number,
            approved=body.approve, request_id=pending.id, camera=camera.name, device_id=camera.appliance.device_id,
            mode=pending.mode, window_from=pending.window_from.isoformat(), window_to=pending.window_to.isoformat())
        analyst = session.scalar(select(User).where(User.username == pending.analyst))
        ask = Ask(pending.analyst, analyst.unit if analyst else "", pending.purpose, pending.mode, pending.reason,
                  pending.case_number, pending.duration_s, (pending.window_from, pending.window_to))
        device_id, name, version = camera.appliance.device_id, camera.name, row.version if row else 0
    if not body.approve:
        return AccessOut(status="denied_by_owner", reason="denied by the camera's owner", request_id=request_id)
    if row is None:
        raise HTTPException(status.HTTP_409_CONFLICT, "the camera no longer has a consent policy")
    return _grant_and_present(hub, ask, source, device_id, name, version, approval_index=approval_index,
                              request_id=request_id)
