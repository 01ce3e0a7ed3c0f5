"""Hot-list entries: analysts and admins add, edit, expire, remove and import plates; every change is audited and
pushed to the appliances (the whole list, with a new version).

- `GET /api/hotlist` — every entry, expired ones too (`expired` says which).
- `POST /api/hotlist` — one entry (409 if the plate is on that list already).
- `PATCH /api/hotlist/{id}` — list, state/region, reason or expiry (`null` for none).
- `POST /api/hotlist/{id}/expire` — expires now: the boxes stop matching it; kept for the record.
- `DELETE /api/hotlist/{id}`.
- `POST /api/hotlist/import?dry_run=true|false` — a CSV body (text/csv; `hub.hotlist_import` says the format):
  a preview of each row's outcome and problems. All or nothing: stored only when no row has a problem
  (otherwise 422 with the same preview), never on a dry run.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import audit, hotlist
from hub import hotlist_import as importer
from hub.api.boundary import Id, Moment
from hub.api.deps import HubDep, client_address, require
from hub.hotlist_import import HotListImportOut
from hub.services import HubServices
from hub.tables import HotListItem, Role, User, utcnow
from wire.messages import Plate

router = APIRouter(prefix="/api/hotlist", tags=["hot list"])
Editor = Annotated[User, Depends(require(Role.ADMIN, Role.ANALYST))]
ListName = Annotated[str, Field(min_length=1, max_length=100)]
Region = Annotated[str, Field(pattern=r"^[A-Z0-9-]{0,16}$", description="Issuing state or region, e.g. NY.")]
Reason = Annotated[str, Field(min_length=3, max_length=500)]
CSV_BODY = Body(media_type="text/csv", description="plate, state, list, reason, expiry (a header row first)")


class HotListIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    plate: Plate
    list_name: ListName
    reason: Reason
    region: Region = ""
    expires_at: Moment | None = None


class HotListPatch(BaseModel):
    """What to change; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")
    list_name: ListName | None = None
    reason: Reason | None = None
    region: Region | None = None
    expires_at: Moment | None = None


class HotListOut(BaseModel):
    id: int
    plate: str
    list_name: str
    reason: str
    region: str
    expires_at: dt.datetime | None
    expired: bool = Field(description="Past its expiry: the boxes no longer match it.")
    created_at: dt.datetime
    version: int = Field(description="The hot list's version (the boxes acknowledge versions).")


def _out(item: HotListItem, version: int) -> HotListOut:
    expired = item.expires_at is not None and item.expires_at <= utcnow()
    return HotListOut(id=item.id, plate=item.plate, list_name=item.list_name, reason=item.reason, region=item.region,
                      expires_at=item.expires_at, expired=expired, created_at=item.created_at, version=version)


def _push(hub: HubServices) -> None:
    if hub.link is not None:
        hub.link.push_hotlist()


def _on_list(session: Session, list_name: str, plate: str) -> HotListItem | None:
    return session.scalar(select(HotListItem).where(HotListItem.list_name == list_name, HotListItem.plate == plate))


def _entry(session: Session, entry_id: int) -> HotListItem:
    item = session.get(HotListItem, entry_id)
    if item is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such entry")
    return item


@router.get("", response_model=list[HotListOut])
def list_entries(hub: HubDep, user: Editor) -> list[HotListOut]:
    with hub.db.session() as session:
        v = hotlist.version(session)
        return [_out(i, v) for i in session.scalars(select(HotListItem).order_by(HotListItem.id))]


@router.post("", response_model=HotListOut, status_code=201, responses={409: {"description": "On that list already"}})
def add_entry(body: HotListIn, request: Request, hub: HubDep, user: Editor) -> HotListOut:
    with hub.db.session() as session:
        if _on_list(session, body.list_name, body.plate) is not None:
            raise HTTPException(status.HTTP_409_CONFLICT, "plate already on this list")
        item = HotListItem(created_by=user.id, **body.model_dump())
        session.add(item)
        session.flush()
        v = hotlist.bump_version(session)
        audit.append(session, actor=user.username, action="hotlist.add", outcome=audit.Outcome.SUCCESS,
                     object=f"hotlist:{body.list_name}", source=client_address(request), reason=body.reason,
                     plate=body.plate, region=body.region)
        out = _out(item, v)
    _push(hub)
    return out


