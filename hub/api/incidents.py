"""Incidents: intake from CAD (a dispatch account) and analysts, as the hub's own fields or as a NENA EIDO
document, update (close), listing. The service is `hub.incidents`; the EIDO mapping `hub.eido`.

- `POST /api/incidents` — `IncidentFields`; 201 when the CAD id is new, 200 when it updated the incident.
- `POST /api/incidents/eido` — an EIDO (NENA-STA-021.1 JSON), mapped as `hub.eido` says; same answers, and 422
  with what is missing (never the document) when it cannot be placed.
- `PATCH /api/incidents/{id}` — `IncidentPatch` (e.g. `{"status": "closed"}`); re-posting with the status
  closed does the same.
- `GET /api/incidents` — open first, by priority, newest report first; `GET /api/incidents/{id}`.

Dispatch accounts, analysts and admins file and change incidents; a dispatch account sees only its own.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status

from hub import incidents as service
from hub.api.boundary import Id
from hub.api.deps import SessionDep, client_address, require
from hub.eido import EidoDocument, EidoError, incident_from_eido
from hub.incidents import IncidentFields, IncidentOut, IncidentPatch, incident_out
from hub.tables import Role, User, utcnow

router = APIRouter(prefix="/api", tags=["incidents"])
Filer = Annotated[User, Depends(require(Role.DISPATCH, Role.ANALYST, Role.ADMIN))]
FILED = {200: {"description": "The CAD id was known: that incident was updated"},
         201: {"description": "A new incident"}, 403: {"description": "Filed by another dispatch account"},
         422: {"description": "Out of range (e.g. reported in the future), or an EIDO that cannot be placed"}}


def _filed(result: service.Intake, response: Response) -> IncidentOut:
    response.status_code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
    return incident_out(result.incident)


def _refuse(exc: service.IncidentError | EidoError) -> HTTPException:
    return HTTPException(getattr(exc, "status", status.HTTP_422_UNPROCESSABLE_CONTENT), str(exc))


@router.post("/incidents", response_model=IncidentOut, status_code=201, responses=FILED)
def file_incident(body: IncidentFields, request: Request, response: Response, session: SessionDep,
                  user: Filer) -> IncidentOut:
    source = "cad" if user.role == Role.DISPATCH else "analyst"
    try:
        result = service.intake(session, fields=body, source=source, user=user, client=client_address(request),
                                now=utcnow())
    except service.IncidentError as exc:
        raise _refuse(exc) from None
    return _filed(result, response)


@router.post("/incidents/eido", response_model=IncidentOut, status_code=201, responses=FILED)
def file_eido(body: EidoDocument, request: Request, response: Response, session: SessionDep,
              user: Filer) -> IncidentOut:
    """A NENA EIDO (JSON): the incident tracking identifier is the CAD id, so a later EIDO of the same
    incident updates it."""
    try:
        fields = incident_from_eido(body)
        result = service.intake(session, fields=fields, source="eido", user=user, client=client_address(request),
                                now=utcnow())
    except (service.IncidentError, EidoError) as exc:
        raise _refuse(exc) from None
    return _filed(result, response)


@router.patch("/incidents/{incident_id}", response_model=IncidentOut, responses=FILED)
def update_incident(incident_id: Id, body: IncidentPatch, request: Request, session: SessionDep,
                    user: Filer) -> IncidentOut:
    try:
        result = service.update(session, incident_id=incident_id, patch=body, user=user,
                                client=client_address(request), now=utcnow())
    except service.IncidentError as exc:
        raise _refuse(exc) from None
    return incident_out(result.incident)


@router.get("/incidents", response_model=list[IncidentOut])
def list_incidents(session: SessionDep, user: Filer,
                   state: Annotated[Literal["open", "closed", "all"], Query(alias="status")] = "all",
                   limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[IncidentOut]:
    """Open incidents first, then by priority (1 first), newest report first."""
    return [incident_out(row) for row in service.list_incidents(session, user=user, status=state, limit=limit)]


@router.get("/incidents/{incident_id}", response_model=IncidentOut, responses={404: {"description": "No such"}})
def get_incident(incident_id: Id, session: SessionDep, user: Filer) -> IncidentOut:
    try:
        return incident_out(service.visible_incident(session, incident_id=incident_id, user=user))
    except service.IncidentError as exc:
        raise _refuse(exc) from None
