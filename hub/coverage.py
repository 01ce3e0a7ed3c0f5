"""Camera coverage at the hub: the spans each box reports (`wire.messages.Coverage`), kept as few rows.

A recorded span that touches or overlaps (within `TOLERANCE`) recorded spans already stored for the camera
is merged with them into one row, so a camera recording without a break for a month is one row; a repeat
(a box re-sends what it queued just before a crash) lies inside what is stored and changes nothing. A gap is
a row of its own, merged only with an overlapping gap of the same reason (again a repeat).

Coverage events are not also kept as rows of the `events` table: the spans are their record, and one row per
report per camera (every minute: 7.2 million rows a day for 5,000 cameras) would grow without telling anyone
more than the spans do. Exactly-once, in-order delivery does not need those rows (`hub.ingest` keeps the
appliance's last applied sequence number).

Retention: spans that ended before the oldest footage anyone may ask for (`footage_max_age_days`) are dropped
for a camera whenever it gains a row (a new gap or a new recording after a break, a few times a day), and
for every camera by `prune_coverage`; a span that reaches into the retained period is kept whole.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hub.tables import CoverageSpan

log = logging.getLogger(__name__)

#: Recorded spans this close are one: a segment boundary, a box's clock step, the reporter's own joins.
TOLERANCE = dt.timedelta(seconds=2)


@dataclass(frozen=True, slots=True)
class ReportedSpan:
    """One span as a box reported it, for one of the hub's cameras."""

    camera_id: int
    start: dt.datetime
    end: dt.datetime
    recorded: bool
    reason: str = ""


def record_coverage(session: Session, *, span: ReportedSpan, keep_since: dt.datetime) -> CoverageSpan | None:
    """Store `span`, merged with what it touches; None if it ended before `keep_since` (nothing to keep)."""
    if span.end < keep_since:
        return None
    if span.recorded:
        row, added = _merge_recorded(session, span)
    else:
        row, added = _merge_gap(session, span)
    if added:
        prune_camera(session, camera_id=span.camera_id, before=keep_since)
    return row


def _merge_recorded(session: Session, span: ReportedSpan) -> tuple[CoverageSpan, bool]:
    rows = list(session.scalars(
        select(CoverageSpan).where(CoverageSpan.camera_id == span.camera_id, CoverageSpan.recorded.is_(True),
                                   CoverageSpan.end >= span.start - TOLERANCE,
                                   CoverageSpan.start <= span.end + TOLERANCE)
        .order_by(CoverageSpan.start)))
    if not rows:
        return _add(session, span), True
    keep = rows[0]
    keep.start = min([span.start] + [row.start for row in rows])
    keep.end = max([span.end] + [row.end for row in rows])
    for row in rows[1:]:  # the new span bridged two stored ones: they become one
        session.delete(row)
    return keep, False


def _merge_gap(session: Session, span: ReportedSpan) -> tuple[CoverageSpan, bool]:
    row = session.scalar(
        select(CoverageSpan).where(CoverageSpan.camera_id == span.camera_id, CoverageSpan.recorded.is_(False),
                                   CoverageSpan.end > span.start, CoverageSpan.start < span.end,
                                   CoverageSpan.reason == span.reason)
        .order_by(CoverageSpan.start).limit(1))
    if row is None:
        return _add(session, span), True
    row.start, row.end = min(row.start, span.start), max(row.end, span.end)
    return row, False


def _add(session: Session, span: ReportedSpan) -> CoverageSpan:
    row = CoverageSpan(camera_id=span.camera_id, start=span.start, end=span.end, recorded=span.recorded,
                       reason=span.reason)
    session.add(row)
    session.flush()
    return row


def prune_camera(session: Session, *, camera_id: int, before: dt.datetime) -> int:
    """Drop one camera's spans that ended before `before`; how many."""
    result = session.execute(delete(CoverageSpan).where(CoverageSpan.camera_id == camera_id,
                                                        CoverageSpan.end < before))
    return result.rowcount or 0


def prune_coverage(session: Session, *, before: dt.datetime) -> int:
    """Drop every camera's spans that ended before `before` (e.g. a camera that stopped reporting); how many."""
    result = session.execute(delete(CoverageSpan).where(CoverageSpan.end < before))
    count = result.rowcount or 0
    if count:
        log.info("coverage: dropped %d spans that ended before %s", count, before.isoformat())
    return count


@dataclass(frozen=True, slots=True)
class DaySummary:
    """What one camera's box reported of a window: seconds recorded, and its gaps (newest first, with why)."""

    recorded_s: float
    gaps: list[CoverageSpan]


def summaries(session: Session, camera_ids: list[int], *, since: dt.datetime,
              until: dt.datetime) -> dict[int, DaySummary]:
    """Each camera's coverage between `since` and `until`, clipped to the window, in one query."""
    if not camera_ids:
        return {}
    spans = session.scalars(select(CoverageSpan).where(
        CoverageSpan.camera_id.in_(camera_ids), CoverageSpan.end > since, CoverageSpan.start < until)
        .order_by(CoverageSpan.start.desc()))
    recorded: dict[int, float] = dict.fromkeys(camera_ids, 0.0)
    gaps: dict[int, list[CoverageSpan]] = {camera_id: [] for camera_id in camera_ids}
    for span in spans:
        if span.recorded:
            recorded[span.camera_id] += (min(span.end, until) - max(span.start, since)).total_seconds()
        else:
            gaps[span.camera_id].append(span)
    return {camera_id: DaySummary(recorded[camera_id], gaps[camera_id]) for camera_id in camera_ids}

