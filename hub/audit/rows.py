"""Audit entries as readable rows for people: every field in its own place, details as an object (not JSON text
inside JSON), the cameras the entry is about by name and business, and the entry's exact canonical text and leaf
hash beside them so a page can recompute the hash of what it shows."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.audit.log import canonical
from hub.tables import Appliance, AuditEntry, AuditSubject, Business, Camera


class CameraRef(BaseModel):
    id: int
    name: str
    business_id: int
    business: str


class AuditRow(BaseModel):
    index: int = Field(description="The entry's leaf index in the log.")
    at: dt.datetime
    actor: str
    action: str
    object: str
    outcome: str
    source: str
    reason: str
    case_number: str
    purpose: str = Field(description="The purpose category the entry states (\"\" if none).")
    details: dict[str, Any] = Field(description="The entry's other fields, as the log holds them.")
    cameras: list[CameraRef] = Field(description="The cameras the entry is about.")
    canonical: str = Field(description="The exact text hashed into the log (sorted-key compact JSON).")
    leaf_hash: str = Field(description="SHA-256(0x00 ‖ canonical), hex, as stored in the tree.")


def camera_refs(session: Session, indexes: list[int]) -> dict[int, list[CameraRef]]:
    """leaf index → the cameras it is about, in one query."""
    found: dict[int, list[CameraRef]] = {}
    if not indexes:
        return found
    query = (select(AuditSubject.leaf_index, Camera.id, Camera.name, Business.id, Business.name)
             .join(Camera, Camera.id == AuditSubject.camera_id).join(Appliance, Appliance.id == Camera.appliance_id)
             .join(Business, Business.id == AuditSubject.business_id)
             .where(AuditSubject.leaf_index.in_(indexes)).order_by(AuditSubject.leaf_index, Camera.id))
    for leaf_index, camera_id, name, business_id, business in session.execute(query):
        found.setdefault(leaf_index, []).append(CameraRef(id=camera_id, name=name, business_id=business_id,
                                                          business=business))
    return found


def readable(session: Session, found: list[tuple[AuditEntry, bytes]]) -> list[AuditRow]:
    cameras = camera_refs(session, [entry.leaf_index for entry, _ in found])
    return [AuditRow(index=e.leaf_index, at=e.at, actor=e.actor, action=e.action, object=e.object,
                     outcome=e.outcome, source=e.source, reason=e.reason, case_number=e.case_number,
                     purpose=e.purpose or "", details=e.details or {}, cameras=cameras.get(e.leaf_index, []),
                     canonical=canonical(e).decode(), leaf_hash=leaf.hex())
            for e, leaf in found]
