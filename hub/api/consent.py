"""Consent the owner sets, and access requests the hub checks before it signs a grant.

Every consent change is a new version (who, when), signed by the owner's
passkey in the console over the document the hub prepares, checked, stored,
audited and forwarded to the appliance; the appliance keeps the newest its
owner signed and judges every grant against it, whatever the hub says. An access request needs a reason and a
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
from hub import owner_keys
from hub.access.errors import AccessRefused
from hub.access.grants import current_consent
from hub.access.service import AccessResult, Ask, Purpose
from hub.api.boundary import Id, Moment
from hub.api.deps import AccessDep, HubDep, SessionDep, UserDep, client_address, require
from hub.api.registry import owned_business, visible_camera
from hub.tables import Appliance, Camera, ConsentVersion, FootageRequest, Role, User
from wire import consent as c
from wire import owner as wo

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


class ToSignOut(BaseModel):
    document: str = Field(description="The canonical document to sign, exactly these bytes (UTF-8).")
    options: dict = Field(description="`navigator.credentials.get` options whose challenge is the document's "
                          "SHA-256 (base64url), limited to your passkeys.")


def camera_of_owner(session, user: User, camera_id: int) -> Camera:
    """The camera if `user` is its business's owner: only the owner signs its consent (an admin cannot)."""
    camera = visible_camera(session, user, camera_id)
    if user.role != Role.OWNER:
        raise AccessRefused("only the camera's owner sets its consent, signed with their passkey", 403)
    owned_business(session, user, camera.appliance.business_id)
    return camera


@router.post("/cameras/{camera_id}/consent/document", response_model=ToSignOut)
def consent_document(camera_id: Id, policy: c.Policy, session: SessionDep, hub: HubDep, user: UserDep) -> ToSignOut:
    """The camera's next policy version as the document the owner signs (nothing is stored)."""
    camera = camera_of_owner(session, user, camera_id)
    before = current_consent(session, camera_id)
    document = c.canonical(c.PolicyDocument(device_id=camera.appliance.device_id, camera=camera.name,
                                            version=(before.version if before else 0) + 1,
                                            issued_at=dt.datetime.now(dt.timezone.utc), policy=policy))
    return ToSignOut(document=document, options=owner_keys.signing_options(session, hub.settings, user, document))


@router.put("/cameras/{camera_id}/consent", response_model=ConsentOut,
            responses={409: {"description": "A newer version was saved meanwhile: sign again over the current one"},
                       422: {"description": "Not signed with your passkey, or not a policy of this camera"}})
def set_consent(camera_id: Id, signed: wo.OwnerSigned, request: Request, hub: HubDep, access: AccessDep,
                user: UserDep) -> ConsentOut:
    """Save a policy the owner signed (from `consent/document`); the box gets it at once if it is online."""
    with hub.db.session() as session:
        camera = camera_of_owner(session, user, camera_id)
        document = owner_keys.open_signed(session, hub.settings, user, signed, c.PolicyDocument)
        if (document.device_id, document.camera) != (camera.appliance.device_id, camera.name):
            raise AccessRefused("the signed policy is for another camera", 422)
        before = current_consent(session, camera_id)
        if document.version != (before.version if before else 0) + 1:
            raise AccessRefused(f"the signed policy is version {document.version}; the next version is "
                                f"{(before.version if before else 0) + 1}: sign again", 409)
        policy = document.policy
        row = ConsentVersion(camera_id=camera_id, version=document.version, policy=policy.model_dump(mode="json"),
                             created_by=user.username, signed=signed.model_dump_json())
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
    signed_approval: wo.OwnerSigned | None = Field(None, description=(
        "An approval: the owner's passkey over the document from `approval-document`."))


@router.post("/requests/{request_id}/approval-document", response_model=ToSignOut, tags=["consent"])
def request_approval_document(request_id: Id, access: AccessDep, user: UserDep) -> ToSignOut:
    """The approval the owner signs for this request (nothing is stored)."""
    document, options = access.approval_document(user, request_id)
    return ToSignOut(document=document, options=options)


@router.post("/requests/{request_id}/decision", response_model=AccessOut, tags=["consent"])
def decide(request_id: Id, body: DecisionIn, request: Request, access: AccessDep, user: UserDep) -> AccessOut:
    """The owner approves (signed with their passkey) or denies; an approval is audited, then granted and
    presented to the appliance with the owner's signature inside."""
    return _access_out(access.decide(user, request_id, body.approve, body.note, client_address(request),
                                     body.signed_approval))
