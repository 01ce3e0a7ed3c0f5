"""Plate search over the reads the owners shared (the hub keeps no other), with a stated purpose and case
(the router is `hub.api.plates`).

A search names a plate — whole, or a pattern with `*` (any run of characters) and `?` (one character) and at
least `MIN_LITERALS` known characters: a search must be for a plate, not a list of every car — and a time range
of at most `MAX_WINDOW`, optionally cameras and an area. Plates are compared as the box matches them: in the
canonical form where look-alikes are one symbol (`wire.plates`), so "BOB1234" finds a read of "8OB1234"; a
whole plate with `max_edits=1` also finds reads one character off (substituted, missing or extra), as a box set
to one edit would match. Newest first, at most `limit`.

Every search is on the audit record with its query (`plates.search`: who, from where, purpose, unit, case
number, reason, the plate, cameras, area, window, how many reads were found), and the public transparency report
counts the searches by month, purpose and unit. The purpose, case number and reason are required: a search
without them is refused before anything is read.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from hub import audit
from hub.api.boundary import Moment
from hub.geo import bounding_box, haversine_m
from hub.hits import thumbnail_url
from hub.tables import Appliance, Business, Camera, PlateReadRow, PlateThumbnail, User
from wire.consent import Purpose
from wire.plates import canonical

MAX_WINDOW = dt.timedelta(days=31)
MAX_RADIUS_M = 5000.0
MAX_RESULTS = 500
MIN_LITERALS = 3
ACTION = "plates.search"


class SearchError(ValueError):
    """A search whose plate, window or area is out of bounds; the message says which. Nothing was read."""

    status = 422


class Area(BaseModel):
    model_config = ConfigDict(extra="forbid")
    latitude: Annotated[float, Field(ge=-90, le=90)]
    longitude: Annotated[float, Field(ge=-180, le=180)]
    radius_m: Annotated[float, Field(gt=0, le=MAX_RADIUS_M)]


class PlateSearchIn(BaseModel):
    """A plate search; `purpose`, `case_number` and `reason` are required and go on the record."""

    model_config = ConfigDict(extra="forbid")
    plate: Annotated[str, Field(min_length=1, max_length=20, pattern=r"^[0-9A-Za-z*? -]+$", description=(
        f"A whole plate, or a pattern: `*` any run of characters, `?` one character; at least {MIN_LITERALS} "
        "letters or digits. Look-alikes (O/0/D/Q, I/1, Z/2, S/5, G/6, B/8) match each other."))]
    max_edits: Literal[0, 1] = Field(0, description="1: also reads one character off (whole plates only).")
    camera_ids: Annotated[list[Annotated[int, Field(ge=1)]] | None, Field(max_length=100)] = None
    area: Area | None = None
    window_from: Moment
    window_to: Moment
    purpose: Purpose = Field(description="Category for the public transparency report; the reason says the rest.")
    case_number: Annotated[str, Field(min_length=3, max_length=100)]
    reason: Annotated[str, Field(min_length=10, max_length=2000)]
    limit: Annotated[int, Field(ge=1, le=MAX_RESULTS)] = 100


class PlateReadOut(BaseModel):
    id: int
    plate: str
    confidence: float
    first_seen: dt.datetime
    last_seen: dt.datetime
    camera_id: int
    camera_name: str
    business_id: int
    business_name: str
    latitude: float | None
    longitude: float | None
    view_direction_deg: float | None
    hotlist: str | None = Field(description="The hot list the read hit, if it did.")
    thumbnail_url: str | None


class PlateSearchOut(BaseModel):
    reads: list[PlateReadOut] = Field(description="Newest first.")
    truncated: bool = Field(description="More reads matched than `limit`: narrow the search.")
    audit_index: int = Field(description="The search's entry in the audit log.")


# ---------------------------------------------------------------- pure: the plate as SQL LIKE patterns


def like_patterns(plate: str, max_edits: int = 0) -> list[str]:
    """The LIKE patterns over canonical plates that match `plate` (SearchError if it names too little)."""
    text = canonical(plate)
    literals = sum(ch.isalnum() for ch in text)
    if literals < MIN_LITERALS:
        raise SearchError(f"name at least {MIN_LITERALS} letters or digits of the plate")
    if literals > 10 or len(text.replace("*", "")) > 10:
        raise SearchError("a plate has at most 10 characters")
    wild = "*" in text or "?" in text
    if wild and max_edits:
        raise SearchError("max_edits is for a whole plate, not a pattern")
    pattern = text.replace("*", "%").replace("?", "_")
    return one_edit_patterns(pattern) if max_edits else [pattern]


def one_edit_patterns(key: str) -> list[str]:
    """Patterns for every plate within one substituted, missing or extra character of `key`."""
    found = {key[:i] + "_" + key[i + 1:] for i in range(len(key))}  # substituted (or the same)
    found |= {key[:i] + key[i + 1:] for i in range(len(key))}  # one missing
    found |= {key[:i] + "_" + key[i:] for i in range(len(key) + 1)}  # one extra
    return sorted(found)


def check_window(window_from: dt.datetime, window_to: dt.datetime, now: dt.datetime) -> None:
    if window_to <= window_from:
        raise SearchError("the window ends before it starts")
    if window_to - window_from > MAX_WINDOW:
        raise SearchError(f"the window is longer than {MAX_WINDOW.days} days")
    if window_from > now:
        raise SearchError("the window starts in the future")


# ---------------------------------------------------------------- the search


def cameras_in(session: Session, area: Area) -> list[int]:
    """The cameras within the area (bounding box in SQL, exact distance here)."""
    lat_min, lat_max, lon_min, lon_max = bounding_box(area.latitude, area.longitude, area.radius_m)
    rows = session.execute(select(Camera.id, Camera.latitude, Camera.longitude).where(
        Camera.latitude.between(lat_min, lat_max), Camera.longitude.between(lon_min, lon_max)))
    return [camera_id for camera_id, lat, lon in rows
            if haversine_m(area.latitude, area.longitude, lat, lon) <= area.radius_m]


def _matching(query: PlateSearchIn, patterns: list[str], cameras: list[int] | None) -> list[ColumnElement]:
    conditions = [or_(*(PlateReadRow.plate_canonical.like(p) for p in patterns)),
                  PlateReadRow.first_seen < query.window_to, PlateReadRow.last_seen >= query.window_from]
    if cameras is not None:
        conditions.append(PlateReadRow.camera_id.in_(cameras))
    return conditions


def find_reads(session: Session, query: PlateSearchIn, now: dt.datetime) -> tuple[list[PlateReadOut], bool]:
    """The reads the search matches, newest first, and whether there were more than its limit."""
    check_window(query.window_from, query.window_to, now)
    patterns = like_patterns(query.plate, query.max_edits)
    cameras = query.camera_ids
    if query.area is not None:
        near = cameras_in(session, query.area)
        cameras = near if cameras is None else sorted(set(cameras) & set(near))
    rows = session.execute(
        select(PlateReadRow, Camera.name, Camera.latitude, Camera.longitude, Camera.view_direction_deg,
               Business.id, Business.name, PlateThumbnail.read_id)
        .join(Camera, PlateReadRow.camera_id == Camera.id).join(Appliance, Camera.appliance_id == Appliance.id)
        .join(Business, Appliance.business_id == Business.id)
        .outerjoin(PlateThumbnail, PlateThumbnail.read_id == PlateReadRow.id)
        .where(*_matching(query, patterns, cameras))
        .order_by(PlateReadRow.first_seen.desc(), PlateReadRow.id.desc()).limit(query.limit + 1)).all()
    reads = [PlateReadOut(
        id=read.id, plate=read.plate, confidence=read.confidence, first_seen=read.first_seen,
        last_seen=read.last_seen, camera_id=read.camera_id, camera_name=camera, business_id=business_id,
        business_name=business, latitude=lat, longitude=lon, view_direction_deg=view, hotlist=read.hotlist,
        thumbnail_url=thumbnail_url(thumbnail) if thumbnail is not None else None)
        for read, camera, lat, lon, view, business_id, business, thumbnail in rows[:query.limit]]
    return reads, len(rows) > query.limit


def search(session: Session, query: PlateSearchIn, *, user: User, source: str, now: dt.datetime) -> PlateSearchOut:
    """Run the search and put it on the record with its query (in the same transaction)."""
    reads, truncated = find_reads(session, query, now)
    area = query.area.model_dump() if query.area is not None else None
    index = audit.append(
        session, actor=user.username, action=ACTION, outcome=audit.Outcome.SUCCESS, object="plates",
        source=source, reason=query.reason, case_number=query.case_number, purpose=query.purpose, unit=user.unit,
        plate=query.plate, max_edits=query.max_edits, camera_ids=query.camera_ids, area=area,
        window_from=query.window_from.isoformat(), window_to=query.window_to.isoformat(), found=len(reads),
        truncated=truncated, read_cameras=sorted({read.camera_id for read in reads}))
    return PlateSearchOut(reads=reads, truncated=truncated, audit_index=index)
