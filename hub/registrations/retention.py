"""Case retention for the files owners uploaded: once their case is kept no longer (`Case.retain_until`
passed), each is deleted from the clip store, marked deleted (the row, its SHA-256 and size stay as the record)
and the deletion audited — as `hub.clips.retention` does for the boxes' clips. The store first, then the row,
so a pass that fails half way is finished by the next one."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select

from hub import audit
from hub.clips.retention import ACTOR, expired
from hub.clips.store import ClipStore, ClipStoreError
from hub.db import Database
from hub.tables import Case, OwnerUpload, utcnow

log = logging.getLogger(__name__)


def owner_files_pass(db: Database, store: ClipStore, now: dt.datetime | None = None, batch: int = 500) -> int:
    """Delete every owner's file whose case's retention has ended; how many were deleted."""
    now = now or utcnow()
    with db.session() as session:
        due = [(upload.id, upload.storage_key, case.case_number, case.retain_until)
               for upload, case in session.execute(
                   select(OwnerUpload, Case).join(Case, Case.id == OwnerUpload.case_id)
                   .where(OwnerUpload.deleted_at.is_(None), Case.retain_until <= now)
                   .order_by(OwnerUpload.id).limit(batch)).all()
               if expired(case.retain_until, upload.deleted_at, now)]
    deleted = 0
    for upload_id, key, case_number, retain_until in due:
        try:
            store.delete(key)
        except ClipStoreError:
            log.warning("retention could not delete owner file %d from the store; the next pass tries again",
                        upload_id, exc_info=True)
            break
        with db.session() as session:
            upload = session.get(OwnerUpload, upload_id)
            upload.deleted_at = now
            audit.append(session, actor=ACTOR, action="owner_file.delete", outcome=audit.Outcome.SUCCESS,
                         object=f"owner_file:{upload_id}", case_number=case_number,
                         reason=f"case {case_number} was kept until {retain_until.isoformat()}",
                         sha256=upload.sha256, storage_key=key)
        deleted += 1
    return deleted
