"""Footage requests to registered cameras' owners, and their upload links.

An analyst's ask has the same shape and limits as one to appliance cameras (`hub.footage`): one window within
`footage_max_window_s` and `footage_max_age_days`, a purpose, a reason, a case number, an incident or a point
and radius that every asked camera is inside. Input that cannot be served fails the whole ask before anything
is stored. Each camera then gets an `OwnerRequest` under the case, audited (`footage.request`) with the exact
window, and its owner an e-mail with a single-use link (`upload_link_ttl_h`, only its SHA-256 kept) to a page
showing the window, the case's public reference and the agency — never the reason.

A link takes files until the owner presses done or declines, or it expires; after that it says so. Every
upload, decline, completion and expiry is audited. Every method blocks: call it from a worker thread.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import audit
from hub.db import Database
from hub.footage import checks
from hub.footage.service import FootageAsk
from hub.geo import haversine_m
from hub.mail import Mailer
from hub.registrations import mails, tokens
from hub.registrations.errors import LinkClosed, LinkNotValid, Refused, RegistrationError
from hub.registrations.forms import LinkFile, LinkOut
from hub.registrations.service import offered
from hub.settings import HubSettings
from hub.tables import Case, Incident, OwnerRequest, OwnerUpload, RegisteredCamera, Registration, utcnow
from wire import audit as wa

log = logging.getLogger(__name__)

OPEN, DONE, DECLINED, EXPIRED = "open", "done", "declined", "expired"
CLOSED_MESSAGES = {
    DONE: "This link was already used: the owner finished uploading. Thank you.",
    DECLINED: "This link was already used: the owner declined the request.",
    EXPIRED: "This link has expired. If you still want to share footage, contact the agency with the case "
             "reference.",
}


@dataclass(frozen=True, kw_only=True)
class OwnerAsking(FootageAsk):
    """An analyst's ask of registered cameras (their owners upload)."""

    registered_camera_ids: tuple[int, ...]


@dataclass(frozen=True)
class OwnerAsked:
    registered_camera_id: int
    request_id: int
    link_expires_at: dt.datetime


@dataclass(frozen=True)
class LinkTicket:
    """An open upload link, as its token proves it."""

    request_id: int
    case_id: int
    case_number: str
    token_hash: str

    @property
    def upload_prefix(self) -> str:
        """Every upload through this link has an id starting so (and no other link's does, in practice)."""
        return self.token_hash[:12]


def window_details(window_from: dt.datetime, window_to: dt.datetime) -> dict:
    return wa.FootageWindow(window_from=window_from, window_to=window_to).details()


