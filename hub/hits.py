"""Hot-list hits for the analyst's console: listed, handled (acknowledged, dismissed) and described for the live
feed (`hub.hit_feed`); the router is `hub.api.hits`.

A hit is an `Alert` of kind "hotlist_hit", stored by the ingest with the shared read it came from (the hub keeps
only reads the camera's owner shares; a hit the owner does not share never reaches the hub). `HitOut` is what
the console shows: the plate as read and as the list has it, the list and its reason, the camera (name,
business, place), when, the read's confidence and its thumbnail's URL when the box sent one, and who
acknowledged or dismissed it. Every description is built by one query, whatever the number of hits.

Handling: a new hit may be acknowledged (someone is on it) or dismissed (a misread, or nothing to do); an
acknowledged one may still be dismissed; nothing is undone. Each is audited (`hit.acknowledge`,
`hit.dismiss`: who, from where, which hit, the plate and list, the note).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from hub import audit
from hub.tables import Alert, Appliance, Business, Camera, PlateReadRow, PlateThumbnail, User

HIT = "hotlist_hit"
HitState = Literal["new", "acknowledged", "dismissed"]
HitAction = Literal["acknowledge", "dismiss"]
MAX_LIST = 500


class HitError(Exception):
    """A hit that cannot be handled as asked; `status` is the HTTP answer."""

    status = 409


class HitNotFound(HitError):
    """No hot-list hit with this id."""

    status = 404


class HitOut(BaseModel):
    """One hot-list hit as the console shows it."""

    id: int
    plate: str = Field(description="The plate as the box read it.")
    entry_plate: str | None = Field(description="The plate as the hot list has it (may differ by look-alikes).")
    list_name: str
    reason: str = Field(description="Why the plate is on the list, as the list says.")
    at: dt.datetime = Field(description="When the vehicle was last seen in the pass (the box's clock).")
    first_seen: dt.datetime | None
    confidence: float | None = Field(description="The read's confidence, 0 to 1.")
    camera_id: int | None
    camera_name: str | None
    business_id: int
    business_name: str
    latitude: float | None
    longitude: float | None
    view_direction_deg: float | None
    read_id: int | None
    thumbnail_url: str | None = Field(description="GET it with the session's Bearer token (analysts and admins); "
                                      "absent when the box sent no thumbnail.")
    state: HitState
    acknowledged_by: str | None
    acknowledged_at: dt.datetime | None
    dismissed_by: str | None
    dismissed_at: dt.datetime | None
    note: str = Field(description="The note given with the latest acknowledgement or dismissal.")


class HitHandling(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: Annotated[str, Field(max_length=2000)] = ""


def thumbnail_url(read_id: int) -> str:
    return f"/api/reads/{read_id}/thumbnail"


def _described() -> Select:
    return (select(Alert, PlateReadRow.plate, PlateReadRow.confidence, PlateReadRow.first_seen, Camera.name,
                   Camera.latitude, Camera.longitude, Camera.view_direction_deg, Business.id, Business.name,
                   PlateThumbnail.read_id)
            .join(Appliance, Alert.appliance_id == Appliance.id).join(Business, Appliance.business_id == Business.id)
            .outerjoin(PlateReadRow, Alert.read_id == PlateReadRow.id)
            .outerjoin(PlateThumbnail, PlateThumbnail.read_id == Alert.read_id)
            .outerjoin(Camera, Alert.camera_id == Camera.id)
            .where(Alert.kind == HIT))


def _state(alert: Alert) -> HitState:
    return "dismissed" if alert.dismissed_at else "acknowledged" if alert.acknowledged_at else "new"


def _out(row) -> HitOut:
    alert, plate, confidence, first_seen, camera, lat, lon, view, business_id, business, thumbnail = row
    return HitOut(
        id=alert.id, plate=plate or alert.message.split(" ", 1)[0], entry_plate=alert.entry_plate,
        list_name=alert.list_name or "", reason=alert.reason or "", at=alert.at, first_seen=first_seen,
        confidence=confidence, camera_id=alert.camera_id, camera_name=camera, business_id=business_id,
        business_name=business, latitude=lat, longitude=lon, view_direction_deg=view, read_id=alert.read_id,
        thumbnail_url=thumbnail_url(thumbnail) if thumbnail is not None else None, state=_state(alert),
        acknowledged_by=alert.acknowledged_by, acknowledged_at=alert.acknowledged_at,
        dismissed_by=alert.dismissed_by, dismissed_at=alert.dismissed_at, note=alert.note or "")


def list_hits(session: Session, *, since: dt.datetime | None = None, state: HitState | None = None,
              limit: int = 50) -> list[HitOut]:
    """The newest hits first (by when they were seen), at most `limit`; from `since` on, in `state` if given."""
    query = _described().order_by(Alert.at.desc(), Alert.id.desc()).limit(min(limit, MAX_LIST))
    if since is not None:
        query = query.where(Alert.at >= since)
    if state == "new":
        query = query.where(Alert.acknowledged_at.is_(None), Alert.dismissed_at.is_(None))
    elif state == "acknowledged":
        query = query.where(Alert.acknowledged_at.is_not(None), Alert.dismissed_at.is_(None))
    elif state == "dismissed":
        query = query.where(Alert.dismissed_at.is_not(None))
    return [_out(row) for row in session.execute(query)]


def newest_id(session: Session) -> int:
    """The id of the newest hit stored (0: none)."""
    return session.scalar(select(func.max(Alert.id)).where(Alert.kind == HIT)) or 0


def hits_after(session: Session, *, after_id: int, limit: int) -> list[HitOut]:
    """Hits stored after hit `after_id` (what a reconnecting stream missed), oldest first, at most `limit`."""
    query = _described().where(Alert.id > after_id).order_by(Alert.id).limit(limit)
    return [_out(row) for row in session.execute(query)]


def hit(session: Session, *, hit_id: int) -> HitOut:
    row = session.execute(_described().where(Alert.id == hit_id)).one_or_none()
    if row is None:
        raise HitNotFound("no such hit")
    return _out(row)


def handle(session: Session, *, hit_id: int, action: HitAction, user: User, note: str, source: str,
           now: dt.datetime) -> HitOut:
    """Acknowledge or dismiss hit `hit_id` as `user`, on the record; HitError if it cannot be."""
    alert = session.get(Alert, hit_id)
    if alert is None or alert.kind != HIT:
        raise HitNotFound("no such hit")
    if alert.dismissed_at is not None:
        raise HitError(f"dismissed by {alert.dismissed_by} already")
    if action == "acknowledge":
        if alert.acknowledged_at is not None:
            raise HitError(f"acknowledged by {alert.acknowledged_by} already")
        alert.acknowledged_by, alert.acknowledged_at = user.username, now
    else:
        alert.dismissed_by, alert.dismissed_at = user.username, now
    alert.note = note
    out = hit(session, hit_id=hit_id)
    audit.append(session, actor=user.username, action=f"hit.{action}", outcome=audit.Outcome.SUCCESS,
                 object=f"hit:{hit_id}", source=source, reason=note, plate=out.plate, list_name=out.list_name,
                 camera_id=out.camera_id)
    return out
