"""The public transparency report: what was asked, granted, refused, streamed and searched, per month, split by
the purpose the analyst stated and the agency unit they belong to — computed from the audit log itself, at a
named signed checkpoint, so anyone holding an export can recount the figures.

The counts read only the entries below the checkpoint's size (an entry that arrives while the report is built
waits for the next checkpoint), through the `action` index. A report is built once per checkpoint and kept, so
a public page cannot make the hub recount the log on every request. Hot-list hits come from the alert table
(they are events from the boxes, not actions on the log; counted up to the checkpoint's time); cameras,
appliances and retention are the hub's state and settings now.
"""

from __future__ import annotations

import base64
import datetime as dt
import threading

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.settings import HubSettings
from hub.tables import Alert, Appliance, ApplianceState, AuditCheckpoint, AuditEntry, Camera, utcnow
from wire.audit import CheckpointOut

#: (action, outcome) → the label it is counted under.
REPORTED = {
    ("access.request", "pending"): "requests waiting for an owner",
    ("access.request", "denied"): "requests refused by the hub",
    ("footage.request", "pending"): "footage requests sent to owners",
    ("footage.request", "denied"): "footage requests refused by the hub",
    ("access.owner_decision", "success"): "requests approved by owners",
    ("access.owner_decision", "denied"): "requests denied by owners",
    ("footage.decision", "success"): "requests approved by the owner's standing policy",
    ("footage.expired", "failure"): "requests expired undecided",
    ("access.grant", "success"): "grants issued",
    ("access.appliance_decision", "success"): "grants accepted by appliances",
    ("access.appliance_decision", "denied"): "grants refused by appliances",
    ("stream.start", "success"): "streams started",
    ("consent.change", "success"): "consent changes by owners",
    ("plates.search", "success"): "plate searches",
}
HITS = "hot-list hits"
LABELS = [*REPORTED.values(), HITS]
#: The entries that carry the analyst's purpose and unit (split by both).
SPLIT = {"access.request", "footage.request", "access.grant", "stream.start", "plates.search"}

#: label → count, for one month.
Counts = dict[str, int]


class RetentionOut(BaseModel):
    box_footage_days: int = Field(description="Oldest footage anyone may ask a box for (its rolling buffer).")
    case_clip_days: int = Field(description="How long a new case's clips are kept at the hub unless extended.")
    request_expiry_days: int = Field(description="An undecided footage request expires after this many days.")
    plate_reads: str = Field(description="How long plate reads are kept.")


class TransparencyOut(BaseModel):
    """The public report: counts by month, split by purpose and by unit, at a signed checkpoint."""

    generated_at: dt.datetime
    checkpoint: CheckpointOut = Field(description="The signed checkpoint the figures were counted at: every "
                                                  "entry below its size, none after.")
    labels: list[str] = Field(description="Every figure's label, in the order the report shows them.")
    months: dict[str, Counts] = Field(description="month (YYYY-MM) → counts")
    by_purpose: dict[str, dict[str, Counts]] = Field(description="month → purpose category → counts")
    by_unit: dict[str, dict[str, Counts]] = Field(description="month → agency unit → counts")
    cameras: int = Field(description="Cameras registered on enrolled appliances now.")
    appliances: int = Field(description="Appliances enrolled now (not revoked).")
    retention: RetentionOut


def _count(session: Session, size: int) -> tuple[dict, dict, dict]:
    months: dict[str, Counts] = {}
    by_purpose: dict[str, dict[str, Counts]] = {}
    by_unit: dict[str, dict[str, Counts]] = {}
    query = select(AuditEntry.at, AuditEntry.action, AuditEntry.outcome, AuditEntry.details).where(
        AuditEntry.action.in_({a for a, _ in REPORTED}), AuditEntry.leaf_index < size)
    for at, action, outcome, details in session.execute(query):
        label = REPORTED.get((action, outcome))
        if not label:
            continue
        month = at.strftime("%Y-%m")
        months.setdefault(month, dict.fromkeys(LABELS, 0))[label] += 1
        if action in SPLIT:
            details = details or {}
            for split, key in ((by_purpose, details.get("purpose")), (by_unit, details.get("unit"))):
                bucket = split.setdefault(month, {}).setdefault(str(key or "unrecorded"), {})
                bucket[label] = bucket.get(label, 0) + 1
    return months, by_purpose, by_unit


def _hits(session: Session, until: dt.datetime) -> dict[str, int]:
    hits: dict[str, int] = {}
    for (at,) in session.execute(select(Alert.at).where(Alert.kind == "hotlist_hit", Alert.at < until)):
        hits[at.strftime("%Y-%m")] = hits.get(at.strftime("%Y-%m"), 0) + 1
    return hits


def build(session: Session, signed: AuditCheckpoint, settings: HubSettings) -> TransparencyOut:
    """The report counted at `signed` (hot-list hits: those seen before it was signed)."""
    months, by_purpose, by_unit = _count(session, signed.size)
    for month, count in _hits(session, signed.at).items():
        months.setdefault(month, dict.fromkeys(LABELS, 0))[HITS] = count
    active = Appliance.state == ApplianceState.ACTIVE
    return TransparencyOut(
        generated_at=utcnow(), labels=LABELS,
        checkpoint=CheckpointOut(size=signed.size, root=base64.b64encode(signed.root).decode(), note=signed.note),
        months=dict(sorted(months.items())), by_purpose=dict(sorted(by_purpose.items())),
        by_unit=dict(sorted(by_unit.items())),
        cameras=session.scalar(select(func.count(Camera.id)).join(Appliance).where(active)) or 0,
        appliances=session.scalar(select(func.count(Appliance.id)).where(active)) or 0,
        retention=RetentionOut(box_footage_days=settings.footage_max_age_days,
                               case_clip_days=settings.case_retention_days,
                               request_expiry_days=settings.request_expiry_days,
                               plate_reads="on each box as long as its camera's video; at the hub only the "
                                           "reads each owner's policy shares, with no age limit set"))


class ReportCache:
    """One report per checkpoint: a public page asking again gets the same report until the log moves on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._report: tuple[int, TransparencyOut] | None = None

    def get(self, session: Session, signed: AuditCheckpoint, settings: HubSettings) -> TransparencyOut:
        with self._lock:
            if self._report is not None and self._report[0] == signed.size:
                return self._report[1]
        report = build(session, signed, settings)
        with self._lock:
            self._report = (signed.size, report)
        return report
