"""HTTP byte ranges (RFC 9110 §14) over a representation of known size: what a GET with `Range` (and
`If-Range`) is answered with. Pure: `answer` takes the header values and returns the decision.

- One satisfiable range, `bytes=a-b`, `bytes=a-` or `bytes=-n` → 206 with that part (a `b` past the end is cut
  at the end, a suffix longer than the whole is the whole).
- One range that cannot be satisfied (it starts at or past the end, a zero-length suffix, anything of an
  empty representation) → 416 with `Content-Range: bytes */size`.
- Anything else → 200 with the whole (RFC 9110 §14.2 lets a server ignore `Range`): no header; a header that
  does not parse (never a 500); another unit; a first byte after the last; a number over 100 digits; **more than
  one range** (the hub sends no multipart/byteranges: a video element asks for one range at a time, and
  ignoring the rest leaves nothing to abuse with many small or overlapping ranges); an `If-Range` that is not
  the representation's strong ETag (§13.1.5: the client's partial copy is of something else).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: OWS and the list rule (RFC 9110 §5.6.1): elements separated by commas, empty ones allowed and skipped.
_OWS = " \t"
_SPEC = re.compile(r"([0-9]*)-([0-9]*)")  # DIGIT is ASCII only
MAX_DIGITS = 100


@dataclass(frozen=True)
class Whole:
    """The whole representation (200)."""

    size: int
    status = 200

    def headers(self) -> dict[str, str]:
        return {"Content-Length": str(self.size), "Accept-Ranges": "bytes"}


@dataclass(frozen=True)
class Part:
    """Bytes `first` to `last` (both included) of `size` (206)."""

    first: int
    last: int
    size: int
    status = 206

    @property
    def length(self) -> int:
        return self.last - self.first + 1

    def headers(self) -> dict[str, str]:
        return {"Content-Length": str(self.length), "Accept-Ranges": "bytes",
                "Content-Range": f"bytes {self.first}-{self.last}/{self.size}"}


@dataclass(frozen=True)
class Unsatisfiable:
    """A single range with no byte in the representation (416)."""

    size: int
    status = 416

    def headers(self) -> dict[str, str]:
        return {"Accept-Ranges": "bytes", "Content-Range": f"bytes */{self.size}"}


Answer = Whole | Part | Unsatisfiable


def answer(range_header: str | None, *, size: int, if_range: str | None = None, etag: str | None = None) -> Answer:
    """How to answer a GET of a `size`-byte representation whose strong ETag is `etag`, given the request's
    `Range` and `If-Range` values (None: absent)."""
    whole = Whole(size)
    if range_header is None or (if_range is not None and (etag is None or if_range.strip(_OWS) != etag)):
        return whole
    unit, equals, ranges = range_header.strip(_OWS).partition("=")
    if not equals or unit.lower() != "bytes":
        return whole
    specs = [spec.strip(_OWS) for spec in ranges.split(",")]
    specs = [spec for spec in specs if spec]
    if len(specs) != 1:
        return whole
    return _one(specs[0], size) or whole


def _one(spec: str, size: int) -> Part | Unsatisfiable | None:
    """The answer to one range-spec; None if it does not parse."""
    match = _SPEC.fullmatch(spec)
    if match is None or not any(match.groups()) or any(len(g) > MAX_DIGITS for g in match.groups()):
        return None
    first_text, last_text = match.groups()
    if not first_text:  # suffix-range: the last n bytes
        n = int(last_text)
        return Part(max(0, size - n), size - 1, size) if n > 0 and size > 0 else Unsatisfiable(size)
    first = int(first_text)
    last = int(last_text) if last_text else None
    if last is not None and last < first:
        return None
    if first >= size:
        return Unsatisfiable(size)
    return Part(first, size - 1 if last is None else min(last, size - 1), size)
