"""The appliance's streamer: WebRTC sessions to the hub, opened only under a grant the box accepted.

Signaling rides the MQTT command channel (`wire.messages`): `stream.start`
carries the signed grant; the consent guard judges it (and logs it for the
owner); if accepted the streamer makes a send-only H.264 peer connection and
replies with its SDP offer (ICE gathered: no trickle). The hub answers with
`stream.answer`. Media is the camera's own packets (`edge.streaming.tracks`).

A session ends — and a `stream_ended` event with its duration goes to the hub
through the durable outbox — when the hub stops it, when its keepalives stop,
when the peer connection fails, at the grant's expiry or the policy's maximum
session length, and within `WATCH_S` of the owner pausing sharing on the box or
the hub pushing a policy that no longer allows it: the guard is asked again
for every running session, every `WATCH_S`.

aiortc is asyncio; the streamer runs its own event loop in a thread, and the
MQTT handlers (paho's thread) hand work to it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription

from edge.config import StreamingConfig
from edge.consent.guard import ConsentGuard
from edge.recording.fanout import Fanout
from edge.streaming.masks import MaskedTrack
from edge.streaming.playback import Footage, PlaybackTrack
from edge.streaming.tracks import LiveTrack
from wire import consent as c
from wire import messages as m
from wire import rtc

log = logging.getLogger(__name__)

WATCH_S = 0.25
HANDLER_TIMEOUT_S = 10


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class Session:
    id: uuid.UUID
    grant: c.Grant
    pc: RTCPeerConnection
    track: LiveTrack | PlaybackTrack  # the camera's packets (what is sent, unless masked)
    started_at: dt.datetime
    deadline: dt.datetime
    masks: list  # the owner's privacy masks when the session began (painted on a decoded copy), often none
    last_keepalive: float = field(default_factory=time.monotonic)
    ending: bool = False


def _answer_keyframe_requests(sender, track: LiveTrack | PlaybackTrack) -> None:
    """Route the receiver's PLI/FIR to `track.request_keyframe`. aiortc's sender only sets a flag for its encoder,
    which a passthrough track never uses, and has no public hook: its `_send_keyframe` is wrapped."""
    original = sender._send_keyframe

    def send_keyframe() -> None:
        original()
        if track.request_keyframe(time.monotonic()):
            log.debug("a receiver asked for a keyframe: the last GOP is sent again")

    sender._send_keyframe = send_keyframe


async def _bytes_sent(pc: RTCPeerConnection) -> int:
    """The RTP payload bytes the session's connection sent (its share of the uplink), 0 if unknown."""
    try:
        stats = await asyncio.wait_for(pc.getStats(), 1)
    except Exception:  # a connection that never came up, or is failing: the end matters, not the figure
        return 0
    return sum(getattr(s, "bytesSent", 0) for s in stats.values() if getattr(s, "type", "") == "outbound-rtp")


FootageFor = Callable[[str, int, int], Footage]  # camera, start_us, end_us → the recorded frames


def _us(when: dt.datetime) -> int:
    return int(when.timestamp() * 1_000_000)


def session_ice(settings: StreamingConfig, start: m.StreamStart) -> rtc.IceSettings:
    """Where a session's ICE may look: the configured host addresses and the TURN servers the hub named for the
    session in `stream.start`, with the credentials it made (they expire; the appliance keeps no TURN password)."""
    turn = tuple(rtc.TurnServer(tuple(s.urls), s.username, s.credential) for s in start.ice_servers)
    return rtc.IceSettings(tuple(settings.ice_host_addresses), turn, relay_only=settings.relay_only)


