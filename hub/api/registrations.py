"""Registered cameras without an appliance, over HTTP.

Public (no account; rate-limited per address and per e-mail address; answers never say whether an address or
a registration exists):

    POST   /api/registrations            the public form → 202 "check your e-mail" (the confirmation e-mail)
    GET    /api/registrations/config     the agency's name and the map's tiles, for the public pages
    GET    /api/registration             the registration its private link's token proves (Bearer token)
    POST   /api/registration/confirm     confirm (double opt-in) or re-confirm it
    PUT    /api/registration             change it (a new e-mail address must confirm again)
    DELETE /api/registration             delete it: the personal data goes; the audit log keeps the fact

Analysts:

    POST   /api/owner-requests           ask registered cameras' owners for footage (e-mails their upload links)
    GET    /api/owner-requests           those requests (an analyst's own; of one incident), with their files
    GET    /api/owner-files/{id}/download  a file an owner uploaded, to those who see its case (audited)
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.concurrency import run_in_threadpool

from hub import audit
from hub.address_limits import AddressLimiter
from hub.api.boundary import INT64_MAX, Id, Moment
from hub.api.deps import RecorderDep, SessionDep, UserDep, client_address, require
from hub.api.footage import CaseNumber
from hub.clips.errors import NotFound
from hub.clips.library import visible_case
from hub.registrations import tokens
from hub.registrations.case_view import OwnerRequestOut, owner_requests_where
from hub.registrations.errors import LinkClosed, LinkNotValid, RegistrationError, TooMany
from hub.registrations.forms import MAX_CAMERAS, Accepted, PublicConfig, RegistrationIn, RegistrationOut
from hub.registrations.requests import OwnerAsking, OwnerRequests
from hub.registrations.service import Registrations
from hub.tables import Case, OwnerRequest, OwnerUpload, Role, User
from wire import consent as c

router = APIRouter(prefix="/api", tags=["registrations"])
Analyst = Annotated[User, Depends(require(Role.ANALYST, Role.ADMIN))]
CHECK_MAIL = ("Thank you. We sent an e-mail to the address you gave: open the link in it and press \"Confirm\". "
              "Your cameras count only once you confirm.")


class RegistrationLimits:
    """How often one network address may send the form (or a change), and one e-mail address receive a
    confirmation."""

    def __init__(self, per_address_per_hour: int, per_email_per_day: int):
        self.addresses = AddressLimiter(per_address_per_hour, 3600)
        self.emails = AddressLimiter(per_email_per_day, 86400)

    def admit_address(self, source: str) -> None:
        verdict = self.addresses.admit("registration", source)
        if not verdict.allowed:
            raise TooMany("too many registrations from your network address; try again later",
                          verdict.retry_after_s)

    def admit_email(self, email: str) -> None:
        verdict = self.emails.admit("registration-email", email.lower())
        if not verdict.allowed:
            raise TooMany("too many registrations for this e-mail address today; try again tomorrow",
                          verdict.retry_after_s)


def registration_error(request: Request, exc: Exception) -> JSONResponse:
    """The JSON answer for a RegistrationError: its message (and the link's state, or when to retry)."""
    assert isinstance(exc, RegistrationError)
    body: dict = {"detail": str(exc)}
    headers = None
    if isinstance(exc, LinkClosed):
        body["state"] = exc.state
    if isinstance(exc, TooMany):
        headers = {"Retry-After": str(exc.retry_after_s)}
    return JSONResponse(body, status_code=exc.status, headers=headers)


def link_token(request: Request) -> str:
    """The token of a private link, presented as `Authorization: Bearer …`."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not tokens.well_formed(token):
        raise LinkNotValid("this link is not valid: copy the whole link from the e-mail (the page sends it as "
                           "Authorization: Bearer …)")
    return token


def _registrations(request: Request) -> Registrations:
    return request.app.state.registrations


def _limits(request: Request) -> RegistrationLimits:
    return request.app.state.registration_limits


Token = Annotated[str, Depends(link_token)]


@router.get("/registrations/config", response_model=PublicConfig)
def public_config(request: Request) -> PublicConfig:
    """The agency's name and the map the public registration page shows (no sign-in)."""
    settings = request.app.state.hub.settings
    return PublicConfig(agency=settings.agency_name, tile_url=settings.map_tile_url,
                        tile_attribution=settings.map_tile_attribution, tile_max_zoom=settings.map_tile_max_zoom,
                        center_latitude=settings.public_map_latitude, center_longitude=settings.public_map_longitude,
                        max_cameras=MAX_CAMERAS)


@router.post("/registrations", status_code=status.HTTP_202_ACCEPTED, response_model=Accepted)
async def register(form: RegistrationIn, request: Request) -> Accepted:
    """Register cameras; nothing counts until the e-mail address confirms. 429 past the rate limits."""
    limits = _limits(request)
    limits.admit_address(client_address(request))
    limits.admit_email(form.email)
    await run_in_threadpool(_registrations(request).register, form)
    return Accepted(message=CHECK_MAIL)


@router.get("/registration", response_model=RegistrationOut)
async def my_registration(request: Request, token: Token) -> RegistrationOut:
    """The registration the private link proves (404 for a link that is not valid)."""
    return await run_in_threadpool(_registrations(request).view, token)


@router.post("/registration/confirm", response_model=RegistrationOut)
async def confirm_registration(request: Request, token: Token) -> RegistrationOut:
    """Confirm the registration (or re-confirm it when reminded): its cameras are offered from now."""
    return await run_in_threadpool(_registrations(request).confirm, token)


@router.put("/registration", response_model=RegistrationOut)
async def change_registration(form: RegistrationIn, request: Request, token: Token) -> RegistrationOut:
    """Change the registration; a new e-mail address must confirm again (the old link stops working)."""
    limits = _limits(request)
    limits.admit_address(client_address(request))
    return await run_in_threadpool(_registrations(request).change, token, form)


@router.delete("/registration", status_code=status.HTTP_204_NO_CONTENT)
async def delete_registration(request: Request, token: Token) -> Response:
    """Delete the registration and its personal data."""
    await run_in_threadpool(_registrations(request).delete, token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------- analysts


class OwnerAskIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    registered_camera_ids: Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=1, max_length=50)]
    window_from: Moment
    window_to: Moment
    purpose: c.Purpose
    reason: Annotated[str, Field(min_length=10, max_length=2000, description="Why: kept and audited, never "
                                                                             "shown to the owner.")]
    case_number: CaseNumber
    incident_id: Annotated[int | None, Field(ge=1)] = None
    latitude: Annotated[float | None, Field(ge=-90, le=90)] = None
    longitude: Annotated[float | None, Field(ge=-180, le=180)] = None
    radius_m: Annotated[float, Field(gt=0, le=20_000)] = 500

    @model_validator(mode="after")
    def _distinct(self) -> "OwnerAskIn":
        if len(set(self.registered_camera_ids)) != len(self.registered_camera_ids):
            raise ValueError("each camera once")
        return self


