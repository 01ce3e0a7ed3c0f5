"""The owner's access log and e-mail alert settings.

`GET /api/owner/activity`: every audit entry about the owner's cameras (streams, playback, clips, requests and
decisions, plate searches that touched them, consent changes), newest first, found through `audit_subjects`.
Each comes with its exact canonical text, its leaf hash and — where the entry is older than the checkpoint the
camera's own box has witnessed — an inclusion proof to that checkpoint, so the owner's page recomputes the
hash of what it shows and checks it is in the log the box verified, not just in what the hub says today.

`GET/PUT /api/owner/alert-settings`: where to write and when (`hub.owner_alerts`).
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select

from hub import audit
from hub.api.deps import SessionDep, client_address, require
from hub.audit.log import inclusion_proof, size_of
from hub.audit.rows import AuditRow, readable
from hub.audit.search import Search, find
from hub.tables import Appliance, Camera, OwnerAlertSettings, Role, User, utcnow

router = APIRouter(prefix="/api/owner", tags=["owner"])
Owner = Annotated[User, Depends(require(Role.OWNER))]


class WitnessOut(BaseModel):
    device_id: str
    appliance: str = Field(description="The appliance's name.")
    size: int | None = Field(description="Entries in the log the box last witnessed (none: not yet).")
    note: str | None = Field(description="That checkpoint, as the hub signed it and the box verified it.")
    at: dt.datetime | None = Field(description="When the box reported it.")


class OwnerEntry(AuditRow):
    witness: str | None = Field(description="The box (device id) whose witnessed checkpoint the proof reaches.")
    proof: list[str] | None = Field(description="Inclusion proof (base64 hashes) of the entry in the log of the "
                                                "witness's size; none: the entry is newer than what it witnessed.")


class OwnerActivity(BaseModel):
    entries: list[OwnerEntry]
    next_before: int | None = Field(description="Pass as `before` for older entries; none: no more.")
    witnesses: list[WitnessOut] = Field(description="Each of the owner's boxes and the checkpoint it witnessed.")
    log_size: int


def _witnesses(session, business_id: int) -> tuple[list[WitnessOut], dict[int, Appliance]]:
    appliances = list(session.scalars(select(Appliance).where(Appliance.business_id == business_id)
                                      .order_by(Appliance.device_id)))
    cameras = dict(session.execute(select(Camera.id, Camera.appliance_id)
                                   .where(Camera.appliance_id.in_([a.id for a in appliances]))).all())
    by_id = {a.id: a for a in appliances}
    out = [WitnessOut(device_id=a.device_id, appliance=a.name, size=a.witnessed_size, note=a.witnessed_note,
                      at=a.witnessed_at) for a in appliances]
    return out, {camera_id: by_id[appliance_id] for camera_id, appliance_id in cameras.items()}


def _prove(session, row: AuditRow, boxes: dict[int, Appliance]) -> OwnerEntry:
    """The row with a proof to the largest checkpoint one of its cameras' boxes witnessed that covers it."""
    best: Appliance | None = None
    for camera in row.cameras:
        box = boxes.get(camera.id)
        if box is not None and box.witnessed_size is not None and row.index < box.witnessed_size:
            best = box if best is None or box.witnessed_size > best.witnessed_size else best
    if best is None:
        return OwnerEntry(**row.model_dump(), witness=None, proof=None)
    proof = [base64.b64encode(h).decode() for h in inclusion_proof(session, row.index, best.witnessed_size)]
    return OwnerEntry(**row.model_dump(), witness=best.device_id, proof=proof)


@router.get("/activity", response_model=OwnerActivity)
def activity(session: SessionDep, owner: Owner,
             camera_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
             action: Annotated[str | None, Query(max_length=64)] = None,
             since: AwareDatetime | None = None, until: AwareDatetime | None = None,
             before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
             limit: Annotated[int, Query(ge=1, le=200)] = 50) -> OwnerActivity:
    """Every access to the owner's cameras, newest first, each with what proves it is in the witnessed log."""
    if owner.business_id is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this owner account belongs to no business")
    witnesses, boxes = _witnesses(session, owner.business_id)
    if camera_id is not None and camera_id not in boxes:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such camera of yours")
    search = Search(business_id=owner.business_id, camera_id=camera_id, action=action or None, since=since,
                    until=until)
    found = find(session, search, limit=limit + 1, before=before, newest_first=True)
    rows = readable(session, found[:limit])
    for row in rows:  # an entry about several businesses' cameras (a plate search) names only the owner's
        row.cameras = [c for c in row.cameras if c.business_id == owner.business_id]
    return OwnerActivity(entries=[_prove(session, row, boxes) for row in rows],
                         next_before=rows[-1].index if len(found) > limit else None,
                         witnesses=witnesses, log_size=size_of(session))


class AlertSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Annotated[str, Field(max_length=320, pattern=r"^$|^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s.]{1,63}$",
                                description="Where alerts go (\"\": nowhere).")]
    camera_offline_after_s: Annotated[int | None, Field(ge=10, le=7 * 86400, description=(
        "Tell me when a camera has been offline this long (none: never)."))] = None
    request_emails: bool = Field(True, description="Tell me of each new footage request.")
    request_reminder_after_s: Annotated[int | None, Field(ge=60, le=30 * 86400, description=(
        "Remind me of a request still waiting this long (none: no reminder)."))] = None


@router.get("/alert-settings", response_model=AlertSettings)
def alert_settings(session: SessionDep, owner: Owner) -> AlertSettings:
    row = session.get(OwnerAlertSettings, owner.id)
    if row is None:
        return AlertSettings(email=owner.email)
    return AlertSettings(email=owner.email, camera_offline_after_s=row.camera_offline_after_s,
                         request_emails=row.request_emails, request_reminder_after_s=row.request_reminder_after_s)


@router.put("/alert-settings", response_model=AlertSettings)
def set_alert_settings(request: Request, session: SessionDep, owner: Owner, body: AlertSettings) -> AlertSettings:
    """Set where and when the owner is written to (on the record, without the address itself)."""
    user = session.get(User, owner.id)
    audit.append(session, actor=owner.username, action="owner.alert_settings", outcome=audit.Outcome.SUCCESS,
                 object=f"user:{owner.id}", source=client_address(request), email_changed=user.email != body.email,
                 camera_offline_after_s=body.camera_offline_after_s, request_emails=body.request_emails,
                 request_reminder_after_s=body.request_reminder_after_s)
    user.email = body.email
    session.merge(OwnerAlertSettings(user_id=owner.id, camera_offline_after_s=body.camera_offline_after_s,
                                     request_emails=body.request_emails,
                                     request_reminder_after_s=body.request_reminder_after_s, updated_at=utcnow()))
    return body
