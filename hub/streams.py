"""The hub's side of "stream now": one WebRTC pull from the appliance, relayed to each viewer's browser.

`StreamService.open` runs after the access service's checks
(`hub.access.service.AccessService.clear`) with a `StreamRequest`: it issues the grant
(audit entry first, checkpoint at once — `hub.access.grants`), sends `stream.start`
with it over MQTT, answers the appliance's SDP offer from its own peer
connection and records the session (table `stream_sessions`, audit
`stream.start` with the granted footage window and, for playback, where it
starts). Viewers join with `add_viewer`: each browser gets its own peer
connection fed from aiortc's `MediaRelay`, so one pull from the box serves
every viewer. The hub keeps the appliance's sessions alive with
`stream.keepalive` every `KEEPALIVE_S`; when the appliance ends a session
(revocation, pause, expiry, anything) its `stream_ended` event reaches
`closed_by_appliance`, and every viewer's media stops.

The relay decodes the appliance's H.264 once and encodes per viewer (aiortc
has no encoded-frame forwarding); the appliance never transcodes.

aiortc is asyncio: the service runs its own loop in a thread; the API's
threads hand coroutines to it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from dataclasses import dataclass, field

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay

from hub import audit
from hub.access.errors import ApplianceUnreachable
from hub.access.grants import issue_grant
from hub.access.presenting import envelope, present
from hub.access.service import Ask, Target
from hub.services import HubServices
from hub.tables import StreamSession, utcnow
from wire import audit as wa
from wire import consent as c
from wire import messages as m
from wire import rtc

log = logging.getLogger(__name__)

KEEPALIVE_S = 5
TRACK_TIMEOUT_S = 5


class StreamError(RuntimeError):
    """The session could not be opened; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 503):
        super().__init__(message)
        self.status = status


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


@dataclass
class LiveSession:
    id: uuid.UUID
    device_id: str
    camera: str
    camera_id: int
    analyst: str
    grant: c.Grant
    deadline: dt.datetime
    pc: RTCPeerConnection
    track: object = None  # the appliance's remote video track
    track_ready: asyncio.Event = field(default_factory=asyncio.Event)
    viewers: list[RTCPeerConnection] = field(default_factory=list)
    ended: bool = False


