"""Hot-list entries from a CSV file, previewed row by row before anything is stored (the router is
`hub.api.hotlists`).

The file is UTF-8 (a byte-order mark is allowed) with a header row naming its columns, in any order: `plate`,
`state` (or `region`, `state/region`), `list` (or `list_name`), `reason`, `expiry` (or `expires`,
`expires_at`); plate, list and reason are required. An expiry is a date (the entry lasts through that day,
UTC) or a date and time with its zone; empty for none.

`preview` is pure: each row's outcome ("add") or every problem with it — a plate that is not letters and
digits, a state that is not one, a missing list or reason, a date that is not one or has passed, a plate twice
on the same list in the file or already on that list at the hub — and the file's own problems (an unknown or
missing column, no rows, too many). The import is all or nothing: it stores the rows only when not one has a
problem (fix the file and import it again), so a half-imported list never reaches the boxes.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from hub import audit
from hub.tables import HotListItem, User

MAX_ROWS = 5000
COLUMNS = {"plate": "plate", "state": "region", "region": "region", "state/region": "region", "list": "list_name",
           "list_name": "list_name", "reason": "reason", "expiry": "expires_at", "expires": "expires_at",
           "expires_at": "expires_at"}
REQUIRED = ("plate", "list_name", "reason")
_PLATE = re.compile(r"^[0-9A-Z]{1,10}$")
_REGION = re.compile(r"^[A-Z0-9-]{0,16}$")


class ImportRow(BaseModel):
    line: int = Field(description="The row's line in the file (the header is line 1).")
    plate: str = Field(description="As it will be stored: upper case, without spaces or hyphens.")
    region: str
    list_name: str
    reason: str
    expires_at: dt.datetime | None
    outcome: Literal["add", "error"]
    errors: list[str] = Field(description="Every problem with the row (empty when it is added).")


class HotListImportOut(BaseModel):
    dry_run: bool
    stored: bool = Field(description="The rows were stored and pushed to the boxes (never on a dry run, never "
                                     "when any row or the file has a problem).")
    added: int = Field(description="Rows stored (on a dry run: that would be stored).")
    failed: int = Field(description="Rows with a problem.")
    version: int | None = Field(description="The hot list's version after the import, when stored.")
    problems: list[str] = Field(description="Problems with the file itself (its columns, its size).")
    rows: list[ImportRow]


def header_problems(fields: list[str] | None) -> tuple[list[str], dict[str, str]]:
    """The header's problems, and each column's field name."""
    if not fields:
        return ["the file is empty: it needs a header row (plate, state, list, reason, expiry)"], {}
    problems, mapping = [], {}
    for name in fields:
        key = (name or "").strip().lower()
        field = COLUMNS.get(key)
        if field is None:
            problems.append(f"unknown column {name!r} (known: plate, state, list, reason, expiry)")
        elif field in mapping.values():
            problems.append(f"column {name!r} repeats {field}")
        else:
            mapping[name] = field
    problems += [f"missing column {field.replace('_name', '')}" for field in REQUIRED if field not in mapping.values()]
    return problems, mapping


def parse_expiry(text: str, now: dt.datetime) -> tuple[dt.datetime | None, str | None]:
    """An expiry cell: the moment, or why not."""
    if not text:
        return None, None
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            moment = dt.datetime.combine(dt.date.fromisoformat(text) + dt.timedelta(days=1), dt.time(),
                                         dt.timezone.utc)
        else:
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None, f"bad date {text!r}: give YYYY-MM-DD or a date and time with its zone"
    if moment.tzinfo is None:
        return None, f"bad date {text!r}: a time needs its zone (e.g. Z or +02:00)"
    if moment <= now:
        return None, f"expiry {text!r} has passed"
    return moment.astimezone(dt.timezone.utc), None


def check_row(cells: dict[str, str], now: dt.datetime) -> tuple[ImportRow, list[str]]:
    """One row's values and its own problems (duplicates are `preview`'s)."""
    plate = cells.get("plate", "").upper().replace(" ", "").replace("-", "")
    region = cells.get("region", "").upper()
    list_name, reason = cells.get("list_name", ""), cells.get("reason", "")
    expires_at, date_problem = parse_expiry(cells.get("expires_at", ""), now)
    problems = []
    if not _PLATE.match(plate):
        problems.append(f"bad plate {cells.get('plate', '')!r}: letters and digits only, 1 to 10 of them")
    if not _REGION.match(region):
        problems.append(f"bad state/region {cells.get('region', '')!r}: letters, digits and hyphens, at most 16")
    if not 1 <= len(list_name) <= 100:
        problems.append("a list name is needed (at most 100 characters)")
    if not 3 <= len(reason) <= 500:
        problems.append("a reason is needed (3 to 500 characters)")
    problems += [date_problem] if date_problem else []
    row = ImportRow(line=0, plate=plate[:20], region=region[:20], list_name=list_name[:100], reason=reason[:500],
                    expires_at=expires_at, outcome="add", errors=[])
    return row, problems


def preview(text: str, *, on_lists: dict[tuple[str, str], int], now: dt.datetime) -> tuple[list[str], list[ImportRow]]:
    """The file's problems and each row's outcome; `on_lists` maps (list, plate) to the entry the hub has."""
    reader = csv.DictReader(io.StringIO(text))
    problems, mapping = header_problems(reader.fieldnames)
    if problems:
        return problems, []
    rows, seen = [], {}
    for record in reader:
        if not any((value or "").strip() for value in record.values() if isinstance(value, str)):
            continue  # a blank line
        cells = {mapping[k]: (v or "").strip() for k, v in record.items() if k in mapping}
        row, errors = check_row(cells, now)
        if None in record:
            errors.append("more cells than the header has columns")
        key = (row.list_name, row.plate)
        if key in seen:
            errors.append(f"duplicate: {row.plate} is on list {row.list_name!r} at line {seen[key]} too")
        elif key in on_lists:
            errors.append(f"duplicate: {row.plate} is on list {row.list_name!r} already (entry {on_lists[key]})")
        seen.setdefault(key, reader.line_num)
        rows.append(row.model_copy(update={"line": reader.line_num, "errors": errors,
                                           "outcome": "error" if errors else "add"}))
        if len(rows) > MAX_ROWS:
            return [f"more than {MAX_ROWS} rows: split the file"], []
    return ([] if rows else ["no rows after the header"]), rows


def store(session: Session, rows: list[ImportRow], *, user: User, source: str) -> None:
    """Add the previewed rows (all of them good) and put the import on the record, in `session`'s transaction."""
    for row in rows:
        session.add(HotListItem(list_name=row.list_name, plate=row.plate, region=row.region, reason=row.reason,
                                expires_at=row.expires_at, created_by=user.id))
    audit.append(session, actor=user.username, action="hotlist.import", outcome=audit.Outcome.SUCCESS,
                 object="hotlist", source=source, added=len(rows), lists=sorted({row.list_name for row in rows}),
                 entries=[{"plate": row.plate, "list": row.list_name} for row in rows])
