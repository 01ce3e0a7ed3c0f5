"""Registered cameras in a canvass: the confirmed, not stale registrations' cameras within the radius, nearest
first, apart from the appliance cameras. Nobody reports what they recorded: each says whether its recorder
still keeps the window (its owner's stated retention) and that the owner must upload the footage."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from hub.geo import angle_between, bearing_deg, bounding_box, haversine_m
from hub.tables import RegisteredCamera, Registration, RegistrationStatus

SAME_PLACE_M = 1.0


class RegisteredCanvassCamera(BaseModel):
    registered_camera_id: int
    latitude: float
    longitude: float
    address: str = Field(description="The registrant's address (for analysts only; never shown to the public).")
    description: str
    outdoor: bool
    distance_m: float
    bearing_deg: float | None = Field(description="From the camera to the point, clockwise from north.")
    view_direction_deg: float | None
    facing: Literal["yes", "no", "unknown"]
    retention_days: int = Field(description="How long the owner says the recorder keeps footage.")
    shares_past: bool = Field(description="The owner said they are willing to share past footage.")
    probably_kept: bool = Field(description="The window is within the recorder's stated retention.")
    needs_owner_upload: Literal[True] = Field(True, description=(
        "No appliance: footage comes only if the owner uploads it through a request's link."))


def registered_near(session: Session, *, latitude: float, longitude: float, radius_m: float, fov_deg: float,
                    window_from: dt.datetime, now: dt.datetime) -> list[RegisteredCanvassCamera]:
    """The offered registered cameras within `radius_m` of the point, nearest first."""
    lat_min, lat_max, lon_min, lon_max = bounding_box(latitude, longitude, radius_m)
    rows = session.execute(
        select(RegisteredCamera, Registration.address).join(Registration)
        .where(RegisteredCamera.latitude.between(lat_min, lat_max),
               RegisteredCamera.longitude.between(lon_min, lon_max),
               Registration.status == RegistrationStatus.CONFIRMED.value,
               or_(Registration.reconfirm_by.is_(None), Registration.reconfirm_by > now))).all()
    found = []
    for camera, address in rows:
        distance = haversine_m(latitude, longitude, camera.latitude, camera.longitude)
        if distance > radius_m:
            continue
        bearing = None if distance < SAME_PLACE_M else \
            round(bearing_deg(camera.latitude, camera.longitude, latitude, longitude), 1)
        facing = "unknown" if camera.view_direction_deg is None or bearing is None else \
            ("yes" if angle_between(camera.view_direction_deg, bearing) <= fov_deg / 2 else "no")
        found.append(RegisteredCanvassCamera(
            registered_camera_id=camera.id, latitude=camera.latitude, longitude=camera.longitude, address=address,
            description=camera.description, outdoor=camera.outdoor, distance_m=round(distance, 1),
            bearing_deg=bearing, view_direction_deg=camera.view_direction_deg, facing=facing,
            retention_days=camera.retention_days, shares_past=camera.shares_past,
            probably_kept=window_from >= now - dt.timedelta(days=camera.retention_days)))
    return sorted(found, key=lambda camera: (camera.distance_m, camera.registered_camera_id))
