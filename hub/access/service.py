"""The access service: an analyst's request for a camera, from the hub's checks to the appliance's answer.

Every consent change is a new version (who, when), audited, and pushed to the
appliance signed; the appliance keeps the newest and judges every grant
against it, whatever the hub says. An access request needs a reason and a
case number; the hub checks consent, mode, schedule and session length
(`rules`), writes the audit entry first, then signs the grant and presents it
to the appliance, whose answer is audited too. A `request_only` camera's
request waits for its owner's decision, which is audited before any grant.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import audit, owner_keys
from hub.access import rules
from hub.access.errors import AccessRefused, ApplianceUnreachable
from hub.access.grants import current_consent, issue_grant
from hub.access.presenting import present_grant, push_policy
from hub.services import HubServices
from hub.tables import Camera, FootageRequest, Role, User, utcnow
from wire import consent as c
from wire import owner as wo

log = logging.getLogger(__name__)

Purpose = c.Purpose
Window = tuple[dt.datetime, dt.datetime]


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
    window: Window | None


@dataclass(frozen=True)
class Target:
    """The camera an ask is for, as the hub's checks cleared it: where it is and the consent in force."""

    camera_id: int
    device_id: str
    camera: str
    policy_version: int
    policy: c.Policy


@dataclass(frozen=True)
class AccessResult:
    """What became of a request: the appliance's verdict on the grant, or where the request waits."""

    status: Literal["accepted", "refused_by_appliance", "pending_owner_approval", "denied_by_owner"]
    reason: str
    grant_id: str | None = None
    expires_at: dt.datetime | None = None
    request_id: int | None = None


