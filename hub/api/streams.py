"""Stream now: open a WebRTC session from an appliance's camera, join it from the browser, stop it.

    POST   /api/streams                 camera, mode, at, purpose, reason, case number → session (201)
    POST   /api/streams/{id}/viewers    a single-use viewer token and the ICE servers to use (TURN, expiring)
    POST   /api/streams/{id}/viewers/join   the token → the SFU's SDP offer for this browser (ICE gathered)
    POST   /api/streams/{id}/viewers/{viewer}/answer   the browser's answer (ICE gathered)
    DELETE /api/streams/{id}/viewers/{viewer}          this browser leaves
    GET    /api/streams/{id}            state, deadline, seconds left, how it ended
    POST   /api/streams/{id}/control    playback: pause, resume, seek to `at`, speed
    DELETE /api/streams/{id}            stop (the appliance reports the end; both are audited)

The hub's consent checks are the access service's (`AccessService.clear`), then
`hub.streams.StreamService.open`: grant (audited first), the appliance's
verdict (audited), the session's room at the SFU. Only the analyst who opened a session
(or an admin) may watch or stop it; each viewer joining (or refused) and leaving, and each playback
control, is audited with the session's footage window.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from hub import audit
from hub.access.service import Ask, Purpose
from hub.api.consent import Analyst
from hub.api.deps import AccessDep, HubDep, SessionDep, client_address
from hub.tables import Role, StreamSession, User, utcnow
from hub.streams import StreamError, StreamRequest, footage_of
from wire import audit as wa

router = APIRouter(prefix="/api/streams", tags=["streams"])


class StreamIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    camera_id: int
    mode: Literal["live", "playback"] = "live"
    at: AwareDatetime | None = Field(None, description="Playback: where in the box's buffer to start.")
    purpose: Purpose
    reason: Annotated[str, Field(min_length=10, max_length=2000)]
    case_number: Annotated[str, Field(min_length=3, max_length=100)]
    duration_s: Annotated[int, Field(ge=10, le=24 * 3600)] = 600
    watch: bool = Field(False, description=(
        "Join the asking analyst as the session's first viewer at once: the answer carries the SFU's offer "
        "(`viewer`), saving the viewer token and join round trips before the first frame."))


class StreamOut(BaseModel):
    session_id: str
    camera_id: int
    mode: str
    analyst: str
    case_number: str
    started_at: dt.datetime
    deadline: dt.datetime
    remaining_s: float
    state: Literal["live", "ended"]
    ended_at: dt.datetime | None = None
    end_reason: str = ""
    duration_s: float | None = None


class IceServerOut(BaseModel):
    urls: list[str]
    username: str | None = None
    credential: str | None = Field(None, description="TURN REST API credential: expires with its user name")


class ViewerTicketOut(BaseModel):
    token: str = Field(description="Single use: redeem it with POST /api/streams/{id}/viewers/join.")
    expires_in_s: int
    ice_servers: list[IceServerOut]
    ice_transport_policy: Literal["all", "relay"]


class FirstViewerOut(BaseModel):
    """The asking analyst, joined as the session's first viewer (POST /api/streams with `watch`)."""

    viewer_id: uuid.UUID
    sdp: str = Field(description="The SFU's offer: answer it with POST /api/streams/{id}/viewers/{viewer_id}/answer")
    type: Literal["offer"] = "offer"
    ice_servers: list[IceServerOut]
    ice_transport_policy: Literal["all", "relay"]


class StreamOpenedOut(StreamOut):
    viewer: FirstViewerOut | None = Field(None, description="With `watch`: the analyst's viewer, already joined")
    viewer_error: str = Field("", description="With `watch`: why joining failed (the session runs; join it with "
                              "POST /api/streams/{id}/viewers)")


class JoinIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: Annotated[str, Field(min_length=8, max_length=200)]


class ViewerOfferOut(BaseModel):
    viewer_id: uuid.UUID
    sdp: str
    type: Literal["offer"] = "offer"


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sdp: Annotated[str, Field(min_length=10, max_length=32_000)]
    type: Literal["answer"] = "answer"


class ControlIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["pause", "resume", "seek", "speed"]
    at: AwareDatetime | None = Field(None, description="seek: the moment to play from (inside the granted window)")
    speed: Literal[0.25, 0.5, 1, 2, 4, 8, 16] | None = Field(None, description="speed: times real time; "
                                                             "above 4 only keyframes are sent")


class ControlOut(BaseModel):
    position: dt.datetime | None = Field(None, description="recorded time of the frame last sent")
    paused: bool
    speed: float


