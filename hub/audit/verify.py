"""`canvass-audit verify EXPORT`: check an audit export offline, with nothing but the file.

Checks, in order: the entries are numbered 0, 1, 2, … with none missing or
moved; each entry's leaf hash is SHA-256(0x00 ‖ entry) and the entry names its
own index; every checkpoint is signed by the export's key for its origin; the
tree recomputed from the entries has each checkpoint's root at its size (so
consecutive checkpoints are consistent and no checkpoint covers entries the
export lacks). Prints a verdict and the first problem; exits 0 only if
everything verifies.

A ranged export (`canvass-hub audit export --from --to`) starts at its first
entry's index, and instead of the entries outside the range carries the hashes
of the subtrees that cover them; its one checkpoint's root must be rebuilt from
those hashes and the range's leaves. Its first entry must be logged before
`since` (a fence) unless it is entry 0, its last at or after `until` unless it
is the newest, so no entry at either edge can be left out unnoticed.

Pin the hub's key with `--public-key` (base64), as an auditor should: the key
in the export only proves the export is self-consistent.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError

from wire import audit as wa
from wire import checkpoint as cp
from wire import merkle

FORMAT = wa.EXPORT_FORMAT


@dataclass
class Verdict:
    ok: bool
    entries: int
    checkpoints: int
    problem: str = ""
    first_bad_index: int | None = None
    scope: str = ""


class Problem(Exception):
    """What is wrong with the export; `index` is the first entry it concerns, if any."""

    def __init__(self, text: str, index: int | None = None):
        super().__init__(text)
        self.text, self.index = text, index


def _read_header(line: str | None, pinned_key: bytes | None) -> tuple[wa.ExportHeader, Ed25519PublicKey]:
    try:
        raw = json.loads(line) if line is not None else None
    except ValueError:
        raw = None
    if raw is None:
        raise Problem("not an audit export: no header line")
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise Problem(f"unknown export format {raw.get('format') if isinstance(raw, dict) else None!r}")
    try:
        header = wa.ExportHeader.model_validate(raw)
    except ValidationError as exc:
        if exc.errors()[0]["loc"][0] == "range":
            raise Problem("the export's range is malformed") from None
        raise Problem("the export's header is malformed: the public key, origin or key name is missing") from None
    try:
        raw_key = base64.b64decode(header.public_key, validate=True)
        key = Ed25519PublicKey.from_public_bytes(raw_key)
    except ValueError:
        raise Problem("the export's public key is missing or malformed") from None
    if pinned_key is not None and raw_key != pinned_key:
        raise Problem("the export is signed with a different key than the one given")
    span = header.range
    if span is not None and not 0 <= span.first <= span.end <= span.size:
        raise Problem(f"the export's range {span.first}..{span.end} of {span.size} is impossible")
    return header, key


def _blocks(record: object, start: int, end: int) -> dict[tuple[int, int], bytes] | None:
    """The subtree hashes covering [start, end) from a "left"/"right" record, or None if they are not exactly those."""
    expected = merkle.aligned_blocks(start, end)
    try:
        given = [(int(level), int(index), bytes.fromhex(digest)) for level, index, digest in record]
    except (TypeError, ValueError):
        return None
    if [(level, index) for level, index, _ in given] != expected or any(len(d) != 32 for _, _, d in given):
        return None
    return {(level, index): digest for level, index, digest in given}


@dataclass
class ExportReader:
    """Reads an export's records after the header, line by line, raising `Problem` at the first that is wrong."""

    header: wa.ExportHeader
    leaves: list[bytes] = field(default_factory=list)
    leaves_at: list[str] = field(default_factory=list)  # a ranged export's entry times, for its fences
    notes: list[str] = field(default_factory=list)
    outside: dict[tuple[int, int], bytes] = field(default_factory=dict)
    left: bool = False
    right: bool = False

    @property
    def span(self) -> wa.ExportRange | None:
        return self.header.range

    @property
    def expected(self) -> int:
        """The index the next entry must have."""
        return (self.span.first if self.span else 0) + len(self.leaves)

    def take(self, number: int, line: str) -> None:
        try:
            record = json.loads(line)
        except ValueError:
            raise Problem(f"line {number} is not JSON", self.expected) from None
        if not isinstance(record, dict):
            raise Problem(f"line {number} is not a record", self.expected)
        if "checkpoint" in record:
            try:
                self.notes.append(wa.ExportedCheckpoint.model_validate(record).checkpoint)
            except ValidationError:
                raise Problem(f"line {number} is not a checkpoint record: a signed note is a string") from None
        elif self.span is not None and ("left" in record or "right" in record):
            self._take_blocks(number, "left" if "left" in record else "right", record)
        else:
            self._take_entry(number, record)

    def _take_blocks(self, number: int, side: str, record: dict) -> None:
        span = self.span
        if (side == "left" and (self.left or self.leaves)) or (side == "right" and (self.right or not self.left)) \
                or self.notes:
            raise Problem(f"the {side} hashes are out of place (line {number})")
        expected = self.expected
        if side == "right" and expected != span.end:
            what = "missing" if expected < span.end else "extra"
            raise Problem(f"the range ends at entry {span.end - 1} but entries {min(expected, span.end)}.."
                          f"{max(expected, span.end) - 1} are {what}", min(expected, span.end))
        blocks = _blocks(record[side], 0, span.first) if side == "left" else _blocks(record[side], span.end, span.size)
        if blocks is None:
            raise Problem(f"the {side} hashes do not cover the entries outside the range exactly")
        self.outside.update(blocks)
        self.left, self.right = self.left or side == "left", self.right or side == "right"

    def _take_entry(self, number: int, record: dict) -> None:
        expected = self.expected
        index, text, stored = record.get("index"), record.get("entry"), record.get("leaf_hash")
        if self.notes or self.right:
            raise Problem(f"entry after the checkpoints (line {number})", expected)
        if self.span is not None and not self.left:
            raise Problem("a ranged export must give the hashes left of its range first")
        if index != expected:
            what = "missing" if isinstance(index, int) and index > expected else "out of order"
            raise Problem(f"entry {expected} is {what} (line {number} holds entry {index})", expected)
        if not isinstance(text, str):
            raise Problem(f"entry {expected} has no text", expected)
        leaf = merkle.leaf_hash(text.encode())
        if stored != leaf.hex():
            raise Problem(f"entry {expected} does not match its leaf hash: it was edited after it was logged", expected)
        try:
            entry = wa.AuditEntry.parse(text)
        except wa.AuditFormatError as exc:
            raise Problem(f"entry {expected} is not an audit entry ({exc}): entries were moved or forged",
                          expected) from None
        if entry.index != expected:
            raise Problem(f"entry {expected} says it is entry {entry.index}: entries were moved", expected)
        self.leaves.append(leaf)
        if self.span is not None:
            self.leaves_at.append(entry.at.isoformat())


