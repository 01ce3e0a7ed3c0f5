"""Hot-list entries: analysts and admins add and remove plates; every change is pushed to appliances."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from hub import audit, hotlist
from hub.api.boundary import Id, Moment
from hub.api.deps import HubDep, require
from hub.tables import HotListItem, Role, User
from wire.messages import Plate

router = APIRouter(prefix="/api/hotlist", tags=["hot list"])
Editor = Annotated[User, Depends(require(Role.ADMIN, Role.ANALYST))]


class HotListIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    plate: Plate
    list_name: Annotated[str, Field(min_length=1, max_length=100)]
    reason: Annotated[str, Field(min_length=3, max_length=500)]
    expires_at: Moment | None = None


class HotListOut(BaseModel):
    id: int
    plate: str
    list_name: str
    reason: str
    expires_at: dt.datetime | None
    version: int


@router.get("", response_model=list[HotListOut])
def list_entries(hub: HubDep, user: Editor) -> list[HotListOut]:
    with hub.db.session() as session:
        v = hotlist.version(session)
        return [HotListOut(id=i.id, plate=i.plate, list_name=i.list_name, reason=i.reason,
                           expires_at=i.expires_at, version=v)
                for i in session.scalars(select(HotListItem).order_by(HotListItem.id))]


@router.post("", response_model=HotListOut, status_code=201)
def add_entry(body: HotListIn, request: Request, hub: HubDep, user: Editor) -> HotListOut:
    with hub.db.session() as session:
        if session.scalar(select(HotListItem).where(HotListItem.list_name == body.list_name,
                                                    HotListItem.plate == body.plate)) is not None:
            raise HTTPException(status.HTTP_409_CONFLICT, "plate already on this list")
        item = HotListItem(created_by=user.id, **body.model_dump())
        session.add(item)
        session.flush()
        v = hotlist.bump_version(session)
        audit.append(session, actor=user.username, action="hotlist.add", outcome=audit.Outcome.SUCCESS,
                     object=f"hotlist:{body.list_name}", source=request.client.host if request.client else "",
                     reason=body.reason, plate=body.plate)
        out = HotListOut(id=item.id, plate=item.plate, list_name=item.list_name, reason=item.reason,
                         expires_at=item.expires_at, version=v)
    if hub.link is not None:
        hub.link.push_hotlist()
    return out


@router.delete("/{entry_id}", status_code=204)
def remove_entry(entry_id: Id, request: Request, hub: HubDep, user: Editor) -> None:
    with hub.db.session() as session:
        item = session.get(HotListItem, entry_id)
        if item is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such entry")
        session.delete(item)
        hotlist.bump_version(session)
        audit.append(session, actor=user.username, action="hotlist.remove", outcome=audit.Outcome.SUCCESS,
                     object=f"hotlist:{item.list_name}", source=request.client.host if request.client else "",
                     plate=item.plate)
    if hub.link is not None:
        hub.link.push_hotlist()
