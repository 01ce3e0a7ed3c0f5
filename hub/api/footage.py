"""Footage requests over HTTP: an analyst asks cameras of a canvass for a window under a case; the owner
decides; owners read their notices. The workflow is `hub.footage.service`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select

from hub.access.errors import AccessRefused
from hub.api.boundary import Id, Moment
from hub.api.deps import SessionDep, UserDep, client_address, require
from hub.footage.service import Asking, Decision, FootageService, Outcome
from hub.tables import Appliance, Business, Camera, Case, FootageRequest, Notice, RequestStatus, Role, User, utcnow
from wire import consent as c
from wire import owner as wo

router = APIRouter(prefix="/api", tags=["footage"])
Analyst = Annotated[User, Depends(require(Role.ANALYST, Role.ADMIN))]
CaseNumber = Annotated[str, Field(min_length=3, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._/#:-]*$")]


def get_footage(request: Request) -> FootageService:
    return request.app.state.footage


FootageDep = Annotated[FootageService, Depends(get_footage)]


class FootageAskIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    camera_ids: Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=1, max_length=50)]
    window_from: Moment
    window_to: Moment
    purpose: c.Purpose
    reason: Annotated[str, Field(min_length=10, max_length=2000, description="Why: free text, kept and audited.")]
    case_number: CaseNumber
    incident_id: Annotated[int | None, Field(ge=1, description="The canvass is around this incident.")] = None
    latitude: Annotated[float | None, Field(ge=-90, le=90, description="Without an incident: the canvass point.")
                        ] = None
    longitude: Annotated[float | None, Field(ge=-180, le=180)] = None
    radius_m: Annotated[float, Field(gt=0, le=20_000, description="The canvass radius.")] = 500

    @model_validator(mode="after")
    def _distinct(self) -> "FootageAskIn":
        if len(set(self.camera_ids)) != len(self.camera_ids):
            raise ValueError("each camera once")
        return self


class OutcomeOut(BaseModel):
    camera_id: int
    request_id: int | None
    status: Literal["pending", "approved", "refused", "denied"]
    reason: str
    box_recorded_s: float | None = Field(None, description="What the box says it recorded of the window "
                                         "(seconds); absent if it did not answer in time.")


class FootageAskOut(BaseModel):
    case_number: str
    public_reference: str
    results: list[OutcomeOut]


def _outcome(outcome: Outcome) -> OutcomeOut:
    return OutcomeOut(camera_id=outcome.camera_id, request_id=outcome.request_id, status=outcome.status,
                      reason=outcome.reason, box_recorded_s=outcome.box_recorded_s)


@router.post("/footage-requests", response_model=FootageAskOut, status_code=201,
             responses={404: {"description": "No such camera or incident"},
                        409: {"description": "The incident is closed"},
                        422: {"description": "A window, place or radius that cannot be served: nothing stored"}})
def ask_footage(body: FootageAskIn, request: Request, session: SessionDep, footage: FootageDep,
                user: Analyst) -> FootageAskOut:
    """Ask cameras of one canvass for one window: one request per camera, grouped under the case."""
    outcomes = footage.ask(Asking(
        analyst=user.username, unit=user.unit, camera_ids=tuple(body.camera_ids), window_from=body.window_from,
        window_to=body.window_to, purpose=body.purpose, reason=body.reason, case_number=body.case_number,
        incident_id=body.incident_id, latitude=body.latitude, longitude=body.longitude, radius_m=body.radius_m),
        client_address(request))
    case = session.scalar(select(Case).where(Case.case_number == body.case_number))
    return FootageAskOut(case_number=body.case_number, public_reference=case.public_reference if case else "",
                         results=[_outcome(o) for o in outcomes])


class FootageRequestOut(BaseModel):
    id: int
    camera_id: int
    camera: str
    business: str
    window_from: dt.datetime
    window_to: dt.datetime
    approved_from: dt.datetime | None
    approved_to: dt.datetime | None
    purpose: str
    reason: str
    case_number: str
    incident_id: int | None
    analyst: str
    unit: str = Field(description="The asking analyst's agency unit (\"\" if none).")
    status: str
    decided_by: str | None
    decided_how: str
    decision_note: str
    expires_at: dt.datetime | None
    clip_stage: str
    clip_detail: str
    created_at: dt.datetime


def _request_out(row: FootageRequest, camera: Camera, business: Business, unit: str | None) -> FootageRequestOut:
    return FootageRequestOut(unit=unit or "",
        id=row.id, camera_id=camera.id, camera=camera.name, business=business.name, window_from=row.window_from,
        window_to=row.window_to, approved_from=row.approved_from, approved_to=row.approved_to, purpose=row.purpose,
        reason=row.reason, case_number=row.case_number, incident_id=row.incident_id, analyst=row.analyst,
        status=row.status, decided_by=row.decided_by, decided_how=row.decided_how, decision_note=row.decision_note,
        expires_at=row.expires_at, clip_stage=row.clip_stage, clip_detail=row.clip_detail, created_at=row.created_at)


@router.get("/footage-requests", response_model=list[FootageRequestOut])
def list_footage_requests(session: SessionDep, user: UserDep,
                          case_number: Annotated[str | None, Query(max_length=100)] = None,
                          status: Annotated[RequestStatus | None, Query()] = None,
                          limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[FootageRequestOut]:
    """Owners see the requests for their cameras, analysts their own, admins and auditors all; newest first."""
    if user.role == Role.DISPATCH:
        raise AccessRefused("needs role analyst, owner, admin or auditor", 403)
    query = (select(FootageRequest, Camera, Business, User.unit).join(Camera, FootageRequest.camera_id == Camera.id)
             .join(Appliance).join(Business, Appliance.business_id == Business.id)
             .outerjoin(User, User.username == FootageRequest.analyst)
             .where(FootageRequest.mode == "clip").order_by(FootageRequest.id.desc()).limit(limit))
    if user.role == Role.OWNER:
        query = query.where(Appliance.business_id == user.business_id)
    elif user.role == Role.ANALYST:
        query = query.where(FootageRequest.analyst == user.username)
    if case_number is not None:
        query = query.where(FootageRequest.case_number == case_number)
    if status is not None:
        query = query.where(FootageRequest.status == status.value)
    return [_request_out(*row) for row in session.execute(query)]


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    approve: bool
    note: Annotated[str, Field(max_length=2000, description="Why (a denial needs one; the analyst reads it).")] = ""
    window_from: Moment | None = Field(None, description="Approve less than asked: the start of the part approved.")
    window_to: Moment | None = Field(None, description="… and its end (inside the requested window).")
    signed_approval: wo.OwnerSigned | None = Field(None, description=(
        "An approval: the owner's passkey over the document from `approval-document` for this same window."))


class ApprovalWindowIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    window_from: Moment | None = Field(None, description="Approve less than asked: the start of the part approved.")
    window_to: Moment | None = Field(None, description="… and its end (inside the requested window).")


class ToSignOut(BaseModel):
    document: str = Field(description="The canonical approval to sign, exactly these bytes (UTF-8).")
    options: dict = Field(description="`navigator.credentials.get` options that sign it with your passkey.")


@router.post("/footage-requests/{request_id}/approval-document", response_model=ToSignOut,
             responses={403: {"description": "Only the camera's owner approves"},
                        422: {"description": "A trimmed window outside the request"}})
def approval_document(request_id: Id, body: ApprovalWindowIn, footage: FootageDep, user: UserDep) -> ToSignOut:
    """The approval the owner signs for this request and window (nothing is stored)."""
    document, options = footage.approval_document(user, request_id, Decision(
        approve=True, window_from=body.window_from, window_to=body.window_to))
    return ToSignOut(document=document, options=options)


@router.post("/footage-requests/{request_id}/decision", response_model=OutcomeOut,
             responses={403: {"description": "Only the camera's owner approves (an admin may deny)"},
                        409: {"description": "Already decided, or expired"},
                        422: {"description": "A trimmed window outside the request, a denial without a reason, or "
                                             "an approval not signed with the owner's passkey"}})
def decide_footage(request_id: Id, body: DecisionIn, request: Request, footage: FootageDep,
                   user: UserDep) -> OutcomeOut:
    """The owner approves (the whole window or a part of it, signed with their passkey) or denies with a reason;
    audited either way."""
    decision = Decision(approve=body.approve, note=body.note, window_from=body.window_from, window_to=body.window_to,
                        signed_approval=body.signed_approval)
    return _outcome(footage.decide(user, request_id, decision, client_address(request)))


class NoticeOut(BaseModel):
    id: int
    kind: str
    message: str
    request_id: int | None
    created_at: dt.datetime
    read: bool


@router.get("/notices", response_model=list[NoticeOut])
def list_notices(session: SessionDep, user: UserDep,
                 unread: Annotated[bool, Query(description="Only those not yet read.")] = False) -> list[NoticeOut]:
    """What waits for the signed-in owner (footage requests for their business), newest first."""
    query = select(Notice).order_by(Notice.id.desc()).limit(500)
    query = query.where(Notice.business_id == user.business_id) if user.role == Role.OWNER else \
        query.where(Notice.user_id == user.id)
    if unread:
        query = query.where(Notice.read_at.is_(None))
    return [NoticeOut(id=n.id, kind=n.kind, message=n.message, request_id=n.request_id, created_at=n.created_at,
                      read=n.read_at is not None) for n in session.scalars(query)]


@router.post("/notices/{notice_id}/read", status_code=204)
def read_notice(notice_id: Id, session: SessionDep, user: UserDep) -> None:
    notice = session.get(Notice, notice_id)
    mine = notice is not None and (notice.user_id == user.id or
                                   (user.role == Role.OWNER and notice.business_id == user.business_id))
    if not mine:
        raise AccessRefused("no such notice", 404)
    notice.read_at = notice.read_at or utcnow()