def _out(row: StreamSession, live: bool) -> StreamOut:
    now = utcnow()
    ended = row.ended_at is not None or not live
    return StreamOut(session_id=row.id, camera_id=row.camera_id, mode=row.mode, analyst=row.analyst,
                     case_number=row.case_number, started_at=row.started_at, deadline=row.deadline,
                     remaining_s=0 if ended else max(0.0, round((row.deadline - now).total_seconds(), 1)),
                     state="ended" if ended else "live", ended_at=row.ended_at, end_reason=row.end_reason,
                     duration_s=row.duration_s)


def _own_session(session, user: User, session_id: uuid.UUID) -> StreamSession:
    row = session.get(StreamSession, str(session_id))
    if row is None or (row.analyst != user.username and user.role != Role.ADMIN):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such stream session")
    return row


@dataclass(frozen=True)
class Running:
    """A running session of the user's, as its audit entries name it."""

    camera_id: int
    case_number: str
    footage: wa.FootageWindow


def _running_session(hub, user: User, session_id: uuid.UUID) -> Running:
    """The camera, case number and footage window of the user's session, if it is still running (404 / 410
    otherwise)."""
    with hub.db.session() as session:
        row = _own_session(session, user, session_id)
        camera_id, case_number = row.camera_id, row.case_number
    live = hub.streams.sessions.get(session_id) if hub.streams is not None else None
    if live is None:
        raise HTTPException(status.HTTP_410_GONE, "the session has ended")
    return Running(camera_id, case_number, footage_of(live.grant))


def _is_live(hub, session_id: uuid.UUID) -> bool:
    return hub.streams is not None and session_id in hub.streams.sessions


@router.post("", response_model=StreamOpenedOut, status_code=201,
             responses={403: {"description": "Refused by the hub's checks or by the appliance (reason given)"},
                        409: {"description": "The camera shares footage only with its owner's approval"},
                        503: {"description": "The appliance could not be reached"}})
def open_stream(body: StreamIn, request: Request, hub: HubDep, access: AccessDep,
                user: Analyst) -> StreamOpenedOut:
    if body.mode == "playback" and body.at is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "playback needs `at`, the moment to start from")
    if body.at is not None and body.at > utcnow():
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "`at` is in the future")
    if hub.streams is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "streaming is not running on this hub")
    window = (body.at, body.at + dt.timedelta(seconds=body.duration_s)) if body.mode == "playback" else None
    ask = Ask(user.username, user.unit, body.purpose, body.mode, body.reason, body.case_number, body.duration_s,
              window)
    source = client_address(request)
    target = access.clear(ask, body.camera_id, source)
    if target.policy.needs_approval(ask.mode, ask.purpose):
        raise HTTPException(status.HTTP_409_CONFLICT, "this camera shares footage only with its owner's approval: "
                            "request it with POST /api/access")
    try:
        live = hub.streams.open(StreamRequest(ask, target, source, at=body.at))
    except StreamError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    viewer, viewer_error = _first_viewer(hub, live.id, user.username, source) if body.watch else (None, "")
    with hub.db.session() as session:
        out = _out(session.get(StreamSession, str(live.id)), True)
    return StreamOpenedOut(**out.model_dump(), viewer=viewer, viewer_error=viewer_error)


def _first_viewer(hub, session_id: uuid.UUID, user: str, source: str) -> tuple[FirstViewerOut | None, str]:
    """Join `user` to the session just opened (a token issued and redeemed at once, audited like any join);
    the SFU's offer, or why not (the session stays open either way)."""
    try:
        ticket = hub.streams.viewer_token(session_id, user)
        viewer_id, offer = hub.streams.join(session_id, user, ticket.token, source)
    except StreamError as exc:
        return None, str(exc)
    return FirstViewerOut(viewer_id=viewer_id, sdp=offer, ice_servers=_ice_out(ticket.ice_servers),
                          ice_transport_policy=ticket.ice_transport_policy), ""


def _ice_out(servers) -> list[IceServerOut]:
    return [IceServerOut(urls=list(s.urls), username=s.username, credential=s.credential) for s in servers]


@router.get("/{session_id}", response_model=StreamOut)
def stream_state(session_id: uuid.UUID, session: SessionDep, hub: HubDep, user: Analyst) -> StreamOut:
    return _out(_own_session(session, user, session_id), _is_live(hub, session_id))


