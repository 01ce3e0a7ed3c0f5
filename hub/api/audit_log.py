"""The audit log's verifiable surface: latest signed checkpoint, inclusion and consistency proofs, entries.

Checkpoints and proofs carry no personal data and are public, so appliances
(witnesses) and anyone else can check the log; entries are for auditors and
admins. The CSV export is for reading in a spreadsheet, so every cell is made
inert there (`spreadsheet_cell`); the JSON export and the verifiable export
keep each entry's exact text.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json
import unicodedata
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import select

from hub import audit
from hub.api.deps import HubDep, SessionDep, client_address, require
from hub.audit import log as audit_log
from hub.audit.log import canonical, size_of
from hub.tables import Alert, Appliance, AuditEntry, AuditNode, Camera, Role, User, utcnow
from wire.audit import CheckpointOut, ProofOut

router = APIRouter(prefix="/api/audit", tags=["audit"])
Auditor = Annotated[User, Depends(require(Role.AUDITOR, Role.ADMIN))]
Size = Annotated[int, Query(ge=0, le=2**62)]
MAX_EXPORT = 100_000


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


def _filtered(session, start: int, limit: int | None, actor, action, case_number, camera_id, business_id, since, until):
    query = select(AuditEntry, AuditNode.hash).join(
        AuditNode, (AuditNode.level == 0) & (AuditNode.index == AuditEntry.leaf_index)
    ).where(AuditEntry.leaf_index >= start).order_by(AuditEntry.leaf_index)
    if limit is not None:
        query = query.limit(limit)
    for column, value in ((AuditEntry.actor, actor), (AuditEntry.action, action),
                          (AuditEntry.case_number, case_number)):
        if value is not None:
            query = query.where(column == value)
    if camera_id is not None or business_id is not None:
        cameras = select(Camera).join(Appliance)
        if camera_id is not None:
            cameras = cameras.where(Camera.id == camera_id)
        if business_id is not None:
            cameras = cameras.where(Appliance.business_id == business_id)
        objects = []
        for camera in session.scalars(cameras):
            objects += [f"camera:{camera.id}", f"camera:{camera.appliance.device_id}/{camera.name}"]
        if business_id is not None:
            objects.append(f"business:{business_id}")
        query = query.where(AuditEntry.object.in_(objects))
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at < until)
    return session.execute(query)


class Filters:
    """The auditor's search: by user, action, case number, camera, business and time."""

    def __init__(self, actor: Annotated[str | None, Query(max_length=100)] = None,
                 action: Annotated[str | None, Query(max_length=64)] = None,
                 case_number: Annotated[str | None, Query(max_length=100)] = None,
                 camera_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
                 business_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
                 since: AwareDatetime | None = None, until: AwareDatetime | None = None):
        self.values = dict(actor=actor, action=action, case_number=case_number, camera_id=camera_id,
                           business_id=business_id, since=since, until=until)


