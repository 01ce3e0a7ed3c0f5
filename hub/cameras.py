"""The camera list as the analyst's map shows it (the router is `hub.api.registry`).

Each camera with what a marker is labelled and coloured with — business, site and address, camera name, view
direction, whether the box records it (`status`), whether its owner has paused sharing on the box
(`sharing_paused`: a paused camera still records), the sharing mode and plate sharing of the owner's consent
in force, and whether its appliance is online — in two queries whatever the number of cameras: the cameras
with their appliance, business and site, then the consent in force of the same cameras.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field
from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session

from hub.tables import Appliance, Business, Camera, CameraStatusValue, ConsentVersion, PlateSharing, Site
from wire import consent as c

Box = tuple[float, float, float, float]  # latitude min, max, longitude min, max


class CameraOut(BaseModel):
    id: int
    name: str = Field(description="The camera's name on its appliance (label markers with it and the business).")
    business_id: int
    business_name: str
    site_id: int | None
    site_name: str | None
    site_address: str | None
    appliance: str = Field(description="The appliance's device id (an identifier, not a label).")
    appliance_name: str
    appliance_online: bool
    latitude: float | None
    longitude: float | None
    view_direction_deg: float | None
    status: CameraStatusValue = Field(description="What the box says of the camera's video: recording, online or "
                                      "offline (offline too while its appliance is).")
    sharing_paused: bool = Field(description="The owner has paused sharing on the box (`canvass-edge pause`): no "
                                 "live view, playback or clip until resumed. The camera still records.")
    consent_mode: c.SharingMode = Field(description="Sharing of the owner's consent in force (off without one).")
    last_seen: dt.datetime | None
    plate_sharing: PlateSharing = Field(description="What the owner's consent policy in force shares of plate "
                                        "reads (none without a policy); change it with the camera's consent.")
    distance_m: float | None = None


def _where(query: Select, *, business_id: int | None, camera_id: int | None, box: Box | None) -> Select:
    if business_id is not None:
        query = query.where(Appliance.business_id == business_id)
    if camera_id is not None:
        query = query.where(Camera.id == camera_id)
    if box is not None:
        lat_min, lat_max, lon_min, lon_max = box
        query = query.where(Camera.latitude.between(lat_min, lat_max), Camera.longitude.between(lon_min, lon_max))
    return query


def consent_in_force(session: Session, cameras: Select) -> dict[int, tuple[c.SharingMode, c.PlateSharing]]:
    """The sharing mode and plate sharing of the newest consent of each camera `cameras` (a select of camera
    ids) gives, in one query; cameras without a consent are absent (sharing off, no plates)."""
    newest = select(ConsentVersion.camera_id, func.max(ConsentVersion.version).label("version")) \
        .where(ConsentVersion.camera_id.in_(cameras)).group_by(ConsentVersion.camera_id).subquery()
    rows = session.execute(select(ConsentVersion.camera_id, ConsentVersion.policy["sharing"].as_string(),
                                  ConsentVersion.policy["plate_sharing"].as_string()).join(newest, and_(
                                      ConsentVersion.camera_id == newest.c.camera_id,
                                      ConsentVersion.version == newest.c.version)))
    return {camera_id: (_SHARING.get(mode, "off"), _PLATES.get(plates, "none")) for camera_id, mode, plates in rows}


def cameras_out(session: Session, *, business_id: int | None = None, camera_id: int | None = None,
                box: Box | None = None) -> list[CameraOut]:
    """The cameras (of one business, one camera, within a box: as given), by id."""
    filters = dict(business_id=business_id, camera_id=camera_id, box=box)
    ids = _where(select(Camera.id).join(Appliance, Camera.appliance_id == Appliance.id), **filters)
    consent = consent_in_force(session, ids)
    rows = session.execute(_where(
        select(Camera, Appliance.device_id, Appliance.name, Appliance.online, Appliance.business_id, Business.name,
               Site.id, Site.name, Site.address)
        .join(Appliance, Camera.appliance_id == Appliance.id).join(Business, Appliance.business_id == Business.id)
        .outerjoin(Site, Appliance.site_id == Site.id), **filters).order_by(Camera.id))
    out = []
    for camera, device, appliance, online, business_id_, business, site_id, site, address in rows:
        mode, plates = consent.get(camera.id, ("off", "none"))
        out.append(CameraOut(
            id=camera.id, name=camera.name, business_id=business_id_, business_name=business, site_id=site_id,
            site_name=site, site_address=address, appliance=device, appliance_name=appliance,
            appliance_online=online, latitude=camera.latitude, longitude=camera.longitude,
            view_direction_deg=camera.view_direction_deg, status=camera.status,
            sharing_paused=camera.sharing_paused, consent_mode=mode, last_seen=camera.last_seen,
            plate_sharing=plates))
    return out


#: What a stored policy's `sharing` and `plate_sharing` may hold (anything else, or none, reads as off / none).
_SHARING: dict[str | None, c.SharingMode] = {mode: mode for mode in c.SharingMode.__args__}
_PLATES: dict[str | None, c.PlateSharing] = {mode: mode for mode in c.PlateSharing.__args__}