class OwnerRequests:
    def __init__(self, db: Database, settings: HubSettings, mailer: Mailer,
                 clock: Callable[[], dt.datetime] = utcnow):
        self.db, self.settings, self.mailer, self.clock = db, settings, mailer, clock

    # -- the analyst's ask --------------------------------------------------------------------

    def ask(self, asking: OwnerAsking, source: str) -> list[OwnerAsked]:
        settings, now = self.settings, self.clock()
        problem = checks.clip_window_problem(asking.window_from, asking.window_to, now=now,
                                             max_age_s=settings.footage_max_age_days * 86400,
                                             max_length_s=settings.footage_max_window_s)
        if problem:
            raise Refused(problem)
        asked, outgoing = [], []
        with self.db.session() as session:
            cameras = self._cameras_in_canvass(session, asking, now)
            case = case_for(session, asking, retention_days=settings.case_retention_days, now=now)
            for camera, registration in cameras:
                token = tokens.new_link_token()
                request = OwnerRequest(
                    registered_camera_id=camera.id, case_id=case.id, incident_id=asking.incident_id,
                    analyst=asking.analyst, unit=asking.unit, purpose=asking.purpose, reason=asking.reason,
                    case_number=asking.case_number, window_from=asking.window_from, window_to=asking.window_to,
                    status=OPEN, created_at=now, link_token_hash=tokens.digest(token),
                    link_expires_at=now + dt.timedelta(hours=settings.upload_link_ttl_h))
                session.add(request)
                session.flush()
                audit.append(session, actor=asking.analyst, action="footage.request", outcome="pending",
                             object=f"registered_camera:{camera.id}", source=source, reason=asking.reason,
                             case_number=asking.case_number, owner_request_id=request.id, purpose=asking.purpose,
                             unit=asking.unit, incident_id=asking.incident_id,
                             link_expires_at=request.link_expires_at.isoformat(),
                             **window_details(asking.window_from, asking.window_to))
                asked.append(OwnerAsked(camera.id, request.id, request.link_expires_at))
                outgoing.append(mails.request_mail(
                    settings, registration.email, link_token=token,
                    manage_token=tokens.manage_token(settings.secret_key, registration.manage_salt),
                    reference=case.public_reference, window=(asking.window_from, asking.window_to),
                    camera=camera.description or "your registered camera", expires_at=request.link_expires_at))
        for mail in outgoing:
            self.mailer.send(mail)
        return asked

    def _cameras_in_canvass(self, session: Session, asking: OwnerAsking,
                            now: dt.datetime) -> list[tuple[RegisteredCamera, Registration]]:
        if not 0 < asking.radius_m <= self.settings.canvass_max_radius_m:
            raise Refused(f"the radius must be between 0 and {self.settings.canvass_max_radius_m:g} m")
        latitude, longitude = _canvass_point(session, asking)
        found = []
        for camera_id in asking.registered_camera_ids:
            row = session.execute(select(RegisteredCamera, Registration).join(Registration)
                                  .where(RegisteredCamera.id == camera_id)).first()
            if row is None or not offered(row[1].status, row[1].reconfirm_by, now):
                raise RegistrationError(f"no registered camera {camera_id} is offered (unknown, unconfirmed, "
                                        "stale or deleted)", 404)
            distance = haversine_m(latitude, longitude, row[0].latitude, row[0].longitude)
            if distance > asking.radius_m:
                raise Refused(f"registered camera {camera_id} is {distance:.0f} m from the canvass point, outside "
                              f"its {asking.radius_m:g} m radius")
            found.append((row[0], row[1]))
        return found

    # -- the owner's link ---------------------------------------------------------------------

    def _request(self, session: Session, token: str) -> OwnerRequest:
        request = session.scalar(select(OwnerRequest).where(
            OwnerRequest.link_token_hash == tokens.digest(token))) if tokens.well_formed(token) else None
        if request is None:
            raise LinkNotValid("this upload link is not valid: copy the whole link from the e-mail")
        if request.status == OPEN and request.link_expires_at <= self.clock():
            self._expire(session, request)
        return request

    def _open(self, session: Session, token: str) -> OwnerRequest:
        request = self._request(session, token)
        if request.status != OPEN:
            raise LinkClosed(CLOSED_MESSAGES[request.status], request.status)
        return request

    def ticket(self, token: str) -> LinkTicket:
        """The open link `token` proves (LinkNotValid, LinkClosed otherwise)."""
        with self.db.session() as session:
            request = self._open(session, token)
            return LinkTicket(request.id, request.case_id, request.case_number, request.link_token_hash)

    def view(self, token: str) -> LinkOut:
        """What the link's page shows, whatever state the link is in."""
        with self.db.session() as session:
            request = self._request(session, token)
            case = session.get(Case, request.case_id)
            camera = session.get(RegisteredCamera, request.registered_camera_id) \
                if request.registered_camera_id else None
            files = session.scalars(select(OwnerUpload).where(OwnerUpload.request_id == request.id)
                                    .order_by(OwnerUpload.id)).all()
            settings = self.settings
            return LinkOut(state=request.status, agency=settings.agency_name, case_reference=case.public_reference,
                           window_from=request.window_from, window_to=request.window_to,
                           expires_at=request.link_expires_at,
                           camera=(camera.description if camera else "") or "your registered camera",
                           max_files=settings.owner_upload_max_files,
                           max_file_bytes=settings.owner_upload_max_file_bytes,
                           max_total_bytes=settings.owner_upload_max_total_bytes,
                           chunk_bytes=settings.clip_upload_max_chunk_bytes,
                           files=[LinkFile(filename=f.filename, bytes=f.bytes, sha256=f.sha256,
                                           uploaded_at=f.uploaded_at) for f in files])

    def decline(self, token: str, statement: str, source: str) -> None:
        """The owner declines in one click (nothing they uploaded is removed: it is evidence already)."""
        self._close(token, DECLINED, "footage.declined", statement, source)

    def finish(self, token: str, statement: str, source: str) -> None:
        """The owner is done: the link stops taking files; their statement goes with the uploads."""
        self._close(token, DONE, "footage.owner_done", statement, source)

    def _close(self, token: str, state: str, action: str, statement: str, source: str) -> None:
        with self.db.session() as session:
            request = self._open(session, token)
            files = session.scalars(select(OwnerUpload.id).where(OwnerUpload.request_id == request.id)).all()
            if state == DONE and not files:
                raise Refused("nothing was uploaded yet: upload a file first, or decline")
            request.status, request.closed_at, request.statement = state, self.clock(), statement
            audit.append(session, actor="registered-owner", action=action,
                         outcome=audit.Outcome.SUCCESS if state == DONE else audit.Outcome.DENIED,
                         object=f"owner_request:{request.id}", source=source, case_number=request.case_number,
                         owner_request_id=request.id, files=len(files), statement_chars=len(statement))

    # -- expiry -------------------------------------------------------------------------------

    def expire_due(self) -> list[str]:
        """Expire every open link past its time (audited); the upload-id prefixes of the links expired."""
        with self.db.session() as session:
            due = session.scalars(select(OwnerRequest).where(OwnerRequest.status == OPEN,
                                                             OwnerRequest.link_expires_at <= self.clock())).all()
            for request in due:
                self._expire(session, request)
            return [request.link_token_hash[:12] for request in due]

    def _expire(self, session: Session, request: OwnerRequest) -> None:
        request.status, request.closed_at = EXPIRED, self.clock()
        audit.append(session, actor="hub", action="footage.expired", outcome=audit.Outcome.FAILURE,
                     object=f"owner_request:{request.id}", case_number=request.case_number,
                     owner_request_id=request.id, reason="the owner's upload link expired",
                     **window_details(request.window_from, request.window_to))


def _canvass_point(session: Session, asking: OwnerAsking) -> tuple[float, float]:
    if asking.incident_id is not None:
        incident = session.get(Incident, asking.incident_id)
        if incident is None:
            raise RegistrationError("no such incident", 404)
        if incident.status != "open":
            raise RegistrationError("the incident is closed: reopen it to request footage for it", 409)
        return incident.latitude, incident.longitude
    if asking.latitude is None or asking.longitude is None:
        raise Refused("say where the canvass is: an incident, or a latitude and longitude")
    return asking.latitude, asking.longitude


def case_for(session: Session, asking: OwnerAsking, *, retention_days: int, now: dt.datetime) -> Case:
    """The case of the ask's case number, opened now if there is none (as an appliance request opens it)."""
    case = session.scalar(select(Case).where(Case.case_number == asking.case_number))
    if case is None:
        case = Case(case_number=asking.case_number, incident_id=asking.incident_id,
                    public_reference=f"C-{secrets.token_hex(5).upper()}", created_by=asking.analyst,
                    created_at=now, retain_until=now + dt.timedelta(days=retention_days))
        session.add(case)
        session.flush()
    elif case.incident_id is None and asking.incident_id is not None:
        case.incident_id = asking.incident_id
    return case
