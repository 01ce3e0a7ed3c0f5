"""The auditor's console API: search the log as readable rows beside the signed checkpoint and the log's size,
the choices the search form offers, and a ranged export `canvass-audit verify` checks offline.

Every filter is an indexed lookup (`hub.audit.search`); results come newest first, `before` pages back. The
verifiable export is on the record before it is written, so it covers its own entry when the range reaches now.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import tempfile
from typing import Annotated, get_args

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import FileResponse
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import select
from starlette.background import BackgroundTask

from hub import audit
from hub.api.audit_log import Auditor, Filters
from hub.api.deps import HubDep, SessionDep, client_address
from hub.audit.export import export, index_range
from hub.audit.log import size_of
from hub.audit.rows import AuditRow, CameraRef, readable
from hub.audit.search import find
from hub.tables import Appliance, AuditEntry, Business, Camera
from wire.audit import CheckpointOut
from wire.consent import Purpose

router = APIRouter(prefix="/api/audit", tags=["audit"])
#: The most entries one verifiable export over HTTP carries (`canvass-hub audit export` has no limit).
MAX_VERIFIABLE = 1_000_000


class AuditPage(BaseModel):
    entries: list[AuditRow] = Field(description="Matching entries, newest first.")
    next_before: int | None = Field(description="Pass as `before` for the next (older) page; none: no more.")
    log_size: int = Field(description="Entries in the whole log now.")
    checkpoint: CheckpointOut = Field(description="The newest signed checkpoint.")


def _checkpoint(hub) -> CheckpointOut:
    row = hub.checkpoint()
    return CheckpointOut(size=row.size, root=base64.b64encode(row.root).decode(), note=row.note)


@router.get("/search", response_model=AuditPage)
def search(session: SessionDep, hub: HubDep, user: Auditor, filters: Annotated[Filters, Depends()],
           before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
           limit: Annotated[int, Query(ge=1, le=500)] = 100) -> AuditPage:
    """Entries matching every filter given (who, action, purpose, case number, camera, business, outcome, time),
    as readable rows, newest first."""
    found = find(session, filters.search, limit=limit + 1, before=before, newest_first=True)
    more = len(found) > limit
    rows = readable(session, found[:limit])
    return AuditPage(entries=rows, next_before=rows[-1].index if more else None, log_size=size_of(session),
                     checkpoint=_checkpoint(hub))


class BusinessRef(BaseModel):
    id: int
    name: str


class AuditFacets(BaseModel):
    actions: list[str] = Field(description="Every action the log holds.")
    purposes: list[str] = Field(description="The purpose categories an analyst may state.")
    outcomes: list[str] = Field(description="Every outcome the log holds.")
    businesses: list[BusinessRef]
    cameras: list[CameraRef]


@router.get("/facets", response_model=AuditFacets)
def facets(session: SessionDep, user: Auditor) -> AuditFacets:
    """What the search form offers: actions and outcomes in the log (read from their indexes), purposes,
    businesses and cameras."""
    cameras = session.execute(select(Camera.id, Camera.name, Business.id, Business.name)
                              .join(Appliance, Appliance.id == Camera.appliance_id)
                              .join(Business, Business.id == Appliance.business_id)
                              .order_by(Business.name, Camera.name)).all()
    return AuditFacets(
        actions=sorted(session.scalars(select(AuditEntry.action).distinct())),
        purposes=list(get_args(Purpose)),
        outcomes=sorted(session.scalars(select(AuditEntry.outcome).distinct())),
        businesses=[BusinessRef(id=i, name=n) for i, n in session.execute(select(Business.id, Business.name)
                                                                          .order_by(Business.name))],
        cameras=[CameraRef(id=i, name=n, business_id=b, business=bn) for i, n, b, bn in cameras])


@router.get("/export/verifiable", response_class=FileResponse,
            responses={200: {"content": {"application/x-ndjson": {}}}})
def verifiable_export(request: Request, session: SessionDep, hub: HubDep, user: Auditor,
                      since: AwareDatetime, until: AwareDatetime) -> FileResponse:
    """The entries logged in [since, until) with the fences, subtree hashes and signed checkpoint that prove
    them (`hub.audit.export`): `canvass-audit verify FILE` checks it offline. On the record first."""
    if since >= until:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "since must be before until")
    first, end = index_range(session, size_of(session), since, until)
    if end - first > MAX_VERIFIABLE:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"more than {MAX_VERIFIABLE} entries in the "
                            "range; export a shorter one or use `canvass-hub audit export`")
    audit.append(session, actor=user.username, action="audit.export", outcome=audit.Outcome.SUCCESS,
                 source=client_address(request), format="verifiable", since=since.isoformat(),
                 until=until.isoformat())
    session.commit()
    handle, path = tempfile.mkstemp(prefix="audit-export-", suffix=".jsonl")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            export(session, out, hub.audit_key, hub.settings.audit_origin, since, until)
        session.commit()  # the checkpoint the export signed for its size
    except BaseException:
        os.unlink(path)
        raise
    utc = dt.timezone.utc
    name = f"audit-{since.astimezone(utc):%Y%m%dT%H%M%SZ}-{until.astimezone(utc):%Y%m%dT%H%M%SZ}.jsonl"
    return FileResponse(path, media_type="application/x-ndjson", filename=name,
                        background=BackgroundTask(os.unlink, path))