@router.get("/entries", response_model=list[EntryOut])
def entries(session: SessionDep, user: Auditor, filters: Annotated[Filters, Depends()], start: Size = 0,
            limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[EntryOut]:
    return [EntryOut(index=e.leaf_index, entry=canonical(e).decode(), leaf_hash=h.hex())
            for e, h in _filtered(session, start, limit, **filters.values)]


CSV_FIELDS = ["index", "at", "actor", "action", "object", "outcome", "source", "reason", "case_number", "details"]
#: What a spreadsheet takes as the start of a formula (OWASP, CSV Injection; ASVS 1.2.10), and the full-width
#: forms some spreadsheets read the same way.
FORMULA_START = frozenset("=+-@\t\r\n\0\uff1d\uff0b\uff0d\uff20")
#: Characters shown as a visible escape: controls (ESC, NUL, tab, newlines …), format characters (bidi
#: overrides such as U+202E, zero-width and tag characters) and line and paragraph separators.
HIDDEN = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def _visible(char: str) -> str:
    if unicodedata.category(char) not in HIDDEN:
        return char
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def spreadsheet_cell(value: object) -> str:
    """`value` as a CSV cell a spreadsheet shows as text: control and bidi characters escaped visibly
    (U+202E as \\u202e, never dropped), and a leading formula character (=, +, -, @, tab, CR, LF, NUL, even
    after spaces) behind a single quote. The writer quotes every cell, so separators and quotes cannot start
    a new one."""
    text = "".join(_visible(char) for char in str(value))
    stripped = text.lstrip()
    return "'" + text if stripped and stripped[0] in FORMULA_START else text


@router.get("/export", responses={200: {"content": {"text/csv": {}, "application/json": {}}}})
def export(request: Request, session: SessionDep, user: Auditor, filters: Annotated[Filters, Depends()],
           format: Literal["csv", "json"] = "csv") -> Response:
    """Matching entries as CSV or JSON (each with its leaf hash); the export itself is audited."""
    rows = []
    for entry, leaf in _filtered(session, 0, MAX_EXPORT + 1, **filters.values):
        rows.append({**json.loads(canonical(entry)), "leaf_hash": leaf.hex()})
    if len(rows) > MAX_EXPORT:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"more than {MAX_EXPORT} entries match; narrow the search or use `canvass-hub audit export`")
    audit.append(session, actor=user.username, action="audit.export", outcome=audit.Outcome.SUCCESS,
                 source=client_address(request), format=format, entries=len(rows),
                 filters={k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in filters.values.items()
                          if v is not None})
    if format == "json":
        return Response(json.dumps(rows, ensure_ascii=False), media_type="application/json")
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS + ["leaf_hash"], quoting=csv.QUOTE_ALL)
    writer.writeheader()
    for row in rows:
        cells = {**row, "details": json.dumps(row["details"], sort_keys=True, ensure_ascii=False)}
        writer.writerow({name: spreadsheet_cell(value) for name, value in cells.items()})
    return Response(out.getvalue(), media_type="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="audit.csv"'})


REPORTED = {
    ("access.request", "pending"): "requests waiting for an owner",
    ("access.owner_decision", "success"): "requests approved by owners",
    ("access.owner_decision", "denied"): "requests denied by owners",
    ("access.request", "denied"): "requests refused by the hub",
    ("access.grant", "success"): "grants issued",
    ("access.appliance_decision", "success"): "grants accepted by appliances",
    ("access.appliance_decision", "denied"): "grants refused by appliances",
    ("consent.change", "success"): "consent changes by owners",
    ("plates.search", "success"): "plate searches",
}

SPLIT = {"access.request", "access.grant", "plates.search"}  # the entries that carry the analyst's purpose and unit


#: label → count, for one month (the labels are REPORTED's values and "hot-list hits").
Counts = dict[str, int]


class TransparencyOut(BaseModel):
    """The public report: counts by month, and the request, grant and plate search counts split by purpose and by
    unit."""

    generated_at: dt.datetime
    months: dict[str, Counts] = Field(description="month (YYYY-MM) → counts")
    by_purpose: dict[str, dict[str, Counts]] = Field(description="month → purpose category → counts")
    by_unit: dict[str, dict[str, Counts]] = Field(description="month → agency unit → counts")


@router.get("/transparency", tags=["transparency"], response_model=TransparencyOut)
def transparency(session: SessionDep) -> TransparencyOut:
    """Public counts by month, generated from the log itself: what was asked, granted, refused, streamed.

    `months` holds the totals; `by_purpose` and `by_unit` split the request, grant and plate search counts by the
    purpose category the analyst gave and the agency unit the analyst belongs to (entries logged before those
    were recorded count as "unrecorded"). Hot-list hits come from the alert table.
    """
    months: dict[str, dict[str, int]] = {}
    by_purpose: dict[str, dict[str, dict[str, int]]] = {}
    by_unit: dict[str, dict[str, dict[str, int]]] = {}
    query = select(AuditEntry.at, AuditEntry.action, AuditEntry.outcome, AuditEntry.details).where(
        AuditEntry.action.in_({a for a, _ in REPORTED}))
    for at, action, outcome, details in session.execute(query):
        label = REPORTED.get((action, outcome))
        if not label:
            continue
        month = at.strftime("%Y-%m")
        months.setdefault(month, dict.fromkeys(REPORTED.values(), 0))[label] += 1
        if action in SPLIT:
            details = details or {}
            for split, key in ((by_purpose, details.get("purpose")), (by_unit, details.get("unit"))):
                bucket = split.setdefault(month, {}).setdefault(key or "unrecorded", {})
                bucket[label] = bucket.get(label, 0) + 1
    hits: dict[str, int] = {}
    for (at,) in session.execute(select(Alert.at).where(Alert.kind == "hotlist_hit")):
        hits[at.strftime("%Y-%m")] = hits.get(at.strftime("%Y-%m"), 0) + 1
    for month, count in hits.items():
        months.setdefault(month, dict.fromkeys(REPORTED.values(), 0))["hot-list hits"] = count
    return TransparencyOut(generated_at=utcnow(), months=dict(sorted(months.items())),
                           by_purpose=dict(sorted(by_purpose.items())), by_unit=dict(sorted(by_unit.items())))
