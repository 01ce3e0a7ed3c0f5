"""The canvass: which registered cameras near a point were recording during a time window.

Registered cameras without an appliance (`hub.registrations.nearby`) come apart from them, each marked as
needing its owner to upload. The hub answers from the coverage the boxes report (`hub.coverage`), without asking any box. `canvass()` is
the one entry point (the API and the footage requests call it): the cameras of active appliances within
`radius_m` (an indexed latitude/longitude box, then the exact great-circle distance), nearest first, split
into those with recorded coverage in the window and those without, each with why. Five queries whatever the
number of cameras: cameras, coverage in the window, each camera's consent in force, — for the cameras
without coverage only — when they last reported, and the registered cameras in the box.

What each camera carries: its distance, how many seconds of the window it recorded and its gaps in the
window (with the box's reasons), whether its view direction faces the point within the field of view
(`unknown` when the camera's direction is not registered or the point is where the camera is), the sharing
mode of its owner's consent in force (`off` without one), its business and site, and whether its appliance
is online now.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import and_, func, select, union_all
from sqlalchemy.orm import Session, aliased

from hub.geo import angle_between, bearing_deg, bounding_box, haversine_m
from hub.registrations.nearby import RegisteredCanvassCamera, registered_near
from hub.tables import Appliance, ApplianceState, Business, Camera, ConsentVersion, CoverageSpan, Site
from wire import consent as c

MAX_RADIUS_M = 2000.0
DEFAULT_RADIUS_M = 500.0
MAX_WINDOW = dt.timedelta(hours=24)
DEFAULT_FOV_DEG = 90.0
#: An incident's canvass window unless the analyst gives one: this long either side of when it was reported.
INCIDENT_MARGIN = dt.timedelta(minutes=30)
#: Closer than this, the point is where the camera is: which way it looks says nothing.
SAME_PLACE_M = 1.0
Facing = Literal["yes", "no", "unknown"]


class CanvassError(ValueError):
    """A canvass asked with a window, radius or field of view out of bounds; the message says which."""

    status = 422


class CoverageGap(BaseModel):
    start: dt.datetime
    end: dt.datetime
    reason: str


class CanvassCamera(BaseModel):
    camera_id: int
    camera_name: str
    business_id: int
    business_name: str
    site_name: str | None
    site_address: str | None
    appliance: str = Field(description="The appliance's device id.")
    appliance_online: bool
    latitude: float
    longitude: float
    distance_m: float
    bearing_deg: float | None = Field(description="From the camera to the point, clockwise from north.")
    view_direction_deg: float | None
    facing: Facing = Field(description="Whether the point is inside the camera's field of view.")
    consent_mode: c.SharingMode = Field(description="Sharing of the owner's consent in force (off without one).")
    recorded_s: float = Field(description="Seconds of the window the box reported recorded.")
    gaps: list[CoverageGap] = Field(description="Reported gaps inside the window, with the box's reasons.")
    why: str = Field("", description="For a camera without recording in the window: why, as far as the hub knows.")


class CanvassResult(BaseModel):
    latitude: float
    longitude: float
    radius_m: float
    window_from: dt.datetime
    window_to: dt.datetime
    fov_deg: float
    recording: list[CanvassCamera] = Field(description="Cameras that recorded during the window, nearest first.")
    not_recording: list[CanvassCamera] = Field(description="Cameras in the radius without recording then.")
    registered: list[RegisteredCanvassCamera] = Field(default_factory=list, description=(
        "Registered cameras without an appliance in the radius, nearest first: the owner must upload."))


@dataclass(frozen=True, slots=True)
class _Nearby:
    distance_m: float
    camera_id: int
    camera_name: str
    latitude: float
    longitude: float
    view_direction_deg: float | None
    appliance: str
    appliance_online: bool
    business_id: int
    business_name: str
    site_name: str | None
    site_address: str | None


@dataclass(frozen=True, slots=True)
class _Span:
    start: dt.datetime
    end: dt.datetime
    recorded: bool
    reason: str


def check_query(*, radius_m: float, window_from: dt.datetime, window_to: dt.datetime, fov_deg: float,
                now: dt.datetime) -> None:
    """CanvassError unless the radius, window and field of view are within bounds."""
    if not 0 < radius_m <= MAX_RADIUS_M:
        raise CanvassError(f"radius_m must be more than 0 and at most {MAX_RADIUS_M:g}")
    if window_to <= window_from:
        raise CanvassError("the window ends before it starts")
    if window_to - window_from > MAX_WINDOW:
        raise CanvassError(f"the window is longer than {MAX_WINDOW.total_seconds() / 3600:g} h")
    if window_from > now:
        raise CanvassError("the window starts in the future")
    if not 0 < fov_deg <= 360:
        raise CanvassError("fov_deg must be more than 0 and at most 360")


def canvass(session: Session, *, latitude: float, longitude: float, radius_m: float, window_from: dt.datetime,
            window_to: dt.datetime, now: dt.datetime, max_age: dt.timedelta,
            fov_deg: float = DEFAULT_FOV_DEG) -> CanvassResult:
    """The cameras within `radius_m` of the point, split by whether they recorded in [window_from, window_to);
    `max_age` is how long footage is kept (older windows are outside retention)."""
    check_query(radius_m=radius_m, window_from=window_from, window_to=window_to, fov_deg=fov_deg, now=now)
    box = bounding_box(latitude, longitude, radius_m)
    nearby = cameras_near(session, latitude=latitude, longitude=longitude, radius_m=radius_m)
    spans = coverage_in(session, box=box, window_from=window_from, window_to=window_to)
    modes = sharing_of(session, box=box)
    recording, silent = [], []
    for camera in nearby:
        out = _camera_out(camera, spans.get(camera.camera_id, []), latitude=latitude, longitude=longitude,
                          fov_deg=fov_deg, window=(window_from, window_to), mode=modes.get(camera.camera_id, "off"))
        (recording if out.recorded_s > 0 else silent).append(out)
    last = last_reported(session, camera_ids=[camera.camera_id for camera in silent])
    silent = [camera.model_copy(update={"why": why_not_recorded(
        gaps=camera.gaps, last_reported=last.get(camera.camera_id), window_from=window_from, window_to=window_to,
        kept_since=now - max_age, online=camera.appliance_online)}) for camera in silent]
    registered = registered_near(session, latitude=latitude, longitude=longitude, radius_m=radius_m,
                                 fov_deg=fov_deg, window_from=window_from, now=now)
    return CanvassResult(latitude=latitude, longitude=longitude, radius_m=radius_m, window_from=window_from,
                         window_to=window_to, fov_deg=fov_deg, recording=recording, not_recording=silent,
                         registered=registered)


def _camera_out(camera: _Nearby, spans: list[_Span], *, latitude: float, longitude: float, fov_deg: float,
                window: tuple[dt.datetime, dt.datetime], mode: c.SharingMode) -> CanvassCamera:
    bearing = None if camera.distance_m < SAME_PLACE_M else \
        round(bearing_deg(camera.latitude, camera.longitude, latitude, longitude), 1)
    gaps = [CoverageGap.model_construct(start=max(s.start, window[0]), end=min(s.end, window[1]), reason=s.reason)
            for s in sorted(spans, key=lambda s: s.start) if not s.recorded]
    # Built from the hub's own typed rows: no validation needed (it was a third of a 400-camera canvass).
    return CanvassCamera.model_construct(
        camera_id=camera.camera_id, camera_name=camera.camera_name, business_id=camera.business_id,
        business_name=camera.business_name, site_name=camera.site_name, site_address=camera.site_address,
        appliance=camera.appliance, appliance_online=camera.appliance_online, latitude=camera.latitude,
        longitude=camera.longitude, distance_m=round(camera.distance_m, 1), bearing_deg=bearing,
        view_direction_deg=camera.view_direction_deg, facing=facing(camera.view_direction_deg, bearing, fov_deg),
        consent_mode=mode, recorded_s=recorded_seconds([(s.start, s.end) for s in spans if s.recorded], *window),
        gaps=gaps, why="")


# ---------------------------------------------------------------- pure policy


def facing(view_direction_deg: float | None, bearing: float | None, fov_deg: float) -> Facing:
    """Whether a camera looking along `view_direction_deg` sees a point at `bearing` with a `fov_deg` field of
    view; "unknown" when either direction is unknown."""
    if view_direction_deg is None or bearing is None:
        return "unknown"
    return "yes" if angle_between(view_direction_deg, bearing) <= fov_deg / 2 else "no"


def recorded_seconds(spans: list[tuple[dt.datetime, dt.datetime]], window_from: dt.datetime,
                     window_to: dt.datetime) -> float:
    """Seconds of [window_from, window_to) inside the union of `spans` (overlaps counted once)."""
    total, reached = 0.0, window_from
    for start, end in sorted(spans):
        start, end = max(start, reached), min(end, window_to)
        if end > start:
            total += (end - start).total_seconds()
            reached = end
    return round(total, 3)


def why_not_recorded(*, gaps: list[CoverageGap], last_reported: dt.datetime | None, window_from: dt.datetime,
                     window_to: dt.datetime, kept_since: dt.datetime, online: bool) -> str:
    """Why a camera has no recorded coverage in the window, as far as the hub can tell."""
    if window_to <= kept_since:
        return "outside retention: footage this old is no longer kept"
    if gaps:
        reasons = sorted({gap.reason or "not recording" for gap in gaps})
        return "not recording then: " + "; ".join(reasons)
    offline = "" if online else " (its appliance is offline now)"
    if last_reported is None:
        return "no coverage reported: the box has not said what this camera recorded" + offline
    if last_reported <= window_from:
        return f"no coverage reported since {last_reported.isoformat()}" + offline
    return "no recording reported in the window"


# ---------------------------------------------------------------- queries


Box = tuple[float, float, float, float]


def _in_box(query, box: Box):
    lat_min, lat_max, lon_min, lon_max = box
    return query.where(Camera.latitude.between(lat_min, lat_max), Camera.longitude.between(lon_min, lon_max))


def cameras_near(session: Session, *, latitude: float, longitude: float, radius_m: float) -> list[_Nearby]:
    """Cameras of active appliances within `radius_m`, nearest first (bounding box in SQL, on the latitude and
    longitude indexes; exact distance here)."""
    rows = session.execute(_in_box(
        select(Camera.id, Camera.name, Camera.latitude, Camera.longitude, Camera.view_direction_deg,
               Appliance.device_id, Appliance.online, Business.id, Business.name, Site.name, Site.address)
        .join(Appliance, Camera.appliance_id == Appliance.id).join(Business, Appliance.business_id == Business.id)
        .outerjoin(Site, Appliance.site_id == Site.id).where(Appliance.state == ApplianceState.ACTIVE),
        bounding_box(latitude, longitude, radius_m)))
    found = [_Nearby(haversine_m(latitude, longitude, row[2], row[3]), *row) for row in rows]
    return sorted((camera for camera in found if camera.distance_m <= radius_m),
                  key=lambda camera: (camera.distance_m, camera.camera_id))


def coverage_in(session: Session, *, box: Box, window_from: dt.datetime,
                window_to: dt.datetime) -> dict[int, list[_Span]]:
    """The reported spans overlapping the window of each camera in the box (the same box as `cameras_near`,
    not a list of ids: one plan whatever their number).

    Two index ranges on (camera, end) per camera, never a scan of a camera's whole history: the spans that end
    inside the window, and the first span that ends after it (the one that covers the window's end, if it
    starts before it). A camera's spans do not overlap (one timeline, recorded spans merged), so no other span
    can overlap the window; were a box's clock to step back and make two spans overlap the window's end, the
    earlier of them would be missed."""
    later = aliased(CoverageSpan)
    first_after = select(func.min(later.end)).where(later.camera_id == Camera.id, later.end > window_to) \
        .correlate(Camera).scalar_subquery()
    columns = select(CoverageSpan.camera_id, CoverageSpan.start, CoverageSpan.end, CoverageSpan.recorded,
                     CoverageSpan.reason).join(Camera, CoverageSpan.camera_id == Camera.id)
    ending_inside = _in_box(columns.where(CoverageSpan.end > window_from, CoverageSpan.end <= window_to), box)
    covering_end = _in_box(columns.where(CoverageSpan.end == first_after, CoverageSpan.start < window_to), box)
    found: dict[int, list[_Span]] = defaultdict(list)
    for camera_id, start, end, recorded, reason in session.execute(union_all(ending_inside, covering_end)):
        found[camera_id].append(_Span(_utc(start), _utc(end), recorded, reason))
    return found


def last_reported(session: Session, *, camera_ids: list[int]) -> dict[int, dt.datetime]:
    """When each camera's reported coverage ends (cameras that reported none are absent)."""
    if not camera_ids:
        return {}
    rows = session.execute(select(CoverageSpan.camera_id, func.max(CoverageSpan.end))
                           .where(CoverageSpan.camera_id.in_(camera_ids)).group_by(CoverageSpan.camera_id))
    return {camera_id: _utc(end) for camera_id, end in rows}


def _utc(moment: dt.datetime) -> dt.datetime:
    """An aggregate bypasses the column's type on SQLite: make the time aware again."""
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    return moment.replace(tzinfo=dt.timezone.utc) if moment.tzinfo is None else moment


def sharing_of(session: Session, *, box: Box) -> dict[int, c.SharingMode]:
    """The sharing mode of the consent in force (the newest version) of each camera in the box, in one query;
    cameras without a consent are absent (sharing is off)."""
    newest = _in_box(select(ConsentVersion.camera_id, func.max(ConsentVersion.version).label("version"))
                     .join(Camera, ConsentVersion.camera_id == Camera.id), box) \
        .group_by(ConsentVersion.camera_id).subquery()
    rows = session.execute(select(ConsentVersion.camera_id, ConsentVersion.policy["sharing"].as_string()).join(
        newest, and_(ConsentVersion.camera_id == newest.c.camera_id, ConsentVersion.version == newest.c.version)))
    return {camera_id: _SHARING.get(mode, "off") for camera_id, mode in rows}


#: The modes a stored policy's `sharing` may hold (anything else, or none, reads as off).
_SHARING: dict[str | None, c.SharingMode] = {mode: mode for mode in c.SharingMode.__args__}