class StreamService:
    def __init__(self, hub: HubServices, ice: rtc.IceSettings | None = None) -> None:
        self.hub = hub
        self.ice = ice or rtc.IceSettings()
        self.relay = MediaRelay()
        self.sessions: dict[uuid.UUID, LiveSession] = {}
        self._runner = rtc.LoopThread("streams")
        self._runner.start()
        self._keepalive = self._runner.submit(self._keepalive_loop())

    def call(self, coroutine, timeout: float = 15):
        """Run `coroutine` on the service's loop (from any other thread) and return its result."""
        try:
            return self._runner.call(coroutine, timeout)
        except TimeoutError:
            raise StreamError("the stream service did not answer in time") from None

    def close(self) -> None:
        if not self._runner.is_alive():
            return
        self._keepalive.cancel()
        try:
            self.call(self._close_all(), timeout=10)
        finally:
            self._runner.stop()

    async def _close_all(self) -> None:
        for session in list(self.sessions.values()):
            await self._close(session)
        # aiortc leaves the connection attempt of a peer that never connected (an appliance that accepted and
        # then went silent) running after close(): cancel what is left, so the loop stops with nothing pending.
        leftover = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in leftover:
            task.cancel()
        if leftover:
            await asyncio.wait(leftover, timeout=2)

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
        deadline = min(grant.expires_at, offer.deadline)
        session = self.call(self._connect(session_id, target.device_id, target.camera, target.camera_id, ask.analyst,
                                          grant, deadline, offer.sdp))
        reply = self.hub.link.request(target.device_id, m.StreamAnswer(session_id=session_id,
                                                                       sdp=session.pc.localDescription.sdp))
        if reply is None or not reply.ok:
            self.call(self._close(session))
            raise StreamError(f"the appliance did not take the answer: {reply.error if reply else 'no reply'}")
        self._record(request, session_id, grant, deadline)
        return session

    def _start_on_appliance(self, device_id: str, session_id: uuid.UUID, signed: c.Signed,
                            at: dt.datetime | None) -> m.StreamOffer:
        """Present the grant with `stream.start`; the appliance's accepted offer, or StreamError with its reason."""
        try:
            offer = present(self.hub, device_id, signed, m.StreamStart(session_id=session_id, signed=envelope(signed),
                                                                       at=at))
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

    async def _connect(self, session_id, device_id, camera, camera_id, analyst, grant, deadline,
                       offer: str) -> LiveSession:
        pc = RTCPeerConnection(rtc.configuration(self.ice))
        session = LiveSession(session_id, device_id, camera, camera_id, analyst, grant, deadline, pc)

        @pc.on("track")
        def on_track(track) -> None:
            if track.kind == "video" and session.track is None:
                session.track = track
                session.track_ready.set()

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed") and not session.ended:
                log.info("session %s: connection to the appliance %s", session.id, pc.connectionState)
                await self._close(session)

        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        self.sessions[session_id] = session
        return session

    # -- viewers --------------------------------------------------------------------------

    def add_viewer(self, session_id: uuid.UUID, offer: str) -> str:
        return self.call(self._add_viewer(session_id, offer))

    async def _add_viewer(self, session_id: uuid.UUID, offer: str) -> str:
        session = self.sessions.get(session_id)
        if session is None or session.ended:
            raise StreamError("the session has ended", status=410)
        try:
            await asyncio.wait_for(session.track_ready.wait(), TRACK_TIMEOUT_S)
        except asyncio.TimeoutError:
            raise StreamError("no video from the appliance yet") from None
        pc = RTCPeerConnection(rtc.configuration(self.ice))
        session.viewers.append(pc)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        pc.addTrack(self.relay.subscribe(session.track, buffered=False))
        await pc.setLocalDescription(await pc.createAnswer())
        return pc.localDescription.sdp

    def subscribe(self, session_id: uuid.UUID):
        """A relayed copy of the appliance's track (decoded frames), for in-process viewers such as tests."""
        async def sub():
            session = self.sessions[session_id]
            await asyncio.wait_for(session.track_ready.wait(), TRACK_TIMEOUT_S)
            return self.relay.subscribe(session.track, buffered=True)
        return self.call(sub())

    # -- playback controls ---------------------------------------------------------------------

    def control(self, session_id: uuid.UUID, action: str, *, at: dt.datetime | None = None,
                speed: float | None = None) -> m.PlaybackState:
        """Pause, resume, seek or set the speed of a playback session; the appliance's reply (position, state)."""
        session = self.sessions.get(session_id)
        if session is None or session.ended:
            raise StreamError("the session has ended", status=410)
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
        self.call(self._close(session))
        return True

    def closed_by_appliance(self, session_id: uuid.UUID) -> None:
        """The appliance reported the session's end: close the relay and every viewer (any thread)."""
        session = self.sessions.get(session_id)
        if session is not None:
            self._runner.submit(self._close(session))

    async def _close(self, session: LiveSession) -> None:
        if session.ended:
            return
        session.ended = True
        self.sessions.pop(session.id, None)
        for viewer in session.viewers:
            await viewer.close()
        await session.pc.close()

    async def _keepalive_loop(self) -> None:
        while True:
            await asyncio.sleep(KEEPALIVE_S)
            by_device: dict[str, list[uuid.UUID]] = {}
            now = utcnow()
            for session in list(self.sessions.values()):
                if now >= session.deadline:
                    await self._close(session)
                else:
                    by_device.setdefault(session.device_id, []).append(session.id)
            if self.hub.link is None:
                continue
            for device_id, ids in by_device.items():
                try:
                    self.hub.link.send(device_id, m.StreamKeepalive(session_ids=ids[:64]))
                except Exception:
                    log.warning("keepalive to %s not sent", device_id, exc_info=True)
