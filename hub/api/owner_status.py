"""The owner's status view: each of their boxes and cameras in plain language.

`GET /api/owner/status`: per box, whether it is online and when it was last heard; its disk (free, total, held by
video) and each camera's retention and oldest video, from the box's latest health report (`wire.messages.Health`);
each camera's recording over the last 24 hours (seconds recorded and its gaps with why, from the coverage its
box reports, `hub.coverage`); and the alarms an owner should act on, each said in plain words: the box's own alarms (clock not synchronised,
disk budget not met, a camera's recording failing), a camera offline and since when, the box offline.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select

from hub import coverage
from hub.api.deps import SessionDep, require
from hub.tables import Appliance, Event, Role, User, utcnow
from wire import messages as m

router = APIRouter(prefix="/api/owner", tags=["owner"])
Owner = Annotated[User, Depends(require(Role.OWNER))]


#: How many of a camera's gaps in the last day the status lists.
RECENT_GAPS = 5
DAY = dt.timedelta(hours=24)


class AlarmOut(BaseModel):
    level: Literal["warning", "critical"]
    text: str = Field(description="What is wrong and what to do, in plain words.")
    since: dt.datetime | None


class GapOut(BaseModel):
    start: dt.datetime
    end: dt.datetime
    reason: str = Field(description="Why nothing was recorded, as the box said it (camera offline, …).")


class CameraStatusOut(BaseModel):
    id: int
    name: str
    status: str
    last_seen: dt.datetime | None
    offline_since: dt.datetime | None
    retention_days: float | None = Field(description="Days of video the box keeps (none: not reported yet).")
    oldest: dt.datetime | None = Field(description="The oldest video the box holds.")
    recorded_last_day_s: float = Field(description="Seconds of the last 24 hours the box reports as recorded.")
    gaps_last_day: int = Field(description="How many gaps the box reported in the last 24 hours.")
    recent_gaps: list[GapOut] = Field(description=f"The newest {RECENT_GAPS} of those gaps, newest first.")


class BoxStatusOut(BaseModel):
    device_id: str
    name: str
    online: bool
    last_seen: dt.datetime | None
    reported_at: dt.datetime | None = Field(description="When the box last reported its health.")
    uptime_s: float | None
    disk_free_bytes: int | None
    disk_total_bytes: int | None
    recordings_bytes: int | None
    cameras: list[CameraStatusOut]
    alarms: list[AlarmOut]


def _alarm_text(alarm: m.BoxAlarm) -> str:
    key = alarm.key
    if key.startswith("clock:"):
        return ("The box's clock is not synchronised, so the times on its video may be wrong: check that it can "
                f"reach a time server ({alarm.message}).")
    if key.startswith("retention:"):
        return ("The box's disk is too small for what it must keep: it is deleting the oldest video early. "
                f"Shorten retention or add disk space ({alarm.message}).")
    if key.startswith("write_failed:"):
        camera = key.split(":", 1)[1]
        return f"Camera {camera} is not being recorded: the box cannot write its video ({alarm.message})."
    if key.startswith("audit:"):
        return f"The box found the hub's audit log inconsistent; tell the city ({alarm.message})."
    return f"{alarm.message} ({key})"


def _health(session, appliance: Appliance) -> tuple[m.Health | None, dt.datetime | None]:
    row = session.execute(select(Event.body, Event.at).where(Event.appliance_id == appliance.id, Event.kind == "health")
                          .order_by(Event.id.desc()).limit(1)).first()
    if row is None:
        return None, None
    try:
        return m.Health.model_validate(row.body), row.at
    except ValidationError:  # stored by an older hub in a shape this one does not read
        return None, row.at


def _box(session, appliance: Appliance) -> BoxStatusOut:
    health, reported_at = _health(session, appliance)
    keep = {k.camera: k for k in (health.keep or [])} if health else {}
    alarms = [AlarmOut(level=a.level, text=_alarm_text(a), since=a.since) for a in (health.alarms or [])] \
        if health else []
    if not appliance.online:
        alarms.insert(0, AlarmOut(level="critical", since=appliance.last_seen,
                                  text="The box is offline: the hub cannot reach it. Check its power and network."))
    cameras = []
    now = utcnow()
    days = coverage.summaries(session, [c.id for c in appliance.cameras], since=now - DAY, until=now)
    for camera in sorted(appliance.cameras, key=lambda c: c.name):
        k, day = keep.get(camera.name), days[camera.id]
        cameras.append(CameraStatusOut(
            id=camera.id, name=camera.name, status=camera.status.value, last_seen=camera.last_seen,
            offline_since=camera.offline_since, retention_days=k.retention_days if k else None,
            oldest=k.oldest if k else None, recorded_last_day_s=day.recorded_s, gaps_last_day=len(day.gaps),
            recent_gaps=[GapOut(start=g.start, end=g.end, reason=g.reason) for g in day.gaps[:RECENT_GAPS]]))
        if camera.status.value == "offline":
            alarms.append(AlarmOut(level="critical", since=camera.offline_since,
                                   text=f"Camera {camera.name} is offline: nothing is being recorded from it. "
                                        "Check its cable and power."))
    if health and health.disk_total_bytes and health.disk_free_bytes < 0.05 * health.disk_total_bytes:
        alarms.append(AlarmOut(level="warning", since=reported_at,
                               text="The box's disk is almost full; the oldest video is deleted first."))
    return BoxStatusOut(device_id=appliance.device_id, name=appliance.name, online=appliance.online,
                        last_seen=appliance.last_seen, reported_at=reported_at,
                        uptime_s=health.uptime_s if health else None,
                        disk_free_bytes=health.disk_free_bytes if health else None,
                        disk_total_bytes=health.disk_total_bytes if health else None,
                        recordings_bytes=health.recordings_bytes if health else None, cameras=cameras, alarms=alarms)


@router.get("/status", response_model=list[BoxStatusOut])
def owner_status(session: SessionDep, user: Owner) -> list[BoxStatusOut]:
    """Each of the owner's boxes: online, disk, retention, cameras and alarms in plain words."""
    appliances = session.scalars(select(Appliance).where(Appliance.business_id == user.business_id)
                                 .order_by(Appliance.name, Appliance.device_id))
    return [_box(session, a) for a in appliances]
