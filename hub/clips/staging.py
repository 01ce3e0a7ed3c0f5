"""Clip uploads in progress at the hub: the folder tuspyserver writes them to, and the box's signed manifest
kept beside each one until the upload completes.

    <dir>/<upload id>                 the bytes received so far (tuspyserver's local storage)
    <dir>/<upload id>.info            tuspyserver's record of the upload (declared length, offset, metadata)
    <dir>/<upload id>.manifest.json   the signed manifest the box sent first (exactly its bytes)

An upload's id is derived from its upload token's hash (`upload_id`), so one token has one upload and the id
says nothing about the request. Everything here blocks on the disk: call it from a worker thread.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from pathlib import Path

log = logging.getLogger(__name__)

UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
MANIFEST_SUFFIX = ".manifest.json"


def upload_id(token_hash: str) -> str:
    """The id of the one upload a token may make (32 hex digits, as tuspyserver names uploads)."""
    return hashlib.sha256(b"canvass-clip-upload\n" + token_hash.encode()).hexdigest()[:32]


class Staging:
    def __init__(self, directory: Path):
        self.directory = directory

    def data_path(self, upload: str) -> Path:
        return self.directory / upload

    def _info_path(self, upload: str) -> Path:
        return self.directory / f"{upload}.info"

    def _manifest_path(self, upload: str) -> Path:
        return self.directory / f"{upload}{MANIFEST_SUFFIX}"

    def stage_manifest(self, upload: str, data: bytes) -> bool:
        """Keep `data` as the upload's manifest; a different manifest than before discards the bytes received
        for the old one (a new clip starts from zero), and so does an upload that is already complete (the hub
        stopped before it took it in). True if an upload in progress continues."""
        path = self._manifest_path(upload)
        continues = path.exists() and path.read_bytes() == data and not self._complete(upload)
        if not continues:
            self.discard(upload)
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        return continues and self.data_path(upload).exists()

    def manifest(self, upload: str) -> bytes | None:
        try:
            return self._manifest_path(upload).read_bytes()
        except FileNotFoundError:
            return None

    def _info(self, upload: str) -> dict:
        try:
            return json.loads(self._info_path(upload).read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {}

    def declared_length(self, upload: str) -> int | None:
        """The length the upload declared when it was created (None if it was not)."""
        size = self._info(upload).get("size")
        return size if isinstance(size, int) else None

    def _complete(self, upload: str) -> bool:
        info = self._info(upload)
        return isinstance(info.get("size"), int) and info.get("offset") == info["size"]

    def restart(self, upload: str) -> None:
        """Drop the bytes received so far (and tuspyserver's record), keeping the manifest: a new upload of the
        same clip begins."""
        for path in (self.data_path(upload), self._info_path(upload)):
            path.unlink(missing_ok=True)

    def discard(self, upload: str) -> None:
        """Remove everything of the upload (bytes, tuspyserver's record, manifest)."""
        for path in (self.data_path(upload), self._info_path(upload), self._manifest_path(upload)):
            path.unlink(missing_ok=True)

    def sweep(self, older_than_s: float, now: float | None = None) -> list[str]:
        """Discard every upload nothing has touched for `older_than_s` seconds; the ids discarded."""
        now = time.time() if now is None else now
        newest: dict[str, float] = {}
        for path in self.directory.glob("*") if self.directory.is_dir() else ():
            upload = path.name[:32]
            if UPLOAD_ID.match(upload) and path.is_file():
                newest[upload] = max(newest.get(upload, 0.0), path.stat().st_mtime)
        stale = sorted(u for u, moment in newest.items() if now - moment > older_than_s)
        for upload in stale:
            self.discard(upload)
        if stale:
            log.info("discarded %d abandoned clip upload(s)", len(stale))
        return stale
