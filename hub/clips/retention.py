"""Case retention: a clip whose case is kept no longer (`Case.retain_until` passed) is deleted from the clip
store, marked deleted (`Clip.deleted_at`; the row, its hashes and manifest stay as the record) and the deletion
audited. Run by the hub's maintenance pass and by `canvass-hub retention`.

The decision is `expired` (pure); `retention_pass` does the I/O: the store first, then the row, so a pass that
fails half way is finished by the next one (deleting a missing object is no error).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import select

from hub import audit
from hub.clips.delivery import ClipKeys
from hub.clips.store import ClipStore, ClipStoreError
from hub.db import Database
from hub.tables import Case, Clip, utcnow

log = logging.getLogger(__name__)

ACTOR = "hub:retention"


def expired(retain_until: dt.datetime, deleted_at: dt.datetime | None, now: dt.datetime) -> bool:
    """Whether a clip of a case kept until `retain_until` is due for deletion at `now`."""
    return deleted_at is None and retain_until <= now


@dataclass(frozen=True)
class Due:
    clip_id: int
    storage_key: str
    case_number: str
    retain_until: dt.datetime
    sha256: str


def _due(db: Database, now: dt.datetime, limit: int) -> list[Due]:
    with db.session() as session:
        rows = session.execute(select(Clip, Case).join(Case, Case.id == Clip.case_id)
                               .where(Clip.deleted_at.is_(None), Case.retain_until <= now)
                               .order_by(Clip.id).limit(limit)).all()
        return [Due(clip.id, clip.storage_key, case.case_number, case.retain_until, clip.sha256)
                for clip, case in rows if expired(case.retain_until, clip.deleted_at, now)]


def _delete(db: Database, store: ClipStore, due: Due, now: dt.datetime) -> None:
    keys = ClipKeys.beside(due.storage_key)
    store.delete(keys.clip)
    store.delete(keys.manifest)
    with db.session() as session:
        clip = session.get(Clip, due.clip_id)
        clip.deleted_at = now
        audit.append(session, actor=ACTOR, action="clip.delete", outcome=audit.Outcome.SUCCESS,
                     object=f"clip:{due.clip_id}", case_number=due.case_number, request_id=clip.request_id,
                     reason=f"case {due.case_number} was kept until {due.retain_until.isoformat()}",
                     sha256=due.sha256, storage_key=due.storage_key)


def retention_pass(db: Database, store: ClipStore, now: dt.datetime | None = None, batch: int = 500) -> int:
    """Delete every clip whose case's retention has ended; how many were deleted."""
    now = now or utcnow()
    deleted = 0
    while due := _due(db, now, batch):
        for one in due:
            try:
                _delete(db, store, one, now)
            except ClipStoreError:
                log.warning("retention could not delete clip %d from the store; the next pass tries again",
                            one.clip_id, exc_info=True)
                return deleted
            deleted += 1
    if deleted:
        log.info("retention deleted %d clip(s)", deleted)
    return deleted
