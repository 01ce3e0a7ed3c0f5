"""The audit log's verifiable surface: latest signed checkpoint, inclusion and consistency proofs, entries.

Checkpoints and proofs carry no personal data and are public, so appliances
(witnesses) and anyone else can check the log; entries are for auditors and
admins.
"""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import AwareDatetime, BaseModel
from sqlalchemy import select

from hub.api.deps import HubDep, SessionDep, require
from hub.audit import log as audit_log
from hub.audit.log import canonical, size_of
from hub.models import AuditEntry, AuditNode, Role, User

router = APIRouter(prefix="/api/audit", tags=["audit"])
Auditor = Annotated[User, Depends(require(Role.AUDITOR, Role.ADMIN))]
Size = Annotated[int, Query(ge=0, le=2**62)]


class CheckpointOut(BaseModel):
    size: int
    root: str
    note: str


class ProofOut(BaseModel):
    proof: list[str]


@router.get("/checkpoint", response_model=CheckpointOut)
def checkpoint(hub: HubDep) -> CheckpointOut:
    """The newest signed checkpoint, issued now if entries arrived since the last."""
    row = hub.checkpoint()
    return CheckpointOut(size=row.size, root=base64.b64encode(row.root).decode(), note=row.note)


def _b64(hashes: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in hashes]


@router.get("/proof/inclusion", response_model=ProofOut)
def inclusion(session: SessionDep, index: Size, size: Size) -> ProofOut:
    if not index < size <= size_of(session):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "need index < size ≤ the log's size")
    return ProofOut(proof=_b64(audit_log.inclusion_proof(session, index, size)))


@router.get("/proof/consistency", response_model=ProofOut)
def consistency(session: SessionDep, old: Size, new: Size) -> ProofOut:
    if not old <= new <= size_of(session):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "need old ≤ new ≤ the log's size")
    return ProofOut(proof=_b64(audit_log.consistency_proof(session, old, new)))


class EntryOut(BaseModel):
    index: int
    entry: str
    leaf_hash: str


@router.get("/entries", response_model=list[EntryOut])
def entries(session: SessionDep, user: Auditor, start: Size = 0, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
            actor: Annotated[str | None, Query(max_length=100)] = None,
            action: Annotated[str | None, Query(max_length=64)] = None,
            case_number: Annotated[str | None, Query(max_length=100)] = None,
            since: AwareDatetime | None = None, until: AwareDatetime | None = None) -> list[EntryOut]:
    query = select(AuditEntry, AuditNode.hash).join(
        AuditNode, (AuditNode.level == 0) & (AuditNode.index == AuditEntry.leaf_index)
    ).where(AuditEntry.leaf_index >= start).order_by(AuditEntry.leaf_index).limit(limit)
    for column, value in ((AuditEntry.actor, actor), (AuditEntry.action, action),
                          (AuditEntry.case_number, case_number)):
        if value is not None:
            query = query.where(column == value)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at < until)
    return [EntryOut(index=e.leaf_index, entry=canonical(e).decode(), leaf_hash=h.hex())
            for e, h in session.execute(query)]
