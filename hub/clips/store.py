"""Where the hub keeps clips: one small interface (`ClipStore`), a local folder by default (`LocalClipStore`)
and an S3-compatible object store for a city (`hub.clips.s3`), chosen by `hub.clips.stores.clip_store_from`.

Keys are relative, slash-separated names (`cases/7/12/clip.mp4`); a key never climbs out of the store. `put`
is atomic: a reader sees the whole object or none of it. `open_range` reads part of an object (HTTP byte ranges,
so a browser can seek in a clip) without reading what comes before it.
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


class BadRange(ClipStoreError, ValueError):
    """A byte range that is empty, negative, or starts at or past the object's end."""


def check_range(first: int, last: int) -> None:
    if first < 0 or last < first:
        raise BadRange(f"not a byte range: {first}-{last}")


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
    def open_range(self, key: str, first: int, last: int) -> BinaryIO:
        """Bytes `first` to `last` (both included, as in HTTP) of the object for reading; a range past the end is
        cut at the end. ClipNotFound if there is no object, BadRange if the range starts at or past its end."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object; nothing happens if there is none."""

    @abc.abstractmethod
    def exists(self, key: str) -> bool: ...

    def stream(self, key: str, chunk_size: int = CHUNK) -> Iterator[bytes]:
        """The object's bytes in chunks (ClipNotFound at once if there is none)."""
        source = self.open(key)
        return read_chunks(source, chunk_size)

    def stream_range(self, key: str, first: int, last: int, chunk_size: int = CHUNK) -> Iterator[bytes]:
        """Bytes `first` to `last` (both included) in chunks; ClipNotFound or BadRange at once."""
        return read_chunks(self.open_range(key, first, last), chunk_size)

    def put_bytes(self, key: str, data: bytes) -> int:
        return self.put(key, io.BytesIO(data))


def read_chunks(source: BinaryIO, chunk_size: int = CHUNK) -> Iterator[bytes]:
    """What `source` reads, in chunks; `source` is closed at the end (or when the iterator is closed)."""
    with source:
        while chunk := source.read(chunk_size):
            yield chunk


class _Bounded(io.RawIOBase):
    """At most `remaining` bytes of `source` (a file already at the range's start); closing it closes the file."""

    def __init__(self, source: BinaryIO, remaining: int):
        self.source, self.remaining = source, remaining

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = self.remaining if size is None or size < 0 else min(size, self.remaining)
        data = self.source.read(size) if size else b""
        self.remaining -= len(data)
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        self.source.close()
        super().close()


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

    def open_range(self, key: str, first: int, last: int) -> BinaryIO:
        check_range(first, last)
        source = self.open(key)
        size = os.fstat(source.fileno()).st_size
        if first >= size:
            source.close()
            raise BadRange(f"{key} has {size} bytes; a range from byte {first} is past its end")
        source.seek(first)
        return _Bounded(source, min(last, size - 1) - first + 1)

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()