class AccessService:
    def __init__(self, services: HubServices):
        self.services = services

    # -- consent ----------------------------------------------------------------------

    def push_consent(self, camera_id: int) -> None:
        """Send the camera's consent in force to its appliance, signed. Best effort: an appliance that is away
        gets it when it comes back online."""
        services = self.services
        if services.link is None:
            return
        with services.db.session() as session:
            camera = session.get(Camera, camera_id)
            row = current_consent(session, camera_id)
            device_id, signed_text = camera.appliance.device_id, row.signed if row else None
        if signed_text is None:
            return  # a version nobody signed: the box would refuse it, and keeps the last one its owner signed
        signed = wo.OwnerSigned.model_validate_json(signed_text)
        try:
            push_policy(services, device_id, signed, timeout_s=5)
        except ApplianceUnreachable as exc:
            log.info("consent version %d for camera %d not delivered now: %s", row.version, camera_id, exc)

    # -- the hub's checks ---------------------------------------------------------------

    def clear(self, ask: Ask, camera_id: int, source: str) -> Target:
        """The hub's own checks of `ask` for `camera_id`: its footage window, the camera's consent in force, its
        mode, schedule and maximum session. AccessRefused (422 for a window no box can serve; 404 for no such
        camera; 403 audited, for a refusal) otherwise."""
        settings = self.services.settings
        window_from, window_to = ask.window or (None, None)
        problem = rules.window_problem(ask.mode, window_from, window_to, now=utcnow(),
                                       max_age_s=settings.footage_max_age_days * 86400,
                                       max_length_s=settings.footage_max_window_s)
        if problem:
            raise AccessRefused(problem, 422)
        with self.services.db.session() as session:
            camera = session.get(Camera, camera_id)
            if camera is None:
                raise AccessRefused("no such camera", 404)
            row = current_consent(session, camera.id)
            device_id, name = camera.appliance.device_id, camera.name
        policy = c.Policy.model_validate(row.policy) if row else None
        why = rules.policy_refusal(policy, ask.mode, ask.duration_s, utcnow(), ask.purpose)
        if why:
            self._audit_refusal(ask, camera_id, source, why)
            raise AccessRefused(f"access refused: {why}")
        return Target(camera_id, device_id, name, row.version, policy)

    def _audit_refusal(self, ask: Ask, camera_id: int, source: str, why: str) -> None:
        with self.services.db.session() as session:
            audit.append(session, actor=ask.analyst, action="access.request", outcome=audit.Outcome.DENIED,
                         object=f"camera:{camera_id}", source=source, reason=ask.reason, case_number=ask.case_number,
                         mode=ask.mode, refused=why, purpose=ask.purpose, unit=ask.unit)

    # -- requests ---------------------------------------------------------------------------

    def request(self, ask: Ask, camera_id: int, source: str) -> AccessResult:
        """Check, then grant and present; a request the owner must approve (`Policy.needs_approval`) waits."""
        target = self.clear(ask, camera_id, source)
        if target.policy.needs_approval(ask.mode, ask.purpose):
            return self._park(ask, camera_id, source)
        return self.grant_and_present(ask, target, source)

    def _park(self, ask: Ask, camera_id: int, source: str) -> AccessResult:
        window_from, window_to = ask.window if ask.window else (None, None)
        with self.services.db.session() as session:
            pending = FootageRequest(camera_id=camera_id, mode=ask.mode, window_from=window_from,
                                     window_to=window_to, duration_s=ask.duration_s, analyst=ask.analyst,
                                     reason=ask.reason, case_number=ask.case_number, purpose=ask.purpose)
            session.add(pending)
            session.flush()
            audit.append(session, actor=ask.analyst, action="access.request", outcome="pending",
                         object=f"camera:{camera_id}", source=source, reason=ask.reason,
                         case_number=ask.case_number, mode=ask.mode, request_id=pending.id,
                         purpose=ask.purpose, unit=ask.unit)
            request_id = pending.id
        return AccessResult("pending_owner_approval", "waiting for the camera owner's decision", request_id=request_id)

    def grant_and_present(self, ask: Ask, target: Target, source: str, *, approval_index: int | None = None,
                          owner_approval: str | None = None, request_id: int | None = None) -> AccessResult:
        """Issue the grant (audited first) and present it to the appliance (its answer audited)."""
        signed = issue_grant(self.services, device_id=target.device_id, camera=target.camera, mode=ask.mode,
                             analyst=ask.analyst, reason=ask.reason, case_number=ask.case_number,
                             policy_version=target.policy_version, lifetime_s=ask.duration_s, source=source,
                             window=ask.window, approval_index=approval_index, owner_approval=owner_approval,
                             purpose=ask.purpose, unit=ask.unit)
        grant = c.Grant.model_validate_json(signed.document)
        try:
            accepted, why = present_grant(self.services, target.device_id, signed)
        except ApplianceUnreachable as exc:
            raise ApplianceUnreachable(f"granted, but {exc}") from None
        return AccessResult("accepted" if accepted else "refused_by_appliance", why, grant_id=str(grant.grant_id),
                       expires_at=grant.expires_at, request_id=request_id)

    # -- the owner's decision ------------------------------------------------------------------

    def approval_document(self, user: User, request_id: int) -> tuple[str, dict]:
        """What the owner signs to approve `request_id` (its whole window), and the options that sign it."""
        with self.services.db.session() as session:
            pending, camera = self._pending_for_owner(session, user, request_id)
            if user.role != Role.OWNER:
                raise AccessRefused("only the camera's owner approves, signed with their passkey", 403)
            document = owner_keys.approval_document(
                device_id=camera.appliance.device_id, camera=camera.name, request_id=pending.id, mode=pending.mode,
                case_number=pending.case_number, window=(pending.window_from, pending.window_to), issued_at=utcnow())
            return document, owner_keys.signing_options(session, self.services.settings, user, document)

    def decide(self, user: User, request_id: int, approve: bool, note: str, source: str,
               signed_approval: wo.OwnerSigned | None = None) -> AccessResult:
        """The owner approves (signed with their passkey) or denies; the decision is audited, and an approval
        granted and presented with the owner's signature inside."""
        owner_approval = None
        with self.services.db.session() as session:
            pending, camera = self._pending_for_owner(session, user, request_id)
            if approve:
                owner_approval = owner_keys.open_approval(
                    session, self.services.settings, user, signed_approval, device_id=camera.appliance.device_id,
                    camera=camera.name, request_id=pending.id, mode=pending.mode, case_number=pending.case_number,
                    window=(pending.window_from, pending.window_to))
                pending.owner_approval = owner_approval
            row = current_consent(session, camera.id)
            pending.status = "approved" if approve else "denied"
            pending.decided_by, pending.decided_at = user.username, utcnow()
            approval_index = self._audit_decision(session, user, pending, camera, approve, note, source)
            analyst = session.scalar(select(User).where(User.username == pending.analyst))
            ask = Ask(pending.analyst, analyst.unit if analyst else "", pending.purpose, pending.mode, pending.reason,
                      pending.case_number, pending.duration_s, (pending.window_from, pending.window_to))
            target = Target(camera.id, camera.appliance.device_id, camera.name, row.version if row else 0,
                            c.Policy.model_validate(row.policy) if row else c.Policy())
        if not approve:
            return AccessResult("denied_by_owner", "denied by the camera's owner", request_id=request_id)
        if row is None:
            raise AccessRefused("the camera no longer has a consent policy", 409)
        return self.grant_and_present(ask, target, source, approval_index=approval_index,
                                      owner_approval=owner_approval, request_id=request_id)

    @staticmethod
    def _pending_for_owner(session: Session, user: User, request_id: int) -> tuple[FootageRequest, Camera]:
        """The request and its camera if `user` may decide it, still pending; AccessRefused otherwise."""
        pending = session.get(FootageRequest, request_id)
        if pending is None:
            raise AccessRefused("no such request", 404)
        camera = session.get(Camera, pending.camera_id)
        if camera is None or not rules.sees_business(user, camera.appliance.business_id):
            raise AccessRefused("no such camera", 404)
        if not rules.changes_business(user):
            raise AccessRefused("only the business's owner or an admin", 403)
        if pending.mode == "clip":
            raise AccessRefused("a clip request is decided at /api/footage-requests/{id}/decision", 409)
        if pending.status != "pending":
            raise AccessRefused(f"request already {pending.status}", 409)
        return pending, camera

    @staticmethod
    def _audit_decision(session: Session, user: User, pending: FootageRequest, camera: Camera, approve: bool,
                        note: str, source: str) -> int:
        return audit.append(
            session, actor=user.username, action="access.owner_decision",
            outcome=audit.Outcome.SUCCESS if approve else audit.Outcome.DENIED,
            object=f"camera:{camera.id}", source=source, reason=note, case_number=pending.case_number,
            approved=approve, request_id=pending.id, camera=camera.name, device_id=camera.appliance.device_id,
            mode=pending.mode, window_from=pending.window_from.isoformat(), window_to=pending.window_to.isoformat())

