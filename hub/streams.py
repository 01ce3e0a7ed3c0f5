"""The hub's side of "stream now": grant, the box's offer, the media path, the viewers, the end.

`StreamService.open` runs after the access service's checks
(`hub.access.service.AccessService.clear`) with a `StreamRequest`: it issues the grant
(audit entry first, checkpoint at once — `hub.access.grants`), sends `stream.start`
with it over MQTT, has the media path answer the appliance's SDP offer and records the session (table
`stream_sessions`, audit `stream.start` with the granted footage window and, for playback, where it starts).
The media path is the SFU by default (`hub.stream_sfu`: the box publishes once into a Janus room the hub made
for the session; every browser subscribes there) or the hub's own aiortc relay (`hub.stream_relay`).

Viewers: the session's analyst (or an admin) asks for a viewer token (`viewer_token`: single use, short-lived,
bound to the session and the user) with the ICE servers to use (TURN credentials that expire); `join` redeems
it for the SFU's offer, `answer` passes the browser's answer on, `leave` ends the viewer. Joining, a refused
token and leaving (asked, hung up, or with the session) are each on the audit log.

The hub keeps the appliance's sessions alive with `stream.keepalive` every `KEEPALIVE_S`; when the appliance
ends a session (revocation, pause, expiry, anything) its `stream_ended` event reaches `closed_by_appliance` and
the room is destroyed: every viewer's media stops.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from hub import audit
from hub.access.errors import ApplianceUnreachable
from hub.access.grants import issue_grant
from hub.access.presenting import envelope, present
from hub.access.service import Ask, Target
from hub.services import HubServices
from hub.settings import HubSettings
from hub.stream_media import MediaError, MediaPath
from hub.stream_relay import RelayMedia
from hub.stream_sfu import SfuMedia
from hub.tables import StreamSession, utcnow
from hub.turn import turn_credentials
from wire import audit as wa
from wire import consent as c
from wire import messages as m
from wire import rtc

log = logging.getLogger(__name__)

KEEPALIVE_S = 5


class StreamError(RuntimeError):
    """The session could not be opened; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 503):
        super().__init__(message)
        self.status = status


def media_path(settings: HubSettings) -> MediaPath:
    """The media path the settings choose (`stream_media`); MediaError if the SFU is not configured."""
    if settings.stream_media == "relay":
        turn = (rtc.TurnServer(tuple(settings.turn_urls), settings.turn_username, settings.turn_password),
                ) if settings.turn_urls and settings.turn_username else ()
        return RelayMedia(rtc.IceSettings(tuple(settings.ice_host_addresses), turn))
    return SfuMedia.connect(settings)


def footage_of(grant: c.Grant) -> wa.FootageWindow:
    """The footage window `grant` allows, as its session's audit entries name it."""
    return wa.FootageWindow(window_from=grant.window_from, window_to=grant.window_to)


@dataclass(frozen=True)
class StreamRequest:
    """A stream the access service cleared: who asked for what (`ask`), which camera (`target`), from where
    (`source`, the client's address) and, for playback, where in the box's buffer to start (`at`)."""

    ask: Ask
    target: Target
    source: str
    at: dt.datetime | None = None




@dataclass(frozen=True)
class IceServer:
    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None


@dataclass(frozen=True)
class ViewerTicket:
    """What a viewer is handed before joining: a single-use token and where ICE may go."""

    token: str
    expires_in_s: int
    ice_servers: tuple[IceServer, ...]
    ice_transport_policy: str


@dataclass(frozen=True)
class _Ticket:
    session_id: uuid.UUID
    user: str
    expires: float  # monotonic


@dataclass(eq=False)
class Viewer:
    id: uuid.UUID
    user: str
    source: str
    subscription: object
    joined: float = field(default_factory=time.monotonic)


@dataclass(eq=False)
class LiveSession:
    id: uuid.UUID
    device_id: str
    camera: str
    camera_id: int
    analyst: str
    case_number: str
    grant: c.Grant
    deadline: dt.datetime
    publication: object = None
    viewers: dict[uuid.UUID, Viewer] = field(default_factory=dict)
    ended: bool = False


