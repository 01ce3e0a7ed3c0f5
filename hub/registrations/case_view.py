"""A case's requests to registered cameras' owners and the files they uploaded, as the case library shows them
to analysts (with the registrant's address, which only analysts see)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.tables import OwnerRequest, OwnerUpload, RegisteredCamera, Registration


class OwnerFileOut(BaseModel):
    id: int
    filename: str
    sha256: str = Field(description="SHA-256 of the file as it arrived (hex); the stored bytes are these.")
    bytes: int
    container: str
    video_codec: str
    duration_s: float | None
    uploaded_at: dt.datetime
    download: str | None = Field(description="Where to download it (absent once deleted).")


class OwnerRequestOut(BaseModel):
    id: int
    case_number: str
    incident_id: int | None
    registered_camera_id: int | None = Field(description="None once the owner deleted their registration.")
    address: str | None = Field(description="The registrant's address (analysts only); none once deleted.")
    requested_by: str
    requested_at: dt.datetime
    purpose: str
    reason: str
    window_from: dt.datetime
    window_to: dt.datetime
    status: str = Field(description="open (the link works), done, declined or expired.")
    link_expires_at: dt.datetime
    closed_at: dt.datetime | None
    statement: str = Field(description="What the owner wrote with their upload (or decline).")
    files: list[OwnerFileOut]


def owner_requests_of(session: Session, case_id: int) -> list[OwnerRequestOut]:
    """A case's requests to owners, oldest first, each with its files."""
    return owner_requests_where(session, OwnerRequest.case_id == case_id)


def owner_requests_where(session: Session, *conditions, limit: int = 1000) -> list[OwnerRequestOut]:
    """The requests to owners that meet `conditions`, oldest first, each with its files."""
    rows = session.execute(
        select(OwnerRequest, Registration.address).outerjoin(
            RegisteredCamera, RegisteredCamera.id == OwnerRequest.registered_camera_id)
        .outerjoin(Registration, Registration.id == RegisteredCamera.registration_id)
        .where(*conditions).order_by(OwnerRequest.id).limit(limit)).all()
    files: dict[int, list[OwnerFileOut]] = defaultdict(list)
    ids = [request.id for request, _ in rows]
    for upload in session.scalars(select(OwnerUpload).where(OwnerUpload.request_id.in_(ids))
                                  .order_by(OwnerUpload.id)):
        files[upload.request_id].append(OwnerFileOut(
            id=upload.id, filename=upload.filename, sha256=upload.sha256, bytes=upload.bytes,
            container=upload.container, video_codec=upload.video_codec, duration_s=upload.duration_s,
            uploaded_at=upload.uploaded_at,
            download=None if upload.deleted_at else f"/api/owner-files/{upload.id}/download"))
    return [OwnerRequestOut(id=request.id, case_number=request.case_number, incident_id=request.incident_id,
                            registered_camera_id=request.registered_camera_id, address=address,
                            requested_by=request.analyst, requested_at=request.created_at, purpose=request.purpose,
                            reason=request.reason, window_from=request.window_from, window_to=request.window_to,
                            status=request.status, link_expires_at=request.link_expires_at,
                            closed_at=request.closed_at, statement=request.statement, files=files[request.id])
            for request, address in rows]
