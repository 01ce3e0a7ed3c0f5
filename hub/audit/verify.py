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
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from wire import checkpoint as cp
from wire import merkle

FORMAT = "canvass-audit-export/1"


@dataclass
class Verdict:
    ok: bool
    entries: int
    checkpoints: int
    problem: str = ""
    first_bad_index: int | None = None
    scope: str = ""


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


def verify_lines(lines, pinned_key: bytes | None = None) -> Verdict:
    lines = iter(lines)
    try:
        header = json.loads(next(lines))
    except (StopIteration, ValueError):
        return Verdict(False, 0, 0, "not an audit export: no header line")
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        return Verdict(False, 0, 0, f"unknown export format {header.get('format') if isinstance(header, dict) else None!r}")
    origin, key_name = header.get("origin", ""), header.get("key_name", "")
    try:
        raw_key = base64.b64decode(header["public_key"], validate=True)
        key = Ed25519PublicKey.from_public_bytes(raw_key)
    except (KeyError, ValueError, TypeError):
        return Verdict(False, 0, 0, "the export's public key is missing or malformed")
    if pinned_key is not None and raw_key != pinned_key:
        return Verdict(False, 0, 0, "the export is signed with a different key than the one given")
    span = header.get("range")
    if span is not None:
        try:
            first, end, size = (int(span[k]) for k in ("first", "end", "size"))
        except (TypeError, KeyError, ValueError):
            return Verdict(False, 0, 0, "the export's range is malformed")
        if not 0 <= first <= end <= size:
            return Verdict(False, 0, 0, f"the export's range {first}..{end} of {size} is impossible")
        since, until = span.get("since"), span.get("until")
    else:
        first = end = size = 0

    leaves: list[bytes] = []
    leaves_at: list[str] = []  # a ranged export's entry times, for its fences
    notes: list[str] = []
    outside: dict[tuple[int, int], bytes] = {}
    left = right = False
    for number, line in enumerate(lines, start=2):
        expected = first + len(leaves)
        try:
            record = json.loads(line)
        except ValueError:
            return Verdict(False, len(leaves), len(notes), f"line {number} is not JSON", expected)
        if not isinstance(record, dict):
            return Verdict(False, len(leaves), len(notes), f"line {number} is not a record", expected)
        if "checkpoint" in record:
            notes.append(record["checkpoint"])
            continue
        if span is not None and ("left" in record or "right" in record):
            side = "left" if "left" in record else "right"
            if (side == "left" and (left or leaves)) or (side == "right" and (right or not left)) or notes:
                return Verdict(False, len(leaves), len(notes), f"the {side} hashes are out of place (line {number})")
            if side == "right" and expected != end:
                what = "missing" if expected < end else "extra"
                return Verdict(False, len(leaves), len(notes), f"the range ends at entry {end - 1} but entries "
                               f"{min(expected, end)}..{max(expected, end) - 1} are {what}", min(expected, end))
            blocks = _blocks(record[side], 0, first) if side == "left" else _blocks(record[side], end, size)
            if blocks is None:
                return Verdict(False, len(leaves), len(notes), f"the {side} hashes do not cover the entries outside "
                               "the range exactly")
            outside.update(blocks)
            left, right = left or side == "left", right or side == "right"
            continue
        index, entry, stored = record.get("index"), record.get("entry"), record.get("leaf_hash")
        if notes or right:
            return Verdict(False, len(leaves), len(notes), f"entry after the checkpoints (line {number})", expected)
        if span is not None and not left:
            return Verdict(False, 0, 0, "a ranged export must give the hashes left of its range first")
        if index != expected:
            what = "missing" if isinstance(index, int) and index > expected else "out of order"
            return Verdict(False, len(leaves), len(notes), f"entry {expected} is {what} (line {number} holds "
                           f"entry {index})", expected)
        if not isinstance(entry, str):
            return Verdict(False, len(leaves), len(notes), f"entry {expected} has no text", expected)
        leaf = merkle.leaf_hash(entry.encode())
        if stored != leaf.hex():
            return Verdict(False, len(leaves), len(notes), f"entry {expected} does not match its leaf hash: it was "
                           "edited after it was logged", expected)
        try:
            fields = json.loads(entry)
            named = fields.get("index")
        except (ValueError, AttributeError):
            fields, named = {}, None
        if named != expected:
            return Verdict(False, len(leaves), len(notes), f"entry {expected} says it is entry {named}: entries "
                           "were moved", expected)
        leaves.append(leaf)
        if span is not None:
            leaves_at.append(str(fields.get("at", "")))

    count = len(leaves)
    if span is not None and not right:
        return Verdict(False, count, len(notes), "a ranged export must end with the hashes right of its range")
    if not notes:
        return Verdict(False, count, 0, "no signed checkpoint: nothing vouches for these entries")
    if span is not None:
        fences = _check_fences(leaves_at, first, end, size, since, until)
        if fences is not None:
            return Verdict(False, count, len(notes), fences, first)
        verdict = _check_ranged(notes, key, key_name, origin, outside, leaves, first, size)
        verdict.scope = f" (entries {first}..{first + count - 1} of a log of {size})" if count else \
            f" (an empty range of a log of {size})"
        return verdict
    tree = merkle.MemoryTree(leaves)
    last_size = -1
    for note in notes:
        try:
            checkpoint = cp.verify(note, key, key_name, origin=origin)
        except cp.CheckpointError as exc:
            return Verdict(False, count, len(notes), f"checkpoint rejected: {exc}")
        if checkpoint.size < last_size:
            return Verdict(False, count, len(notes), f"checkpoints shrink from {last_size} to "
                           f"{checkpoint.size} entries")
        if checkpoint.size > count:
            return Verdict(False, count, len(notes), f"a signed checkpoint covers {checkpoint.size} entries "
                           f"but the export has {count}: entries were deleted", count)
        if merkle.root(tree, checkpoint.size) != checkpoint.root:
            start = max(last_size, 0)
            return Verdict(False, count, len(notes), f"the entries do not hash to the signed root at size "
                           f"{checkpoint.size}: an entry between {start} and {checkpoint.size - 1} was changed",
                           start)
        last_size = checkpoint.size
    if last_size != count:
        return Verdict(False, count, len(notes), f"entries {last_size}..{count - 1} are not covered "
                       "by a signed checkpoint", last_size)
    return Verdict(True, count, len(notes))


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


def _check_ranged(notes, key, key_name, origin, outside, leaves, first, size) -> Verdict:
    """A ranged export: its leaves and the outside hashes must rebuild the root its checkpoint signs."""
    count = len(leaves)
    nodes = dict(outside)
    nodes.update(((0, first + k), leaf) for k, leaf in enumerate(leaves))
    tree = merkle.PartialTree(size, nodes)
    for note in notes:
        try:
            checkpoint = cp.verify(note, key, key_name, origin=origin)
        except cp.CheckpointError as exc:
            return Verdict(False, count, len(notes), f"checkpoint rejected: {exc}")
        if checkpoint.size != size:
            return Verdict(False, count, len(notes), f"a ranged export's checkpoint must sign the log at {size} "
                           f"entries, not {checkpoint.size}")
        if merkle.root(tree) != checkpoint.root:
            return Verdict(False, count, len(notes), f"the entries {first}..{first + count - 1} and the hashes "
                           f"around them do not rebuild the signed root at size {size}: something was changed",
                           first)
    return Verdict(True, count, len(notes))


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
