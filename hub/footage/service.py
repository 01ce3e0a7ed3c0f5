"""The footage-request workflow, from the analyst's ask to the clip order the box carries out.

An ask names cameras of one canvass (an incident, or a point and radius), one window (at most
`footage_max_window_s`), a purpose, a reason and a case number. Input that cannot be served fails the whole ask
before anything is stored (AccessRefused, 4xx); a camera whose consent refuses clips is refused alone (audited).
Each other camera gets its own request under the case, audited with the exact window, and either waits for its
owner (told on the box, in the hub and by e-mail) or is approved by its owner's policy (audited as such). An
approval — the whole window or a trimmed one — is audited as `access.owner_decision` (the box checks the grant
against it), then the hub signs a clip grant for exactly the approved window and orders the clip with a
single-use upload token. Undecided requests expire (`expire_due`). The box holds each window from the first
notice until the request is denied, expires, fails or is delivered.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import audit, owner_keys
from hub.access import rules
from hub.access.errors import AccessRefused
from hub.access.grants import current_consent, issue_grant
from hub.footage import checks
from hub.geo import haversine_m
from hub.footage.telling import BoxNotice, box_notice, tell_boxes, tell_owners
from hub.link import HubLink
from hub.mail import Mailer
from hub.security import keyed_hash
from hub.services import HubServices
from hub.tables import Appliance, Camera, Case, FootageRequest, Incident, RequestStatus, Role, User, utcnow
from wire import audit as wa
from wire import consent as c
from wire import messages as m
from wire import owner as wo

log = logging.getLogger(__name__)

UPLOAD_PATH = "/api/uploads"
CLIP_GRANT_S = 600  # a clip grant is for starting the cut; cutting and uploading may take longer
NOTICE_WAIT_S = 3.0  # how long an ask waits for the boxes to say what they recorded
OPEN = (RequestStatus.PENDING.value, RequestStatus.APPROVED.value)
RESYNC_DAYS = 45  # longer than a box keeps a hold without word from the hub (edge.clips.requests)


@dataclass(frozen=True, kw_only=True)
class FootageAsk:
    """What an analyst asks footage for, whichever cameras: who, which window, why, under which case and canvass."""

    analyst: str
    unit: str
    window_from: dt.datetime
    window_to: dt.datetime
    purpose: str
    reason: str
    case_number: str
    incident_id: int | None = None
    latitude: float | None = None
    longitude: float | None = None
    radius_m: float = 500


@dataclass(frozen=True, kw_only=True)
class Asking(FootageAsk):
    """What an analyst asks of one or more appliance cameras at once."""

    camera_ids: tuple[int, ...]


@dataclass(frozen=True)
class Outcome:
    """What became of one camera of an ask (or of a decision): its request and where it stands."""

    camera_id: int
    request_id: int | None
    status: str  # pending, approved, refused, denied …
    reason: str
    box_recorded_s: float | None = None


@dataclass(frozen=True)
class Decision:
    approve: bool
    note: str = ""
    window_from: dt.datetime | None = None  # a trimmed window, when the owner approves less than asked
    window_to: dt.datetime | None = None
    signed_approval: wo.OwnerSigned | None = None  # an approval: the owner's passkey over the ApprovalDocument


class FootageService:
    def __init__(self, services: HubServices, mailer: Mailer):
        self.services = services
        self.mailer = mailer
        # Work the MQTT link hands over (a box back online) runs here: it waits for the boxes' replies, which
        # the link's own worker delivers.
        self._background: ThreadPoolExecutor | None = None

    def listen(self, link: HubLink) -> None:
        link.clip_progress_listeners.append(self.clip_progress)
        link.came_online_listeners.append(self._resync_later)

    def _resync_later(self, device_ids: list[str]) -> None:
        self._later(self._resync_logged, device_ids)

    def _later(self, work, *args) -> None:
        if self._background is None:
            self._background = ThreadPoolExecutor(max_workers=2, thread_name_prefix="footage")
        self._background.submit(work, *args)

    def _order_logged(self, request_id: int, source: str) -> None:
        try:
            self.order_clip(request_id, source)
        except Exception:  # a background task: logged with its traceback; the box's return retries the order
            log.exception("could not order the clip of request %d", request_id)

    def _resync_logged(self, device_ids: list[str]) -> None:
        try:
            self.resync(device_ids)
        except Exception:  # a background task: log it with its traceback, the next time online retries
            log.exception("could not bring boxes %s up to date with their footage requests", device_ids)

    def close(self) -> None:
        background, self._background = self._background, None
        if background is not None:
            background.shutdown(wait=True, cancel_futures=True)

    # -- the analyst's ask ---------------------------------------------------------------

    def ask(self, asking: Asking, source: str) -> list[Outcome]:
        """Check the whole ask, then make one request per camera (see the module's docstring)."""
        settings = self.services.settings
        problem = checks.clip_window_problem(asking.window_from, asking.window_to, now=utcnow(),
                                             max_age_s=settings.footage_max_age_days * 86400,
                                             max_length_s=settings.footage_max_window_s)
        if problem:
            raise AccessRefused(problem, 422)
        outcomes, notices, orders = [], [], []
        with self.services.db.session() as session:
            cameras = self._cameras_in_canvass(session, asking)
            case = self._case(session, asking)
            for camera in cameras:
                outcome, request = self._request_one(session, asking, camera, case, source)
                outcomes.append(outcome)
                if request is not None:
                    notices.append(box_notice(request, camera))
                    if request.status == RequestStatus.APPROVED.value:
                        orders.append(request.id)
                    else:
                        tell_owners(session, self.services, self.mailer, request, camera)
        answers = tell_boxes(self.services, notices, wait_s=NOTICE_WAIT_S)
        for request_id in orders:  # each may wait for its box: the analyst does not
            self._later(self._order_logged, request_id, source)
        return [_with_answer(outcome, answers) for outcome in outcomes]

    def _cameras_in_canvass(self, session: Session, asking: Asking) -> list[Camera]:
        """The asked cameras, each within the canvass: the incident's point (or the given one) and radius."""
        latitude, longitude = self._canvass_point(session, asking)
        if not 0 < asking.radius_m <= self.services.settings.canvass_max_radius_m:
            raise AccessRefused(f"the radius must be between 0 and {self.services.settings.canvass_max_radius_m:g} m",
                                422)
        cameras = []
        for camera_id in asking.camera_ids:
            camera = session.get(Camera, camera_id)
            if camera is None:
                raise AccessRefused(f"no camera {camera_id}", 404)
            if camera.latitude is None or camera.longitude is None:
                raise AccessRefused(f"camera {camera_id} has no known place, so it is in no canvass", 422)
            distance = haversine_m(latitude, longitude, camera.latitude, camera.longitude)
            if distance > asking.radius_m:
                raise AccessRefused(f"camera {camera_id} is {distance:.0f} m from the canvass point, outside its "
                                    f"{asking.radius_m:g} m radius", 422)
            cameras.append(camera)
        return cameras

    @staticmethod
    def _canvass_point(session: Session, asking: Asking) -> tuple[float, float]:
        if asking.incident_id is not None:
            incident = session.get(Incident, asking.incident_id)
            if incident is None:
                raise AccessRefused("no such incident", 404)
            if incident.status != "open":
                raise AccessRefused("the incident is closed: reopen it to request footage for it", 409)
            return incident.latitude, incident.longitude
        if asking.latitude is None or asking.longitude is None:
            raise AccessRefused("say where the canvass is: an incident, or a latitude and longitude", 422)
        return asking.latitude, asking.longitude

    def _case(self, session: Session, asking: Asking) -> Case:
        case = session.scalar(select(Case).where(Case.case_number == asking.case_number))
        if case is None:
            case = Case(case_number=asking.case_number, incident_id=asking.incident_id,
                        public_reference=f"C-{secrets.token_hex(5).upper()}", created_by=asking.analyst,
                        retain_until=utcnow() + dt.timedelta(days=self.services.settings.case_retention_days))
            session.add(case)
            session.flush()
        elif case.incident_id is None and asking.incident_id is not None:
            case.incident_id = asking.incident_id
        return case

    def _request_one(self, session: Session, asking: Asking, camera: Camera, case: Case,
                     source: str) -> tuple[Outcome, FootageRequest | None]:
        row = current_consent(session, camera.id)
        policy = c.Policy.model_validate(row.policy) if row else None
        why = rules.policy_refusal(policy, "clip", _grant_seconds(policy), utcnow(), asking.purpose)
        if why:
            audit.append(session, actor=asking.analyst, action="footage.request", outcome=audit.Outcome.DENIED,
                         object=f"camera:{camera.id}", source=source, reason=asking.reason,
                         case_number=asking.case_number, refused=why, purpose=asking.purpose, unit=asking.unit,
                         **_window(asking.window_from, asking.window_to))
            return Outcome(camera.id, None, "refused", why), None
        request = self._new_request(session, asking, camera, case)
        audit.append(session, actor=asking.analyst, action="footage.request", outcome="pending",
                     object=f"camera:{camera.id}", source=source, reason=asking.reason,
                     case_number=asking.case_number, request_id=request.id, purpose=asking.purpose,
                     unit=asking.unit, incident_id=asking.incident_id, **_window(asking.window_from, asking.window_to))
        if not policy.needs_approval("clip", asking.purpose):
            self._approve_by_policy(session, request, camera, row.version, source)
            return Outcome(camera.id, request.id, "approved", "approved by the owner's policy"), request
        return Outcome(camera.id, request.id, "pending", "waiting for the camera owner's decision"), request

    def _new_request(self, session: Session, asking: Asking, camera: Camera, case: Case) -> FootageRequest:
        request = FootageRequest(
            camera_id=camera.id, mode="clip", window_from=asking.window_from, window_to=asking.window_to,
            duration_s=int((asking.window_to - asking.window_from).total_seconds()), analyst=asking.analyst,
            reason=asking.reason, case_number=asking.case_number, purpose=asking.purpose,
            status=RequestStatus.PENDING.value, case_id=case.id, incident_id=asking.incident_id,
            expires_at=utcnow() + dt.timedelta(days=self.services.settings.request_expiry_days))
        session.add(request)
        session.flush()
        return request

    @staticmethod
    def _approve_by_policy(session: Session, request: FootageRequest, camera: Camera, version: int,
                           source: str) -> None:
        request.status, request.decided_how = RequestStatus.APPROVED.value, "policy"
        request.decided_by, request.decided_at = f"policy:v{version}", utcnow()
        request.approved_from, request.approved_to = request.window_from, request.window_to
        audit.append(session, actor=f"policy:camera:{camera.id}", action="footage.decision",
                     outcome=audit.Outcome.SUCCESS, object=f"camera:{camera.id}", source=source,
                     case_number=request.case_number, request_id=request.id, approved=True, how="policy",
                     policy_version=version, **_window(request.window_from, request.window_to))

    # -- the owner's decision ----------------------------------------------------------------

    def decide(self, user: User, request_id: int, decision: Decision, source: str) -> Outcome:
        """Approve (all or a trimmed window) or deny with a reason; audited, the box told, an approval ordered."""
        with self.services.db.session() as session:
            request, camera = self._decidable(session, user, request_id)
            if request.status == RequestStatus.EXPIRED.value:
                notice = box_notice(request, camera, "expired undecided")
        if request.status == RequestStatus.EXPIRED.value:
            tell_boxes(self.services, [notice])
            raise AccessRefused("the request expired before the decision", 409)
        with self.services.db.session() as session:
            request, camera = self._decidable(session, user, request_id)
            approved = self._decision_window(request, decision)
            if decision.approve:
                request.owner_approval = owner_keys.open_approval(
                    session, self.services.settings, user, decision.signed_approval,
                    device_id=camera.appliance.device_id, camera=camera.name, request_id=request.id, mode="clip",
                    case_number=request.case_number, window=approved)
            request.status = RequestStatus.APPROVED.value if decision.approve else RequestStatus.DENIED.value
            request.decided_by, request.decided_at, request.decided_how = user.username, utcnow(), "owner"
            request.decision_note = decision.note
            if decision.approve:
                request.approved_from, request.approved_to = approved
            request.approval_index = audit.append(
                session, actor=user.username, action="access.owner_decision",
                outcome=audit.Outcome.SUCCESS if decision.approve else audit.Outcome.DENIED,
                object=f"camera:{camera.id}", source=source, reason=decision.note, case_number=request.case_number,
                approved=decision.approve, request_id=request.id, camera=camera.name,
                device_id=camera.appliance.device_id, mode="clip",
                requested_from=request.window_from.isoformat(), requested_to=request.window_to.isoformat(),
                **_window(*approved))
            notice = box_notice(request, camera, decision.note)
        tell_boxes(self.services, [notice])
        if not decision.approve:
            return Outcome(camera.id, request_id, "denied", "denied by the camera's owner")
        state = self.order_clip(request_id, source)
        return Outcome(camera.id, request_id, "approved", state)

    def approval_document(self, user: User, request_id: int, decision: Decision) -> tuple[str, dict]:
        """What the owner signs to approve `request_id` for the decision's (maybe trimmed) window, and the
        `navigator.credentials.get` options that sign it; nothing is stored."""
        with self.services.db.session() as session:
            request, camera = self._decidable(session, user, request_id)
            if user.role != Role.OWNER:
                raise AccessRefused("only the camera's owner approves, signed with their passkey", 403)
            window = self._decision_window(request, decision)
            document = owner_keys.approval_document(
                device_id=camera.appliance.device_id, camera=camera.name, request_id=request.id, mode="clip",
                case_number=request.case_number, window=window, issued_at=utcnow())
            return document, owner_keys.signing_options(session, self.services.settings, user, document)

    def _decidable(self, session: Session, user: User, request_id: int) -> tuple[FootageRequest, Camera]:
        request = session.get(FootageRequest, request_id)
        camera = session.get(Camera, request.camera_id) if request is not None else None
        if request is None or request.mode != "clip" or not rules.sees_business(user, camera.appliance.business_id):
            raise AccessRefused("no such footage request", 404)
        if not rules.changes_business(user):
            raise AccessRefused("only the business's owner or an admin decides", 403)
        if request.status == RequestStatus.PENDING.value and request.expires_at <= utcnow():
            self._expire(session, request, camera)
        elif request.status != RequestStatus.PENDING.value:
            raise AccessRefused(f"the request is already {request.status}", 409)
        return request, camera

    @staticmethod
    def _decision_window(request: FootageRequest, decision: Decision) -> tuple[dt.datetime, dt.datetime]:
        requested = (request.window_from, request.window_to)
        if not decision.approve:
            if len(decision.note.strip()) < 3:
                raise AccessRefused("a denial needs a reason for the analyst", 422)
            return requested
        if decision.window_from is None and decision.window_to is None:
            return requested
        approved = (decision.window_from or request.window_from, decision.window_to or request.window_to)
        if problem := checks.trim_problem(requested, approved):
            raise AccessRefused(problem, 422)
        return approved

    # -- the clip order ---------------------------------------------------------------------

    def order_clip(self, request_id: int, source: str = "") -> str:
        """Sign a clip grant for the approved window and send the box the order with a fresh upload token.
        Returns where the order stands; a box that is away gets it when it comes back online."""
        with self.services.db.session() as session:
            request = session.get(FootageRequest, request_id)
            camera = session.get(Camera, request.camera_id)
            row = current_consent(session, camera.id)
            device_id, name = camera.appliance.device_id, camera.name
            analyst = session.scalar(select(User).where(User.username == request.analyst))
            unit = analyst.unit if analyst else ""
        if row is None:
            return self._fail(request_id, "the camera no longer has a consent policy")
        policy = c.Policy.model_validate(row.policy)
        signed = issue_grant(
            self.services, device_id=device_id, camera=name, mode="clip", analyst=request.analyst,
            reason=request.reason, case_number=request.case_number, policy_version=row.version,
            lifetime_s=_grant_seconds(policy), source=source, window=(request.approved_from, request.approved_to),
            approval_index=request.approval_index if request.decided_how == "owner" else None,
            owner_approval=request.owner_approval if request.decided_how == "owner" else None,
            purpose=request.purpose, unit=unit)
        return self._send_order(request_id, device_id, signed)

    def _send_order(self, request_id: int, device_id: str, signed: c.Signed) -> str:
        token = self._upload_token(request_id)
        self._set_stage(request_id, "ordered", "sent to the box", token_hash=hashlib.sha256(token.encode()).hexdigest())
        order = m.ClipOrder(request_id=request_id, signed=m.SignedDocument(document=signed.document,
                                                                            signature=signed.signature),
                            upload_path=UPLOAD_PATH, upload_token=token)
        reply = self.services.link.request(device_id, order, timeout_s=10) if self.services.link else None
        if reply is None:
            self._set_stage(request_id, "waiting", "the box is not reachable now; the order is sent when it is")
            return "approved; the box will cut the clip when it is back online"
        try:
            accepted = m.result_of(reply, m.ClipAccepted)
        except m.WireError as exc:
            return self._fail(request_id, f"the box could not take the order: {exc}")
        self._audit_box_decision(request_id, device_id, accepted)
        if not accepted.accepted:
            return self._fail(request_id, f"the box refused the clip grant: {accepted.reason}")
        return "approved; the box is cutting the clip"

    def _upload_token(self, request_id: int) -> str:
        """The request's upload token: derived from the server secret, the request and its approval, so an order
        sent again (a box that was away may get both) carries the same one; the hub keeps only its hash, and
        delivery spends it."""
        with self.services.db.session() as session:
            request = session.get(FootageRequest, request_id)
            approved = f"{request.decided_at.isoformat() if request.decided_at else ''}:{request.approval_index}"
        return keyed_hash(self.services.settings.secret_key, f"clip-upload:{request_id}:{approved}")

    def _audit_box_decision(self, request_id: int, device_id: str, accepted: m.ClipAccepted) -> None:
        with self.services.db.session() as session:
            request = session.get(FootageRequest, request_id)
            audit.append(session, actor=f"appliance:{device_id}", action="access.appliance_decision",
                         outcome=audit.Outcome.SUCCESS if accepted.accepted else audit.Outcome.DENIED,
                         object=f"camera:{request.camera_id}", reason=accepted.reason,
                         case_number=request.case_number, request_id=request_id, mode="clip")

    def _set_stage(self, request_id: int, stage: str, detail: str, *, token_hash: str | None = None) -> None:
        with self.services.db.session() as session:
            request = session.get(FootageRequest, request_id)
            request.clip_stage, request.clip_detail = stage, detail
            if token_hash is not None:
                request.upload_token_hash = token_hash

    def _fail(self, request_id: int, why: str) -> str:
        """The clip cannot be made: the request fails (audited), its token is void and the box's hold ends."""
        with self.services.db.session() as session:
            request = session.get(FootageRequest, request_id)
            camera = session.get(Camera, request.camera_id)
            request.status, request.clip_stage, request.clip_detail = RequestStatus.FAILED.value, "failed", why
            request.upload_token_hash = None
            audit.append(session, actor="hub", action="footage.failed", outcome=audit.Outcome.FAILURE,
                         object=f"camera:{camera.id}", reason=why, case_number=request.case_number,
                         request_id=request_id)
            notice = box_notice(request, camera, why)
        tell_boxes(self.services, [notice])
        return why

    # -- what the box reports, expiry, a box back online ---------------------------------------------

    def clip_progress(self, device_id: str, progress: m.ClipProgress) -> None:
        """The box's report on a clip (an event from its outbox): stage and detail; a failure fails the request."""
        with self.services.db.session() as session:
            request = session.get(FootageRequest, progress.request_id)
            camera = session.get(Camera, request.camera_id) if request is not None else None
            if camera is None or camera.appliance.device_id != device_id or camera.name != progress.camera:
                log.warning("clip progress from %s for a request not its own (%d) dropped", device_id,
                            progress.request_id)
                return
            if request.status != RequestStatus.APPROVED.value:
                return
            if progress.stage != "failed":
                request.clip_stage, request.clip_detail = progress.stage, progress.detail
                return
        self._fail(progress.request_id, f"the box could not make the clip: {progress.detail}")

    def expire_due(self, now: dt.datetime | None = None) -> int:
        """Expire every pending request past its time (audited; the box told, so its hold ends)."""
        now = now or utcnow()
        notices: list[BoxNotice] = []
        with self.services.db.session() as session:
            due = session.scalars(select(FootageRequest).where(
                FootageRequest.status == RequestStatus.PENDING.value, FootageRequest.expires_at <= now)).all()
            for request in due:
                notices.append(self._expire(session, request, session.get(Camera, request.camera_id)))
        tell_boxes(self.services, notices)
        return len(notices)

    @staticmethod
    def _expire(session: Session, request: FootageRequest, camera: Camera) -> BoxNotice:
        request.status = RequestStatus.EXPIRED.value
        request.upload_token_hash = None
        audit.append(session, actor="hub", action="footage.expired", outcome=audit.Outcome.FAILURE,
                     object=f"camera:{camera.id}", case_number=request.case_number, request_id=request.id,
                     reason="nobody decided before the request expired",
                     **_window(request.window_from, request.window_to))
        return box_notice(request, camera, "expired undecided")

    def delivered(self, request_id: int) -> None:
        """The clip is at the hub and verified: the box may let its hold go (the case's retention takes over)."""
        if self.services.link is None:
            return  # the box hears it when the hub is linked and the box comes back online
        with self.services.db.session() as session:
            request = session.get(FootageRequest, request_id)
            notice = box_notice(request, session.get(Camera, request.camera_id), "the clip is at the hub")
        tell_boxes(self.services, [notice])

    def resync(self, device_ids: list[str]) -> None:
        """Boxes back online: the state of their open requests again, and the orders they missed."""
        notices, orders = [], []
        with self.services.db.session() as session:
            recent = utcnow() - dt.timedelta(days=RESYNC_DAYS)  # a closed request's end may not have reached it
            rows = session.execute(select(FootageRequest, Camera).join(Camera).join(Appliance).where(
                Appliance.device_id.in_(device_ids), FootageRequest.mode == "clip",
                FootageRequest.status.in_(OPEN) | (FootageRequest.created_at > recent))).all()
            for request, camera in rows:
                notices.append(box_notice(request, camera))
                if request.status == RequestStatus.APPROVED.value and request.clip_stage in ("", "waiting"):
                    orders.append(request.id)
        tell_boxes(self.services, notices)
        for request_id in orders:
            self.order_clip(request_id)


def _grant_seconds(policy: c.Policy | None) -> int:
    return min(CLIP_GRANT_S, policy.max_session_s) if policy else CLIP_GRANT_S


def _window(window_from: dt.datetime, window_to: dt.datetime) -> dict:
    return wa.FootageWindow(window_from=window_from, window_to=window_to).details()


def _with_answer(outcome: Outcome, answers: dict[int, m.NoticeTaken]) -> Outcome:
    answer = answers.get(outcome.request_id) if outcome.request_id else None
    if answer is None:
        return outcome
    reason = outcome.reason
    if answer.recorded_s == 0:
        reason += "; the box has nothing recorded in this window"
    return Outcome(outcome.camera_id, outcome.request_id, outcome.status, reason, answer.recorded_s)