def verify_lines(lines, pinned_key: bytes | None = None) -> Verdict:
    lines = iter(lines)
    try:
        header, key = _read_header(next(lines, None), pinned_key)
    except Problem as problem:
        return Verdict(False, 0, 0, problem.text, problem.index)
    reader = ExportReader(header)
    try:
        for number, line in enumerate(lines, start=2):
            reader.take(number, line)
        return _conclude(reader, key)
    except Problem as problem:
        return Verdict(False, len(reader.leaves), len(reader.notes), problem.text, problem.index)


def _conclude(reader: ExportReader, key: Ed25519PublicKey) -> Verdict:
    """The verdict once every line is read: the checkpoints against the entries (and, ranged, the fences)."""
    header, span, count = reader.header, reader.span, len(reader.leaves)
    if span is not None and not reader.right:
        raise Problem("a ranged export must end with the hashes right of its range")
    if not reader.notes:
        raise Problem("no signed checkpoint: nothing vouches for these entries")
    if span is None:
        _check_whole(reader.notes, key, header, reader.leaves)
        return Verdict(True, count, len(reader.notes))
    fences = _check_fences(reader.leaves_at, span.first, span.end, span.size, span.since, span.until)
    if fences is not None:
        raise Problem(fences, span.first)
    _check_ranged(reader.notes, key, header, reader.outside, reader.leaves, span.first, span.size)
    scope = f" (entries {span.first}..{span.first + count - 1} of a log of {span.size})" if count else \
        f" (an empty range of a log of {span.size})"
    return Verdict(True, count, len(reader.notes), scope=scope)


