"""Hot-list hits for analysts and admins: the recent ones, a live stream, acknowledging and dismissing (the
service is `hub.hits`, the fan-out `hub.hit_feed`).

- `GET /api/hits[?since=&state=&limit=]` — newest first (`HitOut`).
- `GET /api/hits/stream` — server-sent events (text/event-stream), authorised by the Bearer header: each new hit
  as `event: hit` with `id: <hit id>` and a `HitOut` as data, each acknowledgement or dismissal as
  `event: hit_updated`, a keep-alive comment when nothing happened for a while, and at the end `event: dropped`
  (the client did not keep up) or `event: ended` (signed out, the hub stopping) with a `HitStreamNote`.
  Reconnect with `Last-Event-ID: <last hit id>` (or `?after_id=`) to get what came meanwhile (at most 100).
  503 when too many streams are open.
- `POST /api/hits/{id}/acknowledge`, `POST /api/hits/{id}/dismiss` — optional `{"note": …}`; audited; 409 if
  the hit was handled that way already (or dismissed).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, status
from fastapi.responses import StreamingResponse

from hub import hits as service
from hub.api.boundary import INT64_MAX, Id, Moment
from hub.api.deps import BearerDep, HubDep, SessionDep, client_address, require
from hub.hit_feed import REPLAY_MAX, FeedEvent, HitFeed, async_events
from hub.hits import HitAction, HitHandling, HitOut, HitState
from hub.security import session_for_token
from hub.services import HubServices
from hub.tables import Role, User, utcnow

router = APIRouter(prefix="/api", tags=["plate hits"])
ROLES = (Role.ANALYST, Role.ADMIN)
Analyst = Annotated[User, Depends(require(*ROLES))]
STREAM = {200: {"description": "Server-sent events: `hit` and `hit_updated` carry a HitOut; `dropped` and `ended` "
                               "a HitStreamNote.", "content": {"text/event-stream": {"schema": {"type": "string"}}}},
          503: {"description": "As many hit streams as the hub allows are open"}}
HANDLED = {404: {"description": "No such hit"}, 409: {"description": "Handled that way already, or dismissed"}}


def get_feed(request: Request) -> HitFeed:
    return request.app.state.hit_feed


FeedDep = Annotated[HitFeed, Depends(get_feed)]


@router.get("/hits", response_model=list[HitOut])
def list_hits(session: SessionDep, user: Analyst, since: Moment | None = None, state: HitState | None = None,
              limit: Annotated[int, Query(ge=1, le=service.MAX_LIST)] = 50) -> list[HitOut]:
    """Recent hot-list hits, newest first: seen at or after `since`, in `state`, if given."""
    return service.list_hits(session, since=since, state=state, limit=limit)


def _still_signed_in(hub: HubServices, token: str) -> bool:
    with hub.db.session() as session:
        row = session_for_token(session, token, hub.settings.secret_key)
        return row is not None and row.user.role in ROLES


def _replay(hub: HubServices, after_id: int) -> list[HitOut]:
    with hub.db.session() as session:
        return service.hits_after(session, after_id=after_id, limit=REPLAY_MAX)


@router.get("/hits/stream", response_class=StreamingResponse, responses=STREAM)
async def stream_hits(hub: HubDep, feed: FeedDep, user: Analyst, credentials: BearerDep,
                      last_event_id: Annotated[int | None, Header(ge=0, le=INT64_MAX)] = None,
                      after_id: Annotated[int | None, Query(ge=0, le=INT64_MAX)] = None) -> StreamingResponse:
    """New hot-list hits as they are stored (within a second or two of the box's read), as server-sent events."""
    if feed.clients >= feed.max_clients:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "too many hit streams are open; try again later")
    resume = last_event_id if last_event_id is not None else after_id
    token = credentials.credentials if credentials is not None else ""
    events = async_events(feed, keepalive_s=hub.settings.hit_stream_keepalive_s, who=user.username,
                          replay=(lambda: _replay(hub, resume)) if resume is not None else None,
                          still_allowed=lambda: _still_signed_in(hub, token))
    return StreamingResponse(events, media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def _handle(hub: HubServices, feed: HitFeed, *, hit_id: int, action: HitAction, user: User, note: str,
            source: str) -> HitOut:
    try:
        with hub.db.session() as session:
            out = service.handle(session, hit_id=hit_id, action=action, user=user, note=note, source=source,
                                 now=utcnow())
    except service.HitError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    feed.publish([FeedEvent("hit_updated", out)])  # once committed: every console sees who took it
    return out


@router.post("/hits/{hit_id}/acknowledge", response_model=HitOut, responses=HANDLED)
def acknowledge_hit(hit_id: Id, request: Request, hub: HubDep, feed: FeedDep, user: Analyst,
                    body: HitHandling | None = None) -> HitOut:
    """Someone is on it: on the record, and shown to every console."""
    return _handle(hub, feed, hit_id=hit_id, action="acknowledge", user=user, note=body.note if body else "",
                   source=client_address(request))


@router.post("/hits/{hit_id}/dismiss", response_model=HitOut, responses=HANDLED)
def dismiss_hit(hit_id: Id, request: Request, hub: HubDep, feed: FeedDep, user: Analyst,
                body: HitHandling | None = None) -> HitOut:
    """A misread, or nothing to do: on the record, and shown to every console."""
    return _handle(hub, feed, hit_id=hit_id, action="dismiss", user=user, note=body.note if body else "",
                   source=client_address(request))
