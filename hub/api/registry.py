"""Businesses, sites, cameras and the map query. Owners see only their own business."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import audit
from hub.access.rules import changes_business, sees_business
from hub.api.boundary import Id
from hub.api.deps import AdminDep, SessionDep, UserDep, client_address
from hub.geo import EARTH_RADIUS_M, haversine_m
from hub.cameras import CameraOut, cameras_out
from hub.tables import Business, Camera, Role, Site, User

router = APIRouter(prefix="/api", tags=["registry"])

Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BusinessIn(_In):
    name: Annotated[str, Field(min_length=1, max_length=200)]


class BusinessOut(BaseModel):
    id: int
    name: str


class SiteIn(_In):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    address: Annotated[str, Field(max_length=500)] = ""
    latitude: Latitude
    longitude: Longitude


class SiteOut(SiteIn):
    model_config = ConfigDict(extra="ignore")
    id: int
    business_id: int


class CameraPatch(_In):
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    view_direction_deg: Annotated[float | None, Field(ge=0, lt=360)] = None


def camera_out(session: Session, camera: Camera) -> CameraOut:
    [out] = cameras_out(session, camera_id=camera.id)
    return out


def _business(session: Session, user: User, business_id: int) -> Business:
    business = session.get(Business, business_id)
    if business is None or not sees_business(user, business_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such business")  # owners never learn others exist
    return business


def owned_business(session: Session, user: User, business_id: int) -> Business:
    """The business `user` may change: its owner, or an admin."""
    business = _business(session, user, business_id)
    if not changes_business(user):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only the business's owner or an admin")
    return business


@router.post("/businesses", response_model=BusinessOut, status_code=201)
def create_business(body: BusinessIn, request: Request, session: SessionDep, admin: AdminDep) -> BusinessOut:
    if session.scalar(select(Business).where(Business.name == body.name)) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, "a business with this name exists")
    business = Business(name=body.name)
    session.add(business)
    session.flush()
    audit.append(session, actor=admin.username, action="business.create", outcome=audit.Outcome.SUCCESS,
                 object=f"business:{business.id}", source=client_address(request))
    return BusinessOut(id=business.id, name=business.name)


@router.get("/businesses", response_model=list[BusinessOut])
def list_businesses(session: SessionDep, user: UserDep) -> list[BusinessOut]:
    query = select(Business).order_by(Business.id)
    if user.role == Role.OWNER:
        query = query.where(Business.id == user.business_id)
    return [BusinessOut(id=b.id, name=b.name) for b in session.scalars(query)]


@router.post("/businesses/{business_id}/sites", response_model=SiteOut, status_code=201)
def create_site(business_id: Id, body: SiteIn, request: Request, session: SessionDep, user: UserDep) -> SiteOut:
    owned_business(session, user, business_id)
    site = Site(business_id=business_id, **body.model_dump())
    session.add(site)
    session.flush()
    audit.append(session, actor=user.username, action="site.create", outcome=audit.Outcome.SUCCESS,
                 object=f"site:{site.id}", source=client_address(request))
    return SiteOut(id=site.id, business_id=business_id, **body.model_dump())


@router.get("/businesses/{business_id}/sites", response_model=list[SiteOut])
def list_sites(business_id: Id, session: SessionDep, user: UserDep) -> list[SiteOut]:
    business = _business(session, user, business_id)
    return [SiteOut(id=s.id, business_id=s.business_id, name=s.name, address=s.address, latitude=s.latitude,
                    longitude=s.longitude) for s in business.sites]


@router.get("/cameras", response_model=list[CameraOut])
def list_cameras(session: SessionDep, user: UserDep,
                 lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
                 lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
                 radius_m: Annotated[float, Query(gt=0, le=100_000)] = 500) -> list[CameraOut]:
    """Cameras the user may see, with what the map labels and colours them with (`hub.cameras`); with
    `lat`/`lon`, only those within `radius_m`, nearest first."""
    if (lat is None) != (lon is None):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "give both lat and lon, or neither")
    business_id = user.business_id if user.role == Role.OWNER else None
    if lat is None:
        return cameras_out(session, business_id=business_id)
    # Bounding box in SQL (indexed on both backends), exact great-circle distance here.
    dlat = math.degrees(radius_m / EARTH_RADIUS_M)
    dlon = dlat / max(math.cos(math.radians(lat)), 1e-6)
    found = cameras_out(session, business_id=business_id, box=(lat - dlat, lat + dlat, lon - dlon, lon + dlon))
    near = [(round(haversine_m(lat, lon, c.latitude, c.longitude), 1), c) for c in found]
    return [c.model_copy(update={"distance_m": d}) for d, c in sorted(near, key=lambda h: (h[0], h[1].id))
            if d <= radius_m]


def visible_camera(session: Session, user: User, camera_id: int) -> Camera:
    camera = session.get(Camera, camera_id)
    if camera is None or not sees_business(user, camera.appliance.business_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such camera")
    return camera


@router.get("/cameras/{camera_id}", response_model=CameraOut)
def get_camera(camera_id: Id, session: SessionDep, user: UserDep) -> CameraOut:
    return camera_out(session, visible_camera(session, user, camera_id))


@router.patch("/cameras/{camera_id}", response_model=CameraOut)
def update_camera(camera_id: Id, body: CameraPatch, request: Request, session: SessionDep,
                  user: UserDep) -> CameraOut:
    camera = visible_camera(session, user, camera_id)
    owned_business(session, user, camera.appliance.business_id)
    changes = body.model_dump(exclude_unset=True)
    for field, value in changes.items():
        setattr(camera, field, value)
    audit.append(session, actor=user.username, action="camera.update", outcome=audit.Outcome.SUCCESS,
                 object=f"camera:{camera.id}", source=client_address(request),
                 changes={k: (v.value if hasattr(v, "value") else v) for k, v in changes.items()})
    session.flush()
    return camera_out(session, camera)
