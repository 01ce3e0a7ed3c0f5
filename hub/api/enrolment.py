"""Claim codes, appliance enrolment and key rotation, the appliance list and revocation."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Annotated

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from hub import audit, enrolment
from hub.api.boundary import Id
from hub.api.deps import AdminDep, HubDep, SessionDep, UserDep, client_address
from hub.api.registry import owned_business
from hub.services import HubServices
from hub.keys import public_pem
from hub.tables import Appliance, ApplianceState, Role, Site
from wire.enrolment import BrokerOut, EnrollIn, EnrollOut, RotateIn

router = APIRouter(prefix="/api", tags=["appliances"])


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClaimCodeIn(_In):
    site_id: int | None = None
    ttl_s: Annotated[int | None, Field(ge=60, le=30 * 86400)] = None


class ClaimCodeOut(BaseModel):
    code: str
    expires_at: dt.datetime


@router.post("/businesses/{business_id}/claim-codes", response_model=ClaimCodeOut, status_code=201)
def create_claim_code(business_id: Id, body: ClaimCodeIn, request: Request, hub: HubDep, session: SessionDep,
                      user: UserDep) -> ClaimCodeOut:
    business = owned_business(session, user, business_id)
    site = None
    if body.site_id is not None:
        site = session.get(Site, body.site_id)
        if site is None or site.business_id != business_id:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such site for this business")
    code, row = enrolment.create_claim_code(session, secret=hub.settings.secret_key, business=business, site=site,
                                            user=user, ttl_s=body.ttl_s or hub.settings.claim_code_ttl_s,
                                            source=client_address(request))
    return ClaimCodeOut(code=code, expires_at=row.expires_at)


def _enrolled(hub: HubServices, result: enrolment.Enrolled) -> EnrollOut:
    return EnrollOut(device_id=result.appliance.device_id, certificate_pem=result.certificate_pem,
                     ca_chain_pem=hub.ca.pem.decode(),
                     broker=BrokerOut(host=hub.settings.broker_host, port=hub.settings.broker_port),
                     grant_public_key_pem=hub.grant_public_key_pem,
                     audit_public_key_pem=public_pem(hub.audit_key), audit_origin=hub.settings.audit_origin)


#: Who a signed-out caller is on the record: only its source address is known, not what it claims to be.
UNAUTHENTICATED = "unauthenticated"


def _throttled(request: Request, action: str, source: str, hub: HubServices) -> None:
    """429 once `source` has tried `action` signed out too often; the first refusal of a spell is audited."""
    verdict = request.app.state.address_limiter.admit(action, source)
    if verdict.allowed:
        return
    if verdict.first_refusal:
        with hub.db.session() as session:
            audit.append(session, actor=UNAUTHENTICATED, action=action, outcome=audit.Outcome.DENIED, source=source,
                         reason="too many attempts from this address: throttled (further refusals not logged)")
    raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, "too many attempts from this address; try again later",
                        headers={"Retry-After": str(verdict.retry_after_s)})


def _refused(hub: HubServices, exc: enrolment.EnrolmentError, action: str, source: str, **claimed: str) -> HTTPException:
    with hub.db.session() as session:  # the request's own transaction is rolled back
        audit.append(session, actor=UNAUTHENTICATED, action=action, outcome=audit.Outcome.DENIED, source=source,
                     reason=str(exc), **claimed)
    code = status.HTTP_422_UNPROCESSABLE_CONTENT if isinstance(exc, enrolment.BadCsr) else status.HTTP_403_FORBIDDEN
    return HTTPException(code, f"enrolment refused: {exc}")


@router.post("/enroll", response_model=EnrollOut, status_code=201,
             responses={403: {"description": "Unknown, used or expired claim code"}})
def enroll(body: EnrollIn, request: Request, hub: HubDep) -> EnrollOut:
    """Called by `canvass-provision enroll` on the appliance; the claim code is the credential."""
    source = client_address(request)
    _throttled(request, "appliance.enroll", source, hub)
    try:
        with hub.db.session() as session:
            result = enrolment.enroll(session, ca=hub.ca, secret=hub.settings.secret_key, code=body.code,
                                      csr_pem=body.csr_pem, name=body.name, source=source)
            out = _enrolled(hub, result)
    except enrolment.EnrolmentError as exc:
        raise _refused(hub, exc, "appliance.enroll", source) from None
    hub.refresh_broker_access()
    return out


@router.post("/enroll/rotate", response_model=EnrollOut,
             responses={403: {"description": "Unknown device or bad proof of possession"}})
def rotate(body: RotateIn, request: Request, hub: HubDep) -> EnrollOut:
    """Re-enrolment: a new key for an enrolled appliance, proven by a signature from its current key."""
    source = client_address(request)
    _throttled(request, "appliance.rotate_key", source, hub)
    try:
        proof = base64.b64decode(body.proof_b64, validate=True)
    except ValueError:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "proof_b64 is not base64") from None
    try:
        with hub.db.session() as session:
            result = enrolment.rotate(session, ca=hub.ca, device_id=body.device_id, csr_pem=body.csr_pem,
                                      proof=proof, source=source)
            out = _enrolled(hub, result)
    except enrolment.EnrolmentError as exc:
        raise _refused(hub, exc, "appliance.rotate_key", source, claimed_device_id=body.device_id) from None
    hub.refresh_broker_access()
    return out


class ApplianceOut(BaseModel):
    device_id: str
    business_id: int
    site_id: int | None
    name: str
    state: ApplianceState
    online: bool
    last_seen: dt.datetime | None
    enrolled_at: dt.datetime


def appliance_out(a: Appliance) -> ApplianceOut:
    return ApplianceOut(device_id=a.device_id, business_id=a.business_id, site_id=a.site_id, name=a.name,
                        state=a.state, online=a.online, last_seen=a.last_seen, enrolled_at=a.enrolled_at)


@router.get("/appliances", response_model=list[ApplianceOut])
def list_appliances(session: SessionDep, user: UserDep) -> list[ApplianceOut]:
    query = select(Appliance).order_by(Appliance.id)
    if user.role == Role.OWNER:
        query = query.where(Appliance.business_id == user.business_id)
    elif user.role not in (Role.ADMIN, Role.ANALYST, Role.AUDITOR):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "not allowed")
    return [appliance_out(a) for a in session.scalars(query)]


class RevokeIn(_In):
    reason: Annotated[str, Field(min_length=3, max_length=500)]


@router.post("/appliances/{device_id}/revoke", response_model=ApplianceOut)
def revoke(device_id: str, body: RevokeIn, request: Request, hub: HubDep, admin: AdminDep) -> ApplianceOut:
    with hub.db.session() as session:
        appliance = session.scalar(select(Appliance).where(Appliance.device_id == device_id))
        if appliance is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such appliance")
        enrolment.revoke(session, appliance=appliance, actor=admin.username, source=client_address(request),
                         reason=body.reason)
        out = appliance_out(appliance)
    hub.refresh_broker_access()
    return out