def _token_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class StreamService:
    def __init__(self, hub: HubServices, media: MediaPath, *, clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.hub = hub
        self.media = media
        self.clock = clock
        self.wall_clock = wall_clock
        self.sessions: dict[uuid.UUID, LiveSession] = {}
        self._tickets: dict[str, _Ticket] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._keepalive = threading.Thread(target=self._keepalive_loop, name="stream-keepalive", daemon=True)
        self._keepalive.start()

    def close(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        self._keepalive.join(10)
        for session in list(self.sessions.values()):
            self._close(session, "the hub is shutting down")
        self.media.close()

    # -- opening (an API thread) --------------------------------------------------------

    def open(self, request: StreamRequest) -> LiveSession:
        """Grant, present to the appliance with `stream.start`, answer its offer; the appliance's refusal raises."""
        if self.hub.link is None:
            raise StreamError("the hub is not connected to the broker")
        ask, target = request.ask, request.target
        session_id = uuid.uuid4()
        signed = issue_grant(self.hub, device_id=target.device_id, camera=target.camera, mode=ask.mode,
                             analyst=ask.analyst, reason=ask.reason, case_number=ask.case_number,
                             policy_version=target.policy_version, lifetime_s=ask.duration_s, source=request.source,
                             window=ask.window, purpose=ask.purpose, unit=ask.unit)
        grant = c.Grant.model_validate_json(signed.document)
        offer = self._start_on_appliance(target.device_id, session_id, signed, request.at)
        session = LiveSession(session_id, target.device_id, target.camera, target.camera_id, ask.analyst,
                              ask.case_number, grant, min(grant.expires_at, offer.deadline))
        try:
            session.publication, answer = self.media.publish(session_id, offer.sdp,
                                                             lambda why: self._close(session, why))
        except MediaError as exc:
            self.hub.link.send(target.device_id, m.StreamStop(session_id=session_id, reason=str(exc)[:500]))
            raise StreamError(str(exc), exc.status) from None
        with self._lock:
            self.sessions[session_id] = session
        reply = self.hub.link.request(target.device_id, m.StreamAnswer(session_id=session_id, sdp=answer))
        if reply is None or not reply.ok:
            self._close(session, "the appliance did not take the answer")
            raise StreamError(f"the appliance did not take the answer: {reply.error if reply else 'no reply'}")
        self._record(request, session_id, grant, session.deadline)
        return session

    def _start_on_appliance(self, device_id: str, session_id: uuid.UUID, signed: c.Signed,
                            at: dt.datetime | None) -> m.StreamOffer:
        """Present the grant with `stream.start`; the appliance's accepted offer, or StreamError with its reason."""
        try:
            start = m.StreamStart(session_id=session_id, signed=envelope(signed), at=at,
                                  ice_servers=self._appliance_ice_servers(session_id))
            offer = present(self.hub, device_id, signed, start)
        except ApplianceUnreachable as exc:
            raise StreamError(f"granted, but {exc}") from None
        if not offer.accepted:
            raise StreamError(f"refused by the appliance: {offer.reason}", status=403)
        return offer

    def _record(self, request: StreamRequest, session_id: uuid.UUID, grant: c.Grant, deadline: dt.datetime) -> None:
        ask, camera_id = request.ask, request.target.camera_id
        with self.hub.db.session() as db:
            db.add(StreamSession(id=str(session_id), camera_id=camera_id, grant_id=str(grant.grant_id),
                                 analyst=ask.analyst, mode=ask.mode, purpose=ask.purpose, reason=ask.reason,
                                 case_number=ask.case_number, deadline=deadline))
            audit.append(db, actor=ask.analyst, action="stream.start", outcome=audit.Outcome.SUCCESS,
                         object=f"camera:{camera_id}", source=request.source, reason=ask.reason,
                         case_number=ask.case_number, session_id=str(session_id), grant_id=str(grant.grant_id),
                         mode=ask.mode, purpose=ask.purpose, unit=ask.unit, at=wa.iso_utc(request.at),
                         **footage_of(grant).details())

    def _running(self, session_id: uuid.UUID) -> LiveSession:
        session = self.sessions.get(session_id)
        if session is None or session.ended:
            raise StreamError("the session has ended", status=410)
        return session

    # -- viewers --------------------------------------------------------------------------

    def viewer_token(self, session_id: uuid.UUID, user: str) -> ViewerTicket:
        """A single-use token for `user` to join the session within `viewer_token_ttl_s`, and the ICE servers
        (TURN credentials of its own, expiring) the browser is to use."""
        self._running(session_id)
        settings = self.hub.settings
        token = secrets.token_urlsafe(32)
        with self._lock:
            now = self.clock()
            for key in [k for k, t in self._tickets.items() if t.expires <= now]:
                del self._tickets[key]
            self._tickets[_token_key(token)] = _Ticket(session_id, user, now + settings.viewer_token_ttl_s)
        return ViewerTicket(token, settings.viewer_token_ttl_s, self._ice_servers(), settings.viewer_ice_transport_policy)

    def _ice_servers(self, label: str | None = None) -> tuple[IceServer, ...]:
        """The TURN servers with credentials of their own (`label` names the holder), expiring after
        `turn_credential_ttl_s`; none when the hub has no TURN server or secret."""
        settings = self.hub.settings
        if not settings.turn_urls or not settings.turn_secret:
            return ()
        credentials = turn_credentials(settings.turn_secret, label or f"viewer-{secrets.token_hex(6)}",
                                       now=self.wall_clock(), ttl_s=settings.turn_credential_ttl_s)
        return (IceServer(tuple(settings.turn_urls), credentials.username, credentials.credential),)

    def _appliance_ice_servers(self, session_id: uuid.UUID) -> list[m.IceServer]:
        """What the appliance may relay this session's media through (`stream.start`): the hub's TURN servers
        with credentials made for the session, so no appliance holds a TURN password of its own."""
        return [m.IceServer(urls=list(server.urls), username=server.username, credential=server.credential)
                for server in self._ice_servers(f"box-{session_id.hex}")]

    def _redeem(self, session_id: uuid.UUID, user: str, token: str) -> bool:
        with self._lock:
            ticket = self._tickets.pop(_token_key(token), None)
        return (ticket is not None and ticket.session_id == session_id and ticket.user == user
                and ticket.expires > self.clock())

    def join(self, session_id: uuid.UUID, user: str, token: str, source: str) -> tuple[uuid.UUID, str]:
        """Redeem a viewer token for the SFU's offer to this viewer; refused (403) for a token that is unknown,
        used, expired, or another session's or user's. Both are audited."""
        session = self._running(session_id)
        if not self._redeem(session_id, user, token):
            self._audit_viewer(session, "stream.view", user, source, None, audit.Outcome.FAILURE,
                               refused="the viewer token is not valid")
            raise StreamError("the viewer token is not valid (unknown, already used or expired): ask for a new one",
                              status=403)
        viewer_id = uuid.uuid4()
        try:
            subscription, offer = self.media.subscribe(
                session.publication, viewer_id, lambda why: self.leave(session_id, viewer_id, why))
        except MediaError as exc:
            raise StreamError(str(exc), exc.status) from None
        with self._lock:
            if session.ended:
                late = True
            else:
                late = False
                session.viewers[viewer_id] = Viewer(viewer_id, user, source, subscription)
        if late:
            self.media.unsubscribe(subscription)
            raise StreamError("the session has ended", status=410)
        self._audit_viewer(session, "stream.view", user, source, viewer_id, audit.Outcome.SUCCESS)
        return viewer_id, offer

    def answer(self, session_id: uuid.UUID, viewer_id: uuid.UUID, user: str, sdp: str) -> None:
        viewer = self._viewer(session_id, viewer_id, user)
        try:
            self.media.start_viewer(viewer.subscription, sdp)
        except MediaError as exc:
            raise StreamError(str(exc), exc.status) from None

    def _viewer(self, session_id: uuid.UUID, viewer_id: uuid.UUID, user: str) -> Viewer:
        session = self._running(session_id)
        viewer = session.viewers.get(viewer_id)
        if viewer is None or viewer.user != user:
            raise StreamError("no such viewer in this session", status=404)
        return viewer

    def leave(self, session_id: uuid.UUID, viewer_id: uuid.UUID, reason: str, user: str | None = None) -> bool:
        """End one viewer (asked by `user`, or its connection hung up); False if it had already left."""
        session = self.sessions.get(session_id)
        if session is None:
            return False
        with self._lock:
            viewer = session.viewers.get(viewer_id)
            if viewer is None or (user is not None and viewer.user != user):
                return False
            del session.viewers[viewer_id]
        self.media.unsubscribe(viewer.subscription)
        self._audit_viewer(session, "stream.view_end", viewer.user, viewer.source, viewer_id,
                           audit.Outcome.SUCCESS, ended=reason[:300],
                           watched_s=round(self.clock() - viewer.joined, 1))
        return True

    def _audit_viewer(self, session: LiveSession, action: str, user: str, source: str, viewer_id: uuid.UUID | None,
                      outcome, **details) -> None:
        with self.hub.db.session() as db:
            audit.append(db, actor=user, action=action, outcome=outcome, object=f"camera:{session.camera_id}",
                         source=source, case_number=session.case_number, session_id=str(session.id),
                         viewer_id=str(viewer_id) if viewer_id else None, **details,
                         **footage_of(session.grant).details())

    # -- the relay fallback's in-process viewers (tests) ------------------------------------

    def subscribe(self, session_id: uuid.UUID):
        """A relayed copy of the appliance's track (decoded frames); only on the relay path."""
        return self.media.decoded_track(self._running(session_id).publication)

    def call(self, coroutine, timeout: float = 15):
        """Run `coroutine` on the relay's loop (reading a `subscribe`d track)."""
        return self.media.call(coroutine, timeout)

    # -- playback controls ---------------------------------------------------------------------

    def control(self, session_id: uuid.UUID, action: str, *, at: dt.datetime | None = None,
                speed: float | None = None) -> m.PlaybackState:
        """Pause, resume, seek or set the speed of a playback session; the appliance's reply (position, state)."""
        session = self._running(session_id)
        if session.grant.mode != "playback":
            raise StreamError("only playback sessions take pause, seek and speed", status=409)
        if self.hub.link is None:
            raise StreamError("the hub is not connected to the broker")
        body = m.StreamControl(session_id=session_id, action=action, at=at, speed=speed)
        reply = self.hub.link.request(session.device_id, body)
        if reply is None:
            raise StreamError("the appliance did not answer")
        if not reply.ok:
            raise StreamError(f"refused by the appliance: {reply.error}", status=422)
        try:
            return m.result_of(reply, m.PlaybackState)
        except m.WireError as exc:
            raise StreamError(str(exc)) from None

    # -- ending -----------------------------------------------------------------------------

    def stop(self, session_id: uuid.UUID, reason: str = "stopped by the analyst") -> bool:
        """Ask the appliance to end the session and close it here; False if it had already ended."""
        session = self.sessions.get(session_id)
        if session is None:
            return False
        if self.hub.link is not None:
            self.hub.link.send(session.device_id, m.StreamStop(session_id=session_id, reason=reason))
        self._close(session, reason)
        return True

    def closed_by_appliance(self, session_id: uuid.UUID, reason: str = "ended by the appliance") -> None:
        """The appliance reported the session's end: destroy its room, which ends every viewer (any thread)."""
        session = self.sessions.get(session_id)
        if session is not None:
            self._close(session, reason)

    def _close(self, session: LiveSession, reason: str) -> None:
        with self._lock:
            if session.ended:
                return
            session.ended = True
            self.sessions.pop(session.id, None)
            viewers = list(session.viewers.values())
            session.viewers.clear()
        try:
            self.media.unpublish(session.publication)  # every viewer's media stops with it
        except MediaError:
            log.warning("session %s: the media path did not end cleanly", session.id, exc_info=True)
        for viewer in viewers:
            self._audit_viewer(session, "stream.view_end", viewer.user, viewer.source, viewer.id,
                               audit.Outcome.SUCCESS, ended=f"the session ended: {reason}"[:300],
                               watched_s=round(self.clock() - viewer.joined, 1))

    def _keepalive_loop(self) -> None:
        while not self._stop.wait(KEEPALIVE_S):
            by_device: dict[str, list[uuid.UUID]] = {}
            now = utcnow()
            for session in list(self.sessions.values()):
                if now >= session.deadline:
                    self._close(session, "the session's deadline passed")
                else:
                    by_device.setdefault(session.device_id, []).append(session.id)
            if self.hub.link is None:
                continue
            for device_id, ids in by_device.items():
                try:
                    self.hub.link.send(device_id, m.StreamKeepalive(session_ids=ids[:64]))
                except Exception:
                    log.warning("keepalive to %s not sent", device_id, exc_info=True)
