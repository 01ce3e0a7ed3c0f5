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
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from hub import audit
from hub.access.grants import current_consent
from hub.access.service import AccessResult, Ask, Purpose
from hub.api.boundary import Id, Moment
from hub.api.deps import AccessDep, HubDep, SessionDep, UserDep, client_address, require
from hub.api.registry import owned_business, visible_camera
from hub.tables import Appliance, Camera, ConsentVersion, FootageRequest, Role, User
from wire import consent as c

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
def get_consent(camera_id: Id, session: SessionDep, user: UserDep) -> ConsentOut:
    visible_camera(session, user, camera_id)
    row = current_consent(session, camera_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no consent set for this camera: sharing is off")
    return _out(row)


@router.get("/cameras/{camera_id}/consent/history", response_model=list[ConsentOut])
def consent_history(camera_id: Id, session: SessionDep, user: UserDep) -> list[ConsentOut]:
    visible_camera(session, user, camera_id)
    return [_out(r) for r in session.scalars(select(ConsentVersion).where(ConsentVersion.camera_id == camera_id)
                                             .order_by(ConsentVersion.version))]


@router.put("/cameras/{camera_id}/consent", response_model=ConsentOut)
def set_consent(camera_id: Id, policy: c.Policy, request: Request, hub: HubDep, access: AccessDep,
                user: UserDep) -> ConsentOut:
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
    access.push_consent(camera_id)
    return out


class AccessIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    camera_id: int
    mode: c.AccessMode
    purpose: Purpose = Field(description="Category for the public transparency report; the reason says the rest.")
    reason: Annotated[str, Field(min_length=10, max_length=2000, description="Why: free text, kept.")]
    case_number: Annotated[str, Field(min_length=3, max_length=100)]
    duration_s: Annotated[int, Field(ge=10, le=24 * 3600)] = 600
    window_from: Moment | None = None
    window_to: Moment | None = None


class AccessOut(BaseModel):
    status: Literal["accepted", "refused_by_appliance", "pending_owner_approval", "denied_by_owner"]
    reason: str
    grant_id: str | None = None
    expires_at: dt.datetime | None = None
    request_id: int | None = None


def _access_out(outcome: AccessResult) -> AccessOut:
    return AccessOut(status=outcome.status, reason=outcome.reason, grant_id=outcome.grant_id,
                     expires_at=outcome.expires_at, request_id=outcome.request_id)


@router.post("/access", response_model=AccessOut, status_code=201,
             responses={202: {"description": "Waiting for the owner's approval (request_only cameras)"},
                        403: {"description": "Refused (the reason says why; audited)"},
                        503: {"description": "Granted and audited, but the appliance could not be reached"}})
def request_access(body: AccessIn, request: Request, response: Response, access: AccessDep,
                   user: Analyst) -> AccessOut:
    ask = Ask(user.username, user.unit, body.purpose, body.mode, body.reason, body.case_number, body.duration_s,
              (body.window_from, body.window_to) if body.window_from else None)
    outcome = access.request(ask, body.camera_id, client_address(request))
    if outcome.status == "pending_owner_approval":
        response.status_code = status.HTTP_202_ACCEPTED
    return _access_out(outcome)


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
def decide(request_id: Id, body: DecisionIn, request: Request, access: AccessDep, user: UserDep) -> AccessOut:
    """The owner approves or denies; an approval is audited, then granted and presented to the appliance."""
    return _access_out(access.decide(user, request_id, body.approve, body.note, client_address(request)))
