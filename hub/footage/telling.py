"""Who is told of a footage request, and how: the box (a `FootageNotice`: it shows the request to its owner and
holds the window), the owner in the hub (a `Notice` row the owner console lists) and by e-mail.

E-mail carries what the owner needs to find the request — camera, window, purpose, the case's public
reference, until when — never the analyst's reason text, which may name people: that is read in the hub."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from hub.mail import Mail, Mailer
from hub.services import HubServices
from hub.tables import Business, Camera, Case, FootageRequest, Notice, OwnerAlertSettings, Role, User
from wire import messages as m

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BoxNotice:
    device_id: str
    notice: m.FootageNotice


def box_notice(request: FootageRequest, camera: Camera, note: str = "") -> BoxNotice:
    """The box's view of `request` as it stands (its approved window once approved)."""
    window_from = request.approved_from or request.window_from
    window_to = request.approved_to or request.window_to
    status = request.status if request.status in m.RequestStatus.__args__ else "cancelled"
    expires_at = request.expires_at or request.created_at + dt.timedelta(days=7)
    return BoxNotice(camera.appliance.device_id, m.FootageNotice(
        request_id=request.id, camera=camera.name, window_from=window_from, window_to=window_to, status=status,
        analyst=request.analyst, purpose=request.purpose, case_number=request.case_number,
        reason=request.reason, expires_at=expires_at, note=note[:2000]))


def tell_boxes(services: HubServices, notices: list[BoxNotice], wait_s: float = 0) -> dict[int, m.NoticeTaken]:
    """Send each notice; wait up to `wait_s` (in all) for the boxes' answers. A box that is away gets the
    request's state again when it comes back online."""
    if services.link is None or not notices:
        return {}
    pending = [(n.notice.request_id, services.link.send(n.device_id, n.notice)) for n in notices]
    deadline = time.monotonic() + wait_s
    answers = {}
    for request_id, handle in pending:
        handle.done.wait(max(0.0, deadline - time.monotonic()))
        if handle.reply is None:
            continue
        try:
            answers[request_id] = m.result_of(handle.reply, m.NoticeTaken)
        except m.WireError as exc:
            log.warning("box refused the notice of request %d: %s", request_id, exc)
    return answers


def tell_owners(session: Session, services: HubServices, mailer: Mailer, request: FootageRequest,
                camera: Camera) -> None:
    """A notice in the hub for the camera's business, and an e-mail to its owners who gave an address."""
    business = session.get(Business, camera.appliance.business_id)
    case = session.get(Case, request.case_id) if request.case_id else None
    reference = case.public_reference if case else request.case_number
    message = (f"Footage request {request.id}: camera {camera.name} of {business.name}, "
               f"{request.window_from:%Y-%m-%d %H:%M:%S} to {request.window_to:%Y-%m-%d %H:%M:%S} UTC, "
               f"purpose {request.purpose.replace('_', ' ')}, case {reference}; please decide by "
               f"{request.expires_at:%Y-%m-%d %H:%M} UTC.")
    session.add(Notice(business_id=business.id, kind="footage_request", message=message, request_id=request.id))
    owners = session.scalars(  # those who did not turn request e-mails off (the default is on)
        select(User).outerjoin(OwnerAlertSettings, OwnerAlertSettings.user_id == User.id)
        .where(User.business_id == business.id, User.role == Role.OWNER, User.disabled.is_(False), User.email != "",
               or_(OwnerAlertSettings.request_emails.is_(None), OwnerAlertSettings.request_emails.is_(True))))
    to = tuple(sorted({owner.email for owner in owners}))
    mailer.send(Mail(to, f"Footage request {request.id} waits for your decision",
                     f"{message}\n\nSign in to {services.settings.public_url} to see the request and its reason, "
                     "and approve, trim or deny it. Nothing leaves your camera unless you (or the policy you set) "
                     "approve.\n"))
