"""Files an owner uploads through their link (tus, `hub.api.upload_links`): checked when the upload is created
(count, per-file and total size), probed with FFmpeg when complete (`hub.registrations.probe`), hashed
(SHA-256) while they are copied, untouched, into the clip store under the request's case, and recorded with an
audit entry. A refused file leaves nothing behind. Every method blocks: call it from a worker thread.

Uploads in progress live in `<uploads_dir>/owners/` (`hub.clips.staging` layout); each upload's id begins with
its link's prefix (`LinkTicket.upload_prefix`), so a link reaches only its own uploads.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import func, select

from hub import audit
from hub.clips.staging import Staging
from hub.clips.store import ClipStore, ClipStoreError
from hub.db import Database
from hub.registrations.errors import LinkClosed, Refused, RegistrationError, TooLarge
from hub.registrations.probe import NotVideo, probe
from hub.registrations.requests import CLOSED_MESSAGES, OPEN, LinkTicket, OwnerRequests
from hub.settings import HubSettings
from hub.tables import OwnerRequest, OwnerUpload, utcnow

log = logging.getLogger(__name__)

OWNER_STAGING = "owners"
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")
_EXTENSION = re.compile(r"^[A-Za-z0-9]{1,8}$")


def clean_filename(name: str) -> str:
    """The name the owner's file had, as something safe to show (no path, no control characters)."""
    name = _UNSAFE.sub("_", name.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    return name[:255] or "upload"


def storage_key(case_id: int, request_id: int, upload: str, filename: str) -> str:
    extension = filename.rsplit(".", 1)[-1] if "." in filename else ""
    extension = extension.lower() if _EXTENSION.match(extension) else "bin"
    return f"cases/{case_id}/owner-{request_id}/{upload}.{extension}"


class _Hashing:
    """A file read through SHA-256 (the store reads it once; the digest is of exactly what it stored)."""

    def __init__(self, source: BinaryIO):
        self.source, self.digest = source, hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.digest.update(data)
        return data


class OwnerIntake:
    def __init__(self, db: Database, store: ClipStore, settings: HubSettings):
        self.db, self.store, self.settings = db, store, settings
        self.staging = Staging(settings.uploads_dir / OWNER_STAGING)

    @property
    def directory(self) -> Path:
        return self.staging.directory

    @staticmethod
    def new_upload_id(ticket: LinkTicket) -> str:
        return ticket.upload_prefix + secrets.token_hex(10)

    def _in_progress(self, ticket: LinkTicket) -> dict[str, int]:
        """The link's unfinished uploads and the lengths they declared."""
        found = {}
        for path in self.directory.glob(f"{ticket.upload_prefix}*.info") if self.directory.is_dir() else ():
            upload = path.name[:32]
            found[upload] = self.staging.declared_length(upload) or 0
        return found

    def check_creation(self, ticket: LinkTicket, metadata: dict, length: int | None) -> None:
        """A new file may start: it says its name and length, the length is within the per-file cap, and the
        link's files (stored and in progress) stay within the count and total caps."""
        settings = self.settings
        if not metadata.get("filename"):
            raise Refused("the upload must say its file name (Upload-Metadata filename)")
        if length is None:
            raise RegistrationError("the upload must declare its length (Upload-Length)", 411)
        if length <= 0:
            raise Refused("the file is empty")
        if length > settings.owner_upload_max_file_bytes:
            raise TooLarge(f"the file is {length} bytes; one file may be at most "
                           f"{settings.owner_upload_max_file_bytes} bytes")
        with self.db.session() as session:
            count, total = session.execute(select(func.count(), func.coalesce(func.sum(OwnerUpload.bytes), 0))
                                           .where(OwnerUpload.request_id == ticket.request_id)).one()
        pending = self._in_progress(ticket)
        if count + len(pending) >= settings.owner_upload_max_files:
            raise Refused(f"at most {settings.owner_upload_max_files} files can be uploaded through one link")
        if total + sum(pending.values()) + length > settings.owner_upload_max_total_bytes:
            raise TooLarge(f"the files of one link may be at most {settings.owner_upload_max_total_bytes} bytes "
                           "together")

    def room_for(self, upload: str, offset: int, length: int) -> None:
        """TooLarge if `length` bytes at `offset` would go past the length the upload declared."""
        declared = self.staging.declared_length(upload)
        if declared is not None and offset + length > declared:
            raise TooLarge(f"{offset + length} bytes would exceed the {declared} the upload declared")

    def complete(self, ticket: LinkTicket, upload: str, metadata: dict, source: str) -> OwnerUpload:
        """Probe, hash and store the finished upload, and record it; the staged copy is removed either way."""
        path = self.staging.data_path(upload)
        try:
            found = probe(path)
        except NotVideo as exc:
            self.staging.discard(upload)
            self._refused(ticket, str(exc), source)
            raise Refused(f"{str(exc)[:1].upper()}{str(exc)[1:]}. Only video files are taken.") from None
        filename = clean_filename(str(metadata.get("filename", "")))
        key = storage_key(ticket.case_id, ticket.request_id, upload, filename)
        try:
            with path.open("rb") as source_file:
                hashing = _Hashing(source_file)
                size = self.store.put(key, hashing)
        except ClipStoreError as exc:
            log.warning("clip store failed taking in owner upload %s", upload, exc_info=True)
            self.staging.restart(upload)
            raise RegistrationError(f"the hub could not store the file ({exc}); upload it again", 503) from None
        try:
            return self._record(ticket, upload, filename, key, hashing.digest.hexdigest(), size, found, source)
        except RegistrationError:
            self.store.delete(key)
            raise
        finally:
            self.staging.discard(upload)

    def _record(self, ticket: LinkTicket, upload: str, filename: str, key: str, sha256: str, size: int, found,
                source: str) -> OwnerUpload:
        with self.db.session() as session:
            request = session.get(OwnerRequest, ticket.request_id, with_for_update=True)
            if request.status != OPEN:
                raise LinkClosed(CLOSED_MESSAGES[request.status], request.status)
            row = OwnerUpload(request_id=request.id, case_id=request.case_id, upload_id=upload, filename=filename,
                              storage_key=key, sha256=sha256, bytes=size, container=found.container,
                              video_codec=found.video_codec, duration_s=found.duration_s, uploaded_at=utcnow())
            session.add(row)
            session.flush()
            audit.append(session, actor="registered-owner", action="footage.owner_upload",
                         outcome=audit.Outcome.SUCCESS, object=f"owner_request:{request.id}", source=source,
                         case_number=request.case_number, owner_request_id=request.id, owner_upload_id=row.id,
                         sha256=sha256, bytes=size, container=found.container, video_codec=found.video_codec)
            return row

    def _refused(self, ticket: LinkTicket, why: str, source: str) -> None:
        with self.db.session() as session:
            audit.append(session, actor="registered-owner", action="footage.owner_upload",
                         outcome=audit.Outcome.DENIED, object=f"owner_request:{ticket.request_id}", source=source,
                         case_number=ticket.case_number, owner_request_id=ticket.request_id, refused=why)

    def discard_link(self, prefix: str) -> None:
        """Remove the unfinished uploads of a link that closed."""
        for path in self.directory.glob(f"{prefix}*.info") if self.directory.is_dir() else ():
            self.staging.discard(path.name[:32])


def expire_links(requests: OwnerRequests, intake: OwnerIntake) -> int:
    """Expire the open links past their time (audited) and drop their unfinished uploads; how many expired."""
    prefixes = requests.expire_due()
    for prefix in prefixes:
        intake.discard_link(prefix)
    return len(prefixes)