class Streamer:
    def __init__(self, guard: ConsentGuard, fanout_for: Callable[[str], Fanout | None],
                 publish: Callable[[m.EventBody], None], settings: StreamingConfig | None = None,
                 footage_for: FootageFor | None = None) -> None:
        self.guard = guard
        self.fanout_for = fanout_for
        self.footage_for = footage_for
        self.publish = publish
        self.settings = settings or StreamingConfig()
        self.sessions: dict[uuid.UUID, Session] = {}
        self._runner = rtc.LoopThread("streamer")
        self._watch = None  # the future of _watch_sessions, once started

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        self._runner.start()
        self._watch = self._runner.submit(self._watch_sessions())

    def stop(self) -> None:
        if not self._runner.is_alive():
            return
        self._watch.cancel()
        self._call(self._shutdown())
        self._runner.stop()

    async def _shutdown(self) -> None:
        for session in list(self.sessions.values()):
            await self._end(session, "the appliance is shutting down")

    def _call(self, coroutine, timeout: float = HANDLER_TIMEOUT_S):
        return self._runner.call(coroutine, timeout)

    # -- MQTT commands (paho's thread) -------------------------------------------------

    def command_handlers(self) -> dict[type, Callable[[Any], m.ReplyResult]]:
        """Handlers for the hub's stream commands, by command class (`edge.link.mqtt.EdgeLink.handle`)."""
        return {
            m.StreamStart: lambda body: self._call(self._start(body)),
            m.StreamAnswer: lambda body: self._call(self._answer(body)),
            m.StreamStop: lambda body: self._call(self._stop(body)),
            m.StreamKeepalive: lambda body: self._call(self._keepalive(body)),
            m.StreamControl: lambda body: self._call(self._control(body)),
        }

    async def _start(self, body: m.StreamStart) -> m.StreamOffer:
        if body.session_id in self.sessions:
            raise ValueError(f"session {body.session_id} already exists")
        if len(self.sessions) >= self.settings.max_sessions:
            return m.StreamOffer(accepted=False, reason=f"the appliance is already streaming {len(self.sessions)} "
                                 f"sessions (its limit is {self.settings.max_sessions})")
        signed = c.Signed(document=body.signed.document, signature=body.signed.signature)
        try:  # what the grant asks for, before judging it (judging uses it up)
            asked = c.Grant.model_validate_json(signed.document)
        except ValueError:
            asked = None
        if self.settings.relay_only and not body.ice_servers:
            return m.StreamOffer(accepted=False, reason="this appliance sends media only through TURN, and the hub "
                                 "named no TURN server for the session")
        source = None
        if asked is not None:
            source = await asyncio.to_thread(self._source, asked, body.at)
            if isinstance(source, str):
                return m.StreamOffer(accepted=False, reason=source[:2000])
        decision = await asyncio.to_thread(self.guard.judge, signed)
        if not decision.accepted:
            return m.StreamOffer(accepted=False, reason=decision.reason[:2000])
        grant = decision.grant
        if source is None:  # the grant was unreadable yet accepted: cannot happen, but never stream unchecked
            return m.StreamOffer(accepted=False, reason="the grant could not be read")
        now = _now()
        document = self.guard.policy(grant.camera)
        deadline = min(grant.expires_at, now + dt.timedelta(seconds=document.policy.max_session_s))
        pc = RTCPeerConnection(rtc.configuration(session_ice(self.settings, body)))
        name = f"stream-{body.session_id}"
        track = LiveTrack(source, name=name) if isinstance(source, Fanout) else PlaybackTrack(source, name=name)
        masks = document.policy.privacy_masks
        sent = MaskedTrack(track, masks) if masks else track
        transceiver = pc.addTransceiver(sent, direction="sendonly")
        rtc.prefer_h264(transceiver)
        if sent is track:  # passthrough: a receiver's keyframe request is answered from the box's own frames
            _answer_keyframe_requests(transceiver.sender, track)
        session = Session(body.session_id, grant, pc, track, now, deadline, masks)
        self.sessions[session.id] = session

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed") and not session.ending:
                await self._end(session, f"connection {pc.connectionState}")

        await pc.setLocalDescription(await pc.createOffer())
        log.info("streaming %s (%s) to the hub: session %s, grant %s, case %s", grant.camera, grant.mode,
                 session.id, grant.grant_id, grant.case_number)
        return m.StreamOffer(accepted=True, reason="accepted", sdp=pc.localDescription.sdp, deadline=deadline)

    def _source(self, grant: c.Grant, at: dt.datetime | None) -> Fanout | Footage | str:
        """What the session would send (the camera's fan-out, or its footage from `at`), or why it cannot."""
        if grant.mode == "live":
            fanout = self.fanout_for(grant.camera)
            return fanout if fanout is not None else f"camera {grant.camera} is not running on this appliance"
        if grant.mode != "playback" or self.footage_for is None:
            return f"{grant.mode} is not streamed by this appliance"
        if grant.window_from is None or grant.window_to is None:
            return "a playback grant must name its footage window"
        at = at or grant.window_from
        if not grant.window_from <= at < grant.window_to:
            return f"{at.isoformat()} is outside the granted window"
        footage = self.footage_for(grant.camera, _us(at), _us(grant.window_to))
        if not footage.recorded():
            return f"nothing of {grant.camera} is recorded from {at.isoformat()} to {grant.window_to.isoformat()}"
        return footage

    async def _answer(self, body: m.StreamAnswer) -> m.AnswerTaken:
        session = self._session(body.session_id)
        await session.pc.setRemoteDescription(RTCSessionDescription(sdp=body.sdp, type="answer"))
        return m.AnswerTaken(session_id=session.id)

    async def _stop(self, body: m.StreamStop) -> m.StreamStopped:
        session = self.sessions.get(body.session_id)
        if session is None:
            return m.StreamStopped(session_id=body.session_id, already_ended=True)
        ended = await self._end(session, body.reason)
        return m.StreamStopped(session_id=session.id, duration_s=(ended.ended_at - ended.started_at).total_seconds())

    async def _keepalive(self, body: m.StreamKeepalive) -> m.KeepaliveTaken:
        now = time.monotonic()
        unknown = []
        for session_id in body.session_ids:
            session = self.sessions.get(session_id)
            if session is None:
                unknown.append(session_id)
            else:
                session.last_keepalive = now
        return m.KeepaliveTaken(unknown=unknown)

    async def _control(self, body: m.StreamControl) -> m.PlaybackState:
        session = self._session(body.session_id)
        track = session.track
        if not isinstance(track, PlaybackTrack):
            raise ValueError("only playback sessions take pause, seek and speed")
        if body.action == "pause":
            track.pause()
        elif body.action == "resume":
            track.resume()
        elif body.action == "speed":
            track.set_speed(body.speed)  # refuses speeds it does not play
        else:
            grant = session.grant
            if not grant.window_from <= body.at < grant.window_to:
                raise ValueError(f"{body.at.isoformat()} is outside the granted window "
                                 f"({grant.window_from.isoformat()} to {grant.window_to.isoformat()})")
            track.seek(_us(body.at))
        position = track.position_us
        return m.PlaybackState(position=None if position is None else
                               dt.datetime.fromtimestamp(position / 1_000_000, dt.timezone.utc),
                               paused=track.paused, speed=track.speed)

    def _session(self, session_id: uuid.UUID) -> Session:
        session = self.sessions.get(session_id)
        if session is None:
            raise ValueError(f"no session {session_id}")
        return session

    # -- ending --------------------------------------------------------------------------

    async def _end(self, session: Session, reason: str) -> m.StreamEnded:
        session.ending = True
        self.sessions.pop(session.id, None)
        session.track.stop()
        sent = await _bytes_sent(session.pc)
        await session.pc.close()
        ended = m.StreamEnded(session_id=session.id, grant_id=session.grant.grant_id, camera=session.grant.camera,
                              mode=session.grant.mode, started_at=session.started_at, ended_at=_now(),
                              reason=reason[:500], packets_sent=session.track.packets_sent, bytes_sent=sent)
        log.info("session %s on %s ended after %.1f s: %s", session.id, session.grant.camera,
                 (ended.ended_at - ended.started_at).total_seconds(), reason)
        try:
            self.publish(ended)
        except Exception:
            log.warning("the end of session %s was not queued for the hub", session.id, exc_info=True)
        return ended

    def _why_end(self, session: Session, now: dt.datetime, mono: float) -> str | None:
        if now >= session.deadline:
            return "maximum session length reached" if session.deadline < session.grant.expires_at \
                else "grant expired"
        if mono - session.last_keepalive > self.settings.keepalive_timeout_s:
            return "the hub stopped asking for the session (no keepalive)"
        if isinstance(session.track, PlaybackTrack) and session.track.finished:
            return session.track.finished
        return self.guard.session_problem(session.grant, now, masks=session.masks)

    async def _watch_sessions(self) -> None:
        while True:
            await asyncio.sleep(WATCH_S)
            now, mono = _now(), time.monotonic()
            for session in list(self.sessions.values()):
                try:
                    why = self._why_end(session, now, mono)
                except Exception as exc:  # the consent store unreadable: fail closed
                    why = f"consent could not be checked: {exc}"
                if why and not session.ending:
                    await self._end(session, why)
