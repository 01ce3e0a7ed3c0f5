"""Plate reads for analysts and admins: the search (the service is `hub.plate_search`) and a read's thumbnail.

- `POST /api/plates/search` — `PlateSearchIn` → `PlateSearchOut`. Purpose, case number and reason are required
  (422 without them, nothing read); every search is audited with its query (`plates.search`) and counted in
  the public transparency report.
- `GET /api/reads/{id}/thumbnail` — the JPEG the box sent with a shared read (404 if it sent none); each
  viewing on the record (`read.plate_thumbnail`, repeats aggregated).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from sqlalchemy import select

from hub import plate_search as service
from hub.api.boundary import Id
from hub.api.deps import SessionDep, client_address, require
from hub.plate_search import PlateSearchIn, PlateSearchOut
from hub.tables import PlateThumbnail, Role, User, utcnow

router = APIRouter(prefix="/api", tags=["plate search"])
Analyst = Annotated[User, Depends(require(Role.ANALYST, Role.ADMIN))]
REFUSED = {422: {"description": "No purpose, case number or reason; or the plate, window or area out of bounds"}}
JPEG = {200: {"content": {"image/jpeg": {}}, "description": "The read's thumbnail"},
        404: {"description": "No such read, or the box sent no thumbnail with it"}}


@router.post("/plates/search", response_model=PlateSearchOut, responses=REFUSED)
def search_plates(body: PlateSearchIn, request: Request, session: SessionDep, user: Analyst) -> PlateSearchOut:
    """Shared plate reads matching a plate (look-alike aware), cameras or an area, and a time range."""
    try:
        return service.search(session, body, user=user, source=client_address(request), now=utcnow())
    except service.SearchError as exc:
        raise HTTPException(exc.status, str(exc)) from None


@router.get("/reads/{read_id}/thumbnail", response_class=Response, responses=JPEG)
def read_thumbnail(read_id: Id, session: SessionDep, user: Analyst) -> Response:
    jpeg = session.scalar(select(PlateThumbnail.jpeg).where(PlateThumbnail.read_id == read_id))
    if jpeg is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no thumbnail for this read")
    return Response(jpeg, media_type="image/jpeg",
                    headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"})