@router.patch("/{entry_id}", response_model=HotListOut,
              responses={404: {"description": "No such entry"}, 409: {"description": "On that list already"}})
def update_entry(entry_id: Id, body: HotListPatch, request: Request, hub: HubDep, user: Editor) -> HotListOut:
    changes = body.model_dump(exclude_unset=True)
    if changes.get("list_name", "") is None or changes.get("reason", "") is None or changes.get("region", "") is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "only expires_at may be set to null")
    with hub.db.session() as session:
        item = _entry(session, entry_id)
        moved = changes.get("list_name", item.list_name)
        if moved != item.list_name and _on_list(session, moved, item.plate) is not None:
            raise HTTPException(status.HTTP_409_CONFLICT, f"{item.plate} is on list {moved!r} already")
        for field, value in changes.items():
            setattr(item, field, value)
        v = hotlist.bump_version(session)
        audit.append(session, actor=user.username, action="hotlist.update", outcome=audit.Outcome.SUCCESS,
                     object=f"hotlist:{item.list_name}", source=client_address(request), plate=item.plate,
                     entry_id=item.id, changes={field: value.isoformat() if isinstance(value, dt.datetime) else
                                                value for field, value in changes.items()})
        out = _out(item, v)
    _push(hub)
    return out


@router.post("/{entry_id}/expire", response_model=HotListOut,
             responses={404: {"description": "No such entry"}, 409: {"description": "Expired already"}})
def expire_entry(entry_id: Id, request: Request, hub: HubDep, user: Editor) -> HotListOut:
    """The entry expires now: the boxes stop matching it with the list pushed next; it stays for the record."""
    now = utcnow()
    with hub.db.session() as session:
        item = _entry(session, entry_id)
        if item.expires_at is not None and item.expires_at <= now:
            raise HTTPException(status.HTTP_409_CONFLICT, "expired already")
        item.expires_at = now
        v = hotlist.bump_version(session)
        audit.append(session, actor=user.username, action="hotlist.expire", outcome=audit.Outcome.SUCCESS,
                     object=f"hotlist:{item.list_name}", source=client_address(request), plate=item.plate,
                     entry_id=item.id)
        out = _out(item, v)
    _push(hub)
    return out


@router.delete("/{entry_id}", status_code=204, responses={404: {"description": "No such entry"}})
def remove_entry(entry_id: Id, request: Request, hub: HubDep, user: Editor) -> None:
    with hub.db.session() as session:
        item = _entry(session, entry_id)
        session.delete(item)
        hotlist.bump_version(session)
        audit.append(session, actor=user.username, action="hotlist.remove", outcome=audit.Outcome.SUCCESS,
                     object=f"hotlist:{item.list_name}", source=client_address(request), plate=item.plate)
    _push(hub)


@router.post("/import", response_model=HotListImportOut,
             responses={422: {"model": HotListImportOut, "description": "A row or the file has a problem: nothing "
                                                                       "was stored (the preview says what)"}})
def import_entries(request: Request, hub: HubDep, user: Editor, body: Annotated[bytes, CSV_BODY],
                   dry_run: Annotated[bool, Query(description="Preview only: store nothing.")] = True):
    """Entries from a CSV file: each row's outcome, and — when not a dry run and no row has a problem — stored,
    audited (`hotlist.import`) and pushed to the boxes."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "the file is not UTF-8 text") from None
    with hub.db.session() as session:
        on_lists = {(i.list_name, i.plate): i.id for i in session.scalars(select(HotListItem))}
        problems, rows = importer.preview(text, on_lists=on_lists, now=utcnow())
        failed = sum(row.outcome == "error" for row in rows)
        good = not problems and not failed
        version = None
        if good and not dry_run:
            importer.store(session, rows, user=user, source=client_address(request))
            version = hotlist.bump_version(session)
    out = HotListImportOut(dry_run=dry_run, stored=version is not None, added=len(rows) - failed if good else 0,
                           failed=failed, version=version, problems=problems, rows=rows)
    if version is not None:
        _push(hub)
    if not good and not dry_run:
        return JSONResponse(out.model_dump(mode="json"), status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
    return out
