"""`canvass-audit verify EXPORT`: check an audit export offline, with nothing but the file.

Checks, in order: the entries are numbered 0, 1, 2, … with none missing or
moved; each entry's leaf hash is SHA-256(0x00 ‖ entry) and the entry names its
own index; every checkpoint is signed by the export's key for its origin; the
tree recomputed from the entries has each checkpoint's root at its size (so
consecutive checkpoints are consistent and no checkpoint covers entries the
export lacks). Prints a verdict and the first problem; exits 0 only if
everything verifies.

Pin the hub's key with `--public-key` (base64), as an auditor should: the key
in the export only proves the export is self-consistent.
"""

from __future__ import annotations

import argparse
import base64
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


def verify_lines(lines, pinned_key: bytes | None = None) -> Verdict:
    tree = merkle.MemoryTree()
    notes: list[str] = []
    lines = iter(lines)
    try:
        header = json.loads(next(lines))
    except (StopIteration, ValueError):
        return Verdict(False, 0, 0, "not an audit export: no header line")
    if header.get("format") != FORMAT:
        return Verdict(False, 0, 0, f"unknown export format {header.get('format')!r}")
    origin, key_name = header.get("origin", ""), header.get("key_name", "")
    try:
        raw_key = base64.b64decode(header["public_key"], validate=True)
        key = Ed25519PublicKey.from_public_bytes(raw_key)
    except (KeyError, ValueError):
        return Verdict(False, 0, 0, "the export's public key is missing or malformed")
    if pinned_key is not None and raw_key != pinned_key:
        return Verdict(False, 0, 0, "the export is signed with a different key than the one given")

    for number, line in enumerate(lines, start=2):
        try:
            record = json.loads(line)
        except ValueError:
            return Verdict(False, tree.size(), len(notes), f"line {number} is not JSON", tree.size())
        if "checkpoint" in record:
            notes.append(record["checkpoint"])
            continue
        expected = tree.size()
        index, entry, stored = record.get("index"), record.get("entry"), record.get("leaf_hash")
        if notes:
            return Verdict(False, expected, len(notes), f"entry after the checkpoints (line {number})", expected)
        if index != expected:
            what = "missing" if isinstance(index, int) and index > expected else "out of order"
            return Verdict(False, expected, len(notes), f"entry {expected} is {what} (line {number} holds "
                           f"entry {index})", expected)
        if not isinstance(entry, str):
            return Verdict(False, expected, len(notes), f"entry {expected} has no text", expected)
        leaf = merkle.leaf_hash(entry.encode())
        if stored != leaf.hex():
            return Verdict(False, expected, len(notes), f"entry {expected} does not match its leaf hash: it was "
                           "edited after it was logged", expected)
        try:
            named = json.loads(entry).get("index")
        except (ValueError, AttributeError):
            named = None
        if named != expected:
            return Verdict(False, expected, len(notes), f"entry {expected} says it is entry {named}: entries were "
                           "moved", expected)
        tree.append(leaf)

    if not notes:
        return Verdict(False, tree.size(), 0, "no signed checkpoint: nothing vouches for these entries")
    last_size = -1
    for note in notes:
        try:
            checkpoint = cp.verify(note, key, key_name, origin=origin)
        except cp.CheckpointError as exc:
            return Verdict(False, tree.size(), len(notes), f"checkpoint rejected: {exc}")
        if checkpoint.size < last_size:
            return Verdict(False, tree.size(), len(notes), f"checkpoints shrink from {last_size} to "
                           f"{checkpoint.size} entries")
        if checkpoint.size > tree.size():
            return Verdict(False, tree.size(), len(notes), f"a signed checkpoint covers {checkpoint.size} entries "
                           f"but the export has {tree.size()}: entries were deleted", tree.size())
        if merkle.root(tree, checkpoint.size) != checkpoint.root:
            start = max(last_size, 0)
            return Verdict(False, tree.size(), len(notes), f"the entries do not hash to the signed root at size "
                           f"{checkpoint.size}: an entry between {start} and {checkpoint.size - 1} was changed",
                           start)
        last_size = checkpoint.size
    if last_size != tree.size():
        return Verdict(False, tree.size(), len(notes), f"entries {last_size}..{tree.size() - 1} are not covered "
                       "by a signed checkpoint", last_size)
    return Verdict(True, tree.size(), len(notes))


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
        print(f"VERIFIED: {verdict.entries} entries, {verdict.checkpoints} signed checkpoints, all consistent")
        return 0
    print(f"FAILED: {verdict.problem}", file=sys.stderr)
    if verdict.first_bad_index is not None:
        print(f"first bad entry: {verdict.first_bad_index}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