class OwnerAskedOut(BaseModel):
    registered_camera_id: int
    request_id: int
    link_expires_at: Moment


@router.post("/owner-requests", response_model=list[OwnerAskedOut], status_code=status.HTTP_201_CREATED)
async def ask_owners(body: OwnerAskIn, request: Request, user: Analyst) -> list[OwnerAskedOut]:
    """Ask registered cameras' owners for footage: one request each under the case, an e-mail with a
    single-use upload link to each owner."""
    service: OwnerRequests = request.app.state.owner_requests
    asking = OwnerAsking(analyst=user.username, unit=user.unit or "",
                         registered_camera_ids=tuple(body.registered_camera_ids), window_from=body.window_from,
                         window_to=body.window_to, purpose=body.purpose, reason=body.reason,
                         case_number=body.case_number, incident_id=body.incident_id, latitude=body.latitude,
                         longitude=body.longitude, radius_m=body.radius_m)
    asked = await run_in_threadpool(service.ask, asking, client_address(request))
    return [OwnerAskedOut(registered_camera_id=a.registered_camera_id, request_id=a.request_id,
                          link_expires_at=a.link_expires_at) for a in asked]


@router.get("/owner-requests", response_model=list[OwnerRequestOut])
def list_owner_requests(session: SessionDep, user: Analyst,
                        incident_id: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None) -> list[OwnerRequestOut]:
    """Requests to registered cameras' owners, with the files they uploaded: an analyst's own, every one for an
    admin; of one incident if asked."""
    conditions = [] if user.role == Role.ADMIN else [OwnerRequest.analyst == user.username]
    if incident_id is not None:
        conditions.append(OwnerRequest.incident_id == incident_id)
    return owner_requests_where(session, *conditions)


@router.get("/owner-files/{file_id}/download", response_class=StreamingResponse)
def download_owner_file(file_id: Id, request: Request, session: SessionDep, user: UserDep,
                        recorder: RecorderDep) -> StreamingResponse:
    """A file an owner uploaded, exactly as it arrived, to those who see its case; audited before a byte goes."""
    row = session.get(OwnerUpload, file_id)
    case = session.get(Case, row.case_id) if row is not None else None
    if row is None or row.deleted_at is not None:
        raise RegistrationError(f"no file {file_id}", 404)
    try:
        visible_case(session, user, case.case_number)
    except NotFound:  # another analyst's case is "not found", as if it did not exist
        raise RegistrationError(f"no file {file_id}", 404) from None
    recorder.record(actor=user.username, action="owner_file.download", object=f"owner_file:{row.id}",
                    outcome=audit.Outcome.SUCCESS, source=client_address(request), case_number=case.case_number, essential=True,
                    sha256=row.sha256, bytes=row.bytes)
    store = request.app.state.hub.clip_store
    return StreamingResponse(store.stream(row.storage_key), media_type="application/octet-stream",
                             headers={"Content-Length": str(row.bytes),
                                      "Content-Disposition": f'attachment; filename="owner-file-{row.id}"'})