def _viewer_session(hub, user: User, session_id: uuid.UUID) -> None:
    """404 unless the session is the user's (or the user is an admin); 410 once it has ended."""
    with hub.db.session() as session:
        _own_session(session, user, session_id)
    if not _is_live(hub, session_id):
        raise HTTPException(status.HTTP_410_GONE, "the session has ended")


def _answer_error(exc: StreamError) -> HTTPException:
    return HTTPException(exc.status, str(exc))


@router.post("/{session_id}/viewers", response_model=ViewerTicketOut,
             responses={410: {"description": "The session has ended"}})
def viewer_ticket(session_id: uuid.UUID, hub: HubDep, user: Analyst) -> ViewerTicketOut:
    _viewer_session(hub, user, session_id)
    try:
        ticket = hub.streams.viewer_token(session_id, user.username)
    except StreamError as exc:
        raise _answer_error(exc) from None
    return ViewerTicketOut(token=ticket.token, expires_in_s=ticket.expires_in_s,
                           ice_servers=_ice_out(ticket.ice_servers),
                           ice_transport_policy=ticket.ice_transport_policy)


@router.post("/{session_id}/viewers/join", response_model=ViewerOfferOut,
             responses={403: {"description": "The viewer token is unknown, used, expired or not this session's"},
                        410: {"description": "The session has ended"}})
def join(session_id: uuid.UUID, body: JoinIn, request: Request, hub: HubDep, user: Analyst) -> ViewerOfferOut:
    _viewer_session(hub, user, session_id)
    try:
        viewer_id, offer = hub.streams.join(session_id, user.username, body.token, client_address(request))
    except StreamError as exc:
        raise _answer_error(exc) from None
    return ViewerOfferOut(viewer_id=viewer_id, sdp=offer)


@router.post("/{session_id}/viewers/{viewer_id}/answer", status_code=204,
             responses={404: {"description": "No such viewer"}, 422: {"description": "The SFU refused the answer"}})
def answer(session_id: uuid.UUID, viewer_id: uuid.UUID, body: AnswerIn, hub: HubDep, user: Analyst) -> None:
    _viewer_session(hub, user, session_id)
    try:
        hub.streams.answer(session_id, viewer_id, user.username, body.sdp)
    except StreamError as exc:
        raise _answer_error(exc) from None


@router.delete("/{session_id}/viewers/{viewer_id}", status_code=204)
def leave(session_id: uuid.UUID, viewer_id: uuid.UUID, hub: HubDep, user: Analyst) -> None:
    with hub.db.session() as session:
        _own_session(session, user, session_id)
    if hub.streams is not None:
        hub.streams.leave(session_id, viewer_id, "left by the viewer", user=user.username)


@router.post("/{session_id}/control", response_model=ControlOut,
             responses={409: {"description": "Not a playback session"}, 410: {"description": "The session has ended"},
                        422: {"description": "Refused by the appliance (e.g. a seek outside the granted window)"}})
def control(session_id: uuid.UUID, body: ControlIn, request: Request, hub: HubDep, user: Analyst) -> ControlOut:
    if body.action == "seek" and body.at is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "seek needs `at`")
    if body.action == "speed" and body.speed is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "speed needs `speed`")
    running = _running_session(hub, user, session_id)
    try:
        result = hub.streams.control(session_id, body.action, at=body.at, speed=body.speed)
        outcome = audit.Outcome.SUCCESS
    except StreamError as exc:
        result, outcome, failure = None, audit.Outcome.FAILURE, exc
    with hub.db.session() as session:  # seeks choose which footage is seen: on the record, refused ones too
        audit.append(session, actor=user.username, action="stream.control", outcome=outcome,
                     object=f"camera:{running.camera_id}", source=client_address(request),
                     case_number=running.case_number, session_id=str(session_id), control=body.action,
                     at=wa.iso_utc(body.at), speed=body.speed, **running.footage.details())
    if result is None:
        raise HTTPException(failure.status, str(failure)) from None
    return ControlOut(position=result.position, paused=result.paused, speed=result.speed)


@router.delete("/{session_id}", status_code=204)
def stop_stream(session_id: uuid.UUID, request: Request, hub: HubDep, user: Analyst) -> None:
    with hub.db.session() as session:
        row = _own_session(session, user, session_id)
        camera_id, case_number = row.camera_id, row.case_number
    stopped = hub.streams.stop(session_id) if hub.streams is not None else False
    with hub.db.session() as session:
        audit.append(session, actor=user.username, action="stream.stop", outcome=audit.Outcome.SUCCESS,
                     object=f"camera:{camera_id}", source=client_address(request), case_number=case_number,
                     session_id=str(session_id), already_ended=not stopped)
