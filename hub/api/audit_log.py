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
import io
import json
import unicodedata
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from pydantic import AwareDatetime, BaseModel

from hub import audit
from hub.api.deps import HubDep, SessionDep, client_address, require
from hub.audit import log as audit_log
from hub.audit.log import canonical, size_of
from hub.audit.search import Search, find
from hub.tables import Role, User
from hub.transparency import TransparencyOut
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


class Filters:
    """The auditor's search: by user, action, purpose, case number, camera, business, outcome and time."""

    def __init__(self, actor: Annotated[str | None, Query(max_length=100)] = None,
                 action: Annotated[str | None, Query(max_length=64)] = None,
                 purpose: Annotated[str | None, Query(max_length=32)] = None,
                 case_number: Annotated[str | None, Query(max_length=100)] = None,
                 camera_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
                 business_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
                 outcome: Annotated[str | None, Query(max_length=32)] = None,
                 since: AwareDatetime | None = None, until: AwareDatetime | None = None):
        if since is not None and until is not None and since >= until:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "since must be before until")
        self.search = Search(actor=actor or None, action=action or None, purpose=purpose or None,
                             case_number=case_number or None, camera_id=camera_id, business_id=business_id,
                             outcome=outcome or None, since=since, until=until)


@router.get("/entries", response_model=list[EntryOut])
def entries(session: SessionDep, user: Auditor, filters: Annotated[Filters, Depends()], start: Size = 0,
            limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[EntryOut]:
    return [EntryOut(index=e.leaf_index, entry=canonical(e).decode(), leaf_hash=h.hex())
            for e, h in find(session, filters.search, limit=limit, start=start)]


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
    for entry, leaf in find(session, filters.search, limit=MAX_EXPORT + 1):
        rows.append({**json.loads(canonical(entry)), "leaf_hash": leaf.hex()})
    if len(rows) > MAX_EXPORT:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"more than {MAX_EXPORT} entries match; narrow the search or use `canvass-hub audit export`")
    audit.append(session, actor=user.username, action="audit.export", outcome=audit.Outcome.SUCCESS,
                 source=client_address(request), format=format, entries=len(rows),
                 filters=filters.search.given())
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


@router.get("/transparency", tags=["transparency"], response_model=TransparencyOut)
def transparency(request: Request, session: SessionDep, hub: HubDep) -> TransparencyOut:
    """Public counts by month, from the log itself at a signed checkpoint (`hub.transparency`): requests,
    decisions, expiries, grants, streams and plate searches, split by the purpose category the analyst gave and
    the agency unit they belong to ("unrecorded" for entries logged before those were); hot-list hits; cameras
    and appliances; the retention in force."""
    return request.app.state.transparency.get(session, hub.checkpoint(), hub.settings)