def _checkpoint(note: str, key: Ed25519PublicKey, header: wa.ExportHeader) -> cp.Checkpoint:
    try:
        return cp.verify(note, key, header.key_name, origin=header.origin)
    except cp.CheckpointError as exc:
        raise Problem(f"checkpoint rejected: {exc}") from None


def _check_whole(notes: list[str], key: Ed25519PublicKey, header: wa.ExportHeader, leaves: list[bytes]) -> None:
    """A whole export: every checkpoint signs the root of the entries up to its size, sizes never shrink, and
    the last covers every entry."""
    count, tree, last_size = len(leaves), merkle.MemoryTree(leaves), -1
    for note in notes:
        checkpoint = _checkpoint(note, key, header)
        if checkpoint.size < last_size:
            raise Problem(f"checkpoints shrink from {last_size} to {checkpoint.size} entries")
        if checkpoint.size > count:
            raise Problem(f"a signed checkpoint covers {checkpoint.size} entries but the export has {count}: "
                          "entries were deleted", count)
        if merkle.root(tree, checkpoint.size) != checkpoint.root:
            start = max(last_size, 0)
            raise Problem(f"the entries do not hash to the signed root at size {checkpoint.size}: an entry between "
                          f"{start} and {checkpoint.size - 1} was changed", start)
        last_size = checkpoint.size
    if last_size != count:
        raise Problem(f"entries {last_size}..{count - 1} are not covered by a signed checkpoint", last_size)


def _moment(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def _check_fences(times: list[str], first: int, end: int, size: int, since: str | None,
                  until: str | None) -> str | None:
    """A problem with the entries at the range's edges, or None. Entries are logged in time order."""
    start, stop = _moment(since), _moment(until)
    if (since and start is None) or (until and stop is None):
        return "the export's range has an unreadable time"
    if start is not None and first > 0:
        at = _moment(times[0]) if times else None
        if at is None or at >= start:
            return f"entry {first} should be the last one before {since} but is not: an entry at the start " \
                   "of the range may be missing"
    if stop is not None and end < size:
        at = _moment(times[-1]) if times else None
        if at is None or at < stop:
            return f"entry {end - 1} should be the first one at or after {until} but is not: an entry at the " \
                   "end of the range may be missing"
    return None


def _check_ranged(notes: list[str], key: Ed25519PublicKey, header: wa.ExportHeader,
                  outside: dict[tuple[int, int], bytes], leaves: list[bytes], first: int, size: int) -> None:
    """A ranged export: its leaves and the outside hashes must rebuild the root its checkpoint signs."""
    count = len(leaves)
    nodes = dict(outside)
    nodes.update(((0, first + k), leaf) for k, leaf in enumerate(leaves))
    tree = merkle.PartialTree(size, nodes)
    for note in notes:
        checkpoint = _checkpoint(note, key, header)
        if checkpoint.size != size:
            raise Problem(f"a ranged export's checkpoint must sign the log at {size} entries, not {checkpoint.size}")
        if merkle.root(tree) != checkpoint.root:
            raise Problem(f"the entries {first}..{first + count - 1} and the hashes around them do not rebuild the "
                          f"signed root at size {size}: something was changed", first)


def verify_file(path: Path, pinned_key: bytes | None = None) -> Verdict:
    with open(path, encoding="utf-8") as f:
        return verify_lines(f, pinned_key)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="canvass-audit", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_verify = sub.add_parser("verify", help="verify an audit export offline")
    p_verify.add_argument("export", type=Path)
    p_verify.add_argument("--public-key", default=None, help="the hub's audit key (base64), to pin")
    args = parser.parse_args(argv)
    pinned = base64.b64decode(args.public_key) if args.public_key else None
    try:
        verdict = verify_file(args.export, pinned)
    except OSError as exc:
        print(f"canvass-audit: cannot read {args.export}: {exc.strerror}", file=sys.stderr)
        return 2
    if verdict.ok:
        print(f"VERIFIED: {verdict.entries} entries{verdict.scope}, {verdict.checkpoints} signed checkpoints, "
              "all consistent")
        return 0
    print(f"FAILED: {verdict.problem}", file=sys.stderr)
    if verdict.first_bad_index is not None:
        print(f"first bad entry: {verdict.first_bad_index}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
