"""Searching the audit log by who, action, purpose, case number, camera, business, outcome and time.

Every filter is an indexed lookup: actor, action, purpose, case number and outcome have (column, leaf_index)
indexes on `audit_entries`, time has the `at` index, and camera and business go through `audit_subjects`
(`hub.audit.subjects`), so a search costs what it finds, not the size of the log. Results come newest first
(`before` pages back) or oldest first (`start` pages on), each entry with its leaf hash from the tree.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from hub.tables import AuditEntry, AuditNode, AuditSubject


@dataclass(frozen=True)
class Search:
    """What an auditor searches for; None matches anything."""

    actor: str | None = None
    action: str | None = None
    purpose: str | None = None
    case_number: str | None = None
    camera_id: int | None = None
    business_id: int | None = None
    outcome: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None

    def given(self) -> dict[str, object]:
        """The filters that were set, as JSON-ready values (for the record of an export)."""
        return {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in asdict(self).items()
                if v is not None}


def _where(query: Select, search: Search) -> Select:
    for column, value in ((AuditEntry.actor, search.actor), (AuditEntry.action, search.action),
                          (AuditEntry.purpose, search.purpose), (AuditEntry.case_number, search.case_number),
                          (AuditEntry.outcome, search.outcome)):
        if value is not None:
            query = query.where(column == value)
    if search.camera_id is not None or search.business_id is not None:
        subjects = select(AuditSubject.leaf_index)
        if search.camera_id is not None:
            subjects = subjects.where(AuditSubject.camera_id == search.camera_id)
        if search.business_id is not None:
            subjects = subjects.where(AuditSubject.business_id == search.business_id)
        query = query.where(AuditEntry.leaf_index.in_(subjects))
    if search.since is not None:
        query = query.where(AuditEntry.at >= search.since)
    if search.until is not None:
        query = query.where(AuditEntry.at < search.until)
    return query


def find(session: Session, search: Search, *, limit: int, start: int = 0, before: int | None = None,
         newest_first: bool = False) -> list[tuple[AuditEntry, bytes]]:
    """Matching entries with their leaf hashes: from leaf `start` on, or (newest first) below `before`."""
    query = search_query(search, limit=limit, start=start, before=before, newest_first=newest_first)
    return [(entry, leaf) for entry, leaf in session.execute(query)]


def search_query(search: Search, *, limit: int, start: int = 0, before: int | None = None,
                 newest_first: bool = False) -> Select:
    """The SELECT `find` runs."""
    query = select(AuditEntry, AuditNode.hash).join(
        AuditNode, (AuditNode.level == 0) & (AuditNode.index == AuditEntry.leaf_index))
    query = _where(query, search).where(AuditEntry.leaf_index >= start)
    if before is not None:
        query = query.where(AuditEntry.leaf_index < before)
    order = AuditEntry.leaf_index.desc() if newest_first else AuditEntry.leaf_index
    return query.order_by(order).limit(limit)
