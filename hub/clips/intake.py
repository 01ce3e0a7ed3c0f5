"""Taking a clip in from its box: the signed manifest first, then the bytes (tus), then verification and the
clip store. Every method blocks (database, disk, store): the API calls them from worker threads.

1. `accept_manifest`: the manifest must be the ticket's box's (its certificate as the hub issued it, chained
   to the hub's CA, the signature good) and answer the ticket's request (device, camera, request id, actual
   window inside the approved one, size within `clip_max_bytes`). Refusals are audited.
2. `check_creation`: a tus upload may start only after that, for exactly the manifest's number of bytes.
3. `complete`: once every byte is in, the clip is verified against the manifest (`wire.evidence.verify_clip`,
   with the hub's CA) and stored with its manifest: under `cases/<case>/<request>/` when it verifies, under
   `quarantine/…` when it does not (kept apart, never evidence). `hub.clips.delivery` records the outcome.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from hub import audit
from hub.clips.delivery import Arrival, ClipKeys, record_arrival
from hub.clips.errors import ClipError, ManifestRefused, NotAllowed, StoreUnavailable, TooLarge, UploadConflict
from hub.clips.staging import Staging
from hub.clips.store import ClipStore, ClipStoreError
from hub.clips.tickets import Ticket, find_ticket, identity_problems, manifest_problems
from hub.db import Database
from wire.evidence import ManifestError, SignedManifest, file_sha256, parse_signed, verify_clip, verify_signed

log = logging.getLogger(__name__)

UPLOAD_METADATA = ("request_id", "filename", "filetype")


@dataclass(frozen=True)
class Staged:
    """The manifest is accepted: upload `clip_bytes` bytes; `resumes` if an upload of this clip is under way."""

    clip_bytes: int
    resumes: bool


class ClipIntake:
    def __init__(self, db: Database, store: ClipStore, staging: Staging, ca_pem: bytes, max_bytes: int):
        self.db, self.store, self.staging, self.ca_pem, self.max_bytes = db, store, staging, ca_pem, max_bytes

    def ticket(self, token: str) -> Ticket:
        with self.db.session() as session:
            return find_ticket(session, token)

    def _refuse(self, ticket: Ticket, error: ClipError, source: str, stage: str) -> ClipError:
        """Put the refusal on the record; the error, for the caller to raise."""
        with self.db.session() as session:
            audit.append(session, actor=ticket.actor, action="clip.upload", outcome=audit.Outcome.DENIED,
                         object=f"request:{ticket.request_id}", source=source, reason=str(error),
                         case_number=ticket.case_number, stage=stage)
        return error

    def _read(self, data: bytes) -> SignedManifest:
        try:
            return parse_signed(data)
        except ManifestError as exc:
            raise ManifestRefused(str(exc)) from None

    def accept_manifest(self, ticket: Ticket, data: bytes, source: str) -> Staged:
        """Check the box's signed manifest against the ticket and keep it for the upload that follows."""
        try:
            signed = self._read(data)
            manifest = signed.read()
            mine = verify_signed(signed, self.ca_pem, device_id=ticket.device_id) + identity_problems(manifest, ticket)
            if mine:
                raise NotAllowed(f"the manifest is not {ticket.device_id}'s: " + "; ".join(mine))
            problems = manifest_problems(manifest, ticket)
            if problems:
                raise ManifestRefused(f"the manifest does not answer request {ticket.request_id}: "
                                      + "; ".join(problems))
            if manifest.clip_bytes > self.max_bytes:
                raise TooLarge(f"the clip is {manifest.clip_bytes} bytes; the hub takes at most {self.max_bytes}")
        except ClipError as error:
            raise self._refuse(ticket, error, source, "manifest") from None
        return Staged(manifest.clip_bytes, self.staging.stage_manifest(ticket.upload_id, data))

    def check_creation(self, ticket: Ticket, metadata: dict, length: int | None) -> None:
        """A tus upload may start: after the manifest, naming the ticket's request, for exactly its bytes."""
        data = self.staging.manifest(ticket.upload_id)
        if data is None:
            raise UploadConflict(f"send the manifest first (PUT /api/uploads/{ticket.request_id}/manifest)")
        missing = [k for k in UPLOAD_METADATA if not metadata.get(k)]
        if missing:
            raise ClipError(f"the upload's metadata lacks {', '.join(missing)}")
        if metadata["request_id"] != str(ticket.request_id):
            raise NotAllowed(f"the upload token is for request {ticket.request_id}, not {metadata['request_id']}")
        expected = self._read(data).read().clip_bytes
        if length is None:
            raise ClipError("the upload must declare its length (Upload-Length)", status=411)
        if length > expected or length > self.max_bytes:
            raise TooLarge(f"the upload declares {length} bytes; the manifest says {expected}")
        if length < expected:
            raise ManifestRefused(f"the upload declares {length} bytes; the manifest says {expected}")
        self.staging.restart(ticket.upload_id)

    def complete(self, ticket: Ticket, source: str) -> Arrival:
        """Verify the complete upload against its manifest, store both, record the outcome; the arrival."""
        upload = ticket.upload_id
        data, path = self.staging.manifest(upload), self.staging.data_path(upload)
        if data is None:
            raise UploadConflict("the upload's manifest is gone (the upload was abandoned); upload again")
        signed = self._read(data)
        manifest = signed.read()
        problems = verify_clip(path, signed, self.ca_pem, device_id=ticket.device_id)
        problems += identity_problems(manifest, ticket) + manifest_problems(manifest, ticket)
        digest, size = (manifest.clip_sha256, manifest.clip_bytes) if not problems else file_sha256(path)
        keys = ClipKeys.of(ticket, upload, verified=not problems)
        self._store(keys, path, data, upload)
        try:
            with self.db.session() as session:
                arrival = record_arrival(session, ticket, signed, data, Arrival(digest, size, problems, keys), source)
        except ClipError:
            self._unstore(keys)
            self.staging.discard(upload)
            raise
        self.staging.discard(upload)
        return arrival

    def _store(self, keys: ClipKeys, path, manifest: bytes, upload: str) -> None:
        try:
            with path.open("rb") as clip:
                self.store.put(keys.clip, clip)
            self.store.put_bytes(keys.manifest, manifest)
        except ClipStoreError as exc:
            log.warning("clip store failed taking in upload %s", upload, exc_info=True)
            self._unstore(keys)
            self.staging.restart(upload)
            raise StoreUnavailable(f"the clip store failed ({exc}); upload the clip again") from None

    def _unstore(self, keys: ClipKeys) -> None:
        for key in (keys.clip, keys.manifest):
            try:
                self.store.delete(key)
            except ClipStoreError:
                log.warning("could not remove %s from the clip store", key, exc_info=True)
