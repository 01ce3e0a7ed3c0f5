"""Where the hub keeps clips: one small interface (`ClipStore`), a local folder by default (`LocalClipStore`)
and an S3-compatible object store for a city (`hub.clips.s3`), chosen by `hub.clips.stores.clip_store_from`.

Keys are relative, slash-separated names (`cases/7/12/clip.mp4`); a key never climbs out of the store. `put`
is atomic: a reader sees the whole object or none of it.
"""

from __future__ import annotations

import abc
import io
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$")
CHUNK = 1024 * 1024


class ClipStoreError(RuntimeError):
    """The store failed (unreachable, refused, out of space)."""


class ClipNotFound(ClipStoreError, KeyError):
    """Nothing is stored under the key."""


class BadKey(ClipStoreError, ValueError):
    """A key that is not a plain relative name (empty, absolute, `..`, odd characters)."""


def check_key(key: str) -> str:
    if len(key) > 300 or not KEY.match(key) or ".." in key.split("/"):
        raise BadKey(f"not a clip store key: {key!r}")
    return key


class ClipStore(abc.ABC):
    """Objects by key. Every method blocks (disk or network): call them from a worker thread, never the loop."""

    @abc.abstractmethod
    def put(self, key: str, source: BinaryIO) -> int:
        """Store everything `source` reads (from where it stands) under `key`, replacing what was there;
        the number of bytes stored."""

    @abc.abstractmethod
    def open(self, key: str) -> BinaryIO:
        """The object for reading (ClipNotFound if there is none); the caller closes it."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object; nothing happens if there is none."""

    @abc.abstractmethod
    def exists(self, key: str) -> bool: ...

    def stream(self, key: str, chunk_size: int = CHUNK) -> Iterator[bytes]:
        """The object's bytes in chunks (ClipNotFound at once if there is none)."""
        source = self.open(key)
        return _chunks(source, chunk_size)

    def put_bytes(self, key: str, data: bytes) -> int:
        return self.put(key, io.BytesIO(data))


def _chunks(source: BinaryIO, chunk_size: int) -> Iterator[bytes]:
    with source:
        while chunk := source.read(chunk_size):
            yield chunk


class LocalClipStore(ClipStore):
    """Objects as files under `root` (written to a temporary file, synced, then renamed into place)."""

    def __init__(self, root: Path):
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, source: BinaryIO) -> int:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".put-")
        try:
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(source, out, CHUNK)
                size = out.tell()
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return size

    def open(self, key: str) -> BinaryIO:
        try:
            return self._path(key).open("rb")
        except FileNotFoundError:
            raise ClipNotFound(key) from None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()
