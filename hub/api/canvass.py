"""The canvass over HTTP (the query is `hub.canvass.canvass`): analysts and admins only, each canvass on the
audit record (`read.canvass`: who, from where, the point, radius and window, how many cameras were found).

- `GET /api/incidents/{id}/canvass[?from=&to=&radius_m=&fov_deg=]` — around an open incident; the window is
  its report time ± 30 minutes unless given. 404 for an unknown incident, 409 for a closed one.
- `GET /api/canvass?lat=&lon=&from=&to=[&radius_m=&fov_deg=]` — around any point.

`radius_m` is at most 2,000 (default 500), the window at most 24 h and not starting in the future,
`fov_deg` the field of view used for `facing` (default 90).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from sqlalchemy.orm import Session

from hub import audit
from hub import canvass as service
from hub.api.boundary import Id, Moment
from hub.api.deps import HubDep, SessionDep, client_address, require
from hub.canvass import CanvassError, CanvassResult
from hub.incidents import IncidentError, visible_incident
from hub.tables import Role, User, utcnow

router = APIRouter(prefix="/api", tags=["canvass"])
Analyst = Annotated[User, Depends(require(Role.ANALYST, Role.ADMIN))]
Radius = Annotated[float, Query(gt=0, le=service.MAX_RADIUS_M, description="Metres around the point.")]
Fov = Annotated[float, Query(gt=0, le=360, description="Field of view assumed for every camera, degrees.")]
Latitude = Annotated[float, Query(ge=-90, le=90)]
Longitude = Annotated[float, Query(ge=-180, le=180)]
REFUSED = {404: {"description": "No such incident"}, 409: {"description": "The incident is closed"},
           422: {"description": "Radius, window or field of view out of bounds"}}


def _run(session: Session, hub: HubDep, user: User, request: Request, *, obj: str, latitude: float,
         longitude: float, radius_m: float, window: tuple[dt.datetime, dt.datetime], fov_deg: float
         ) -> CanvassResult:
    now = utcnow()
    try:
        result = service.canvass(session, latitude=latitude, longitude=longitude, radius_m=radius_m,
                                 window_from=window[0], window_to=window[1], fov_deg=fov_deg, now=now,
                                 max_age=dt.timedelta(days=hub.settings.footage_max_age_days))
    except CanvassError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    audit.append(session, actor=user.username, action="read.canvass", outcome=audit.Outcome.SUCCESS, object=obj,
                 source=client_address(request), latitude=latitude, longitude=longitude, radius_m=radius_m,
                 window_from=window[0].isoformat(), window_to=window[1].isoformat(),
                 recording=len(result.recording), not_recording=len(result.not_recording))
    return result


@router.get("/incidents/{incident_id}/canvass", response_model=CanvassResult, responses=REFUSED)
def canvass_incident(incident_id: Id, request: Request, session: SessionDep, hub: HubDep, user: Analyst,
                     window_from: Annotated[Moment | None, Query(alias="from")] = None,
                     window_to: Annotated[Moment | None, Query(alias="to")] = None,
                     radius_m: Radius = service.DEFAULT_RADIUS_M,
                     fov_deg: Fov = service.DEFAULT_FOV_DEG) -> CanvassResult:
    """The cameras that were recording near an open incident around when it was reported."""
    try:
        incident = visible_incident(session, incident_id=incident_id, user=user)
    except IncidentError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    if incident.status != "open":
        raise HTTPException(status.HTTP_409_CONFLICT, "the incident is closed: reopen it to canvass")
    window = (window_from or incident.reported_at - service.INCIDENT_MARGIN,
              window_to or incident.reported_at + service.INCIDENT_MARGIN)
    return _run(session, hub, user, request, obj=f"incident:{incident.id}", latitude=incident.latitude,
                longitude=incident.longitude, radius_m=radius_m, window=window, fov_deg=fov_deg)


@router.get("/canvass", response_model=CanvassResult, responses=REFUSED)
def canvass_point(request: Request, session: SessionDep, hub: HubDep, user: Analyst, lat: Latitude,
                  lon: Longitude, window_from: Annotated[Moment, Query(alias="from")],
                  window_to: Annotated[Moment, Query(alias="to")], radius_m: Radius = service.DEFAULT_RADIUS_M,
                  fov_deg: Fov = service.DEFAULT_FOV_DEG) -> CanvassResult:
    """The cameras that were recording near any point during a window."""
    return _run(session, hub, user, request, obj="point", latitude=lat, longitude=lon, radius_m=radius_m,
                window=(window_from, window_to), fov_deg=fov_deg)
