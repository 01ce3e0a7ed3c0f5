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
those hashes and the range's leaves. Its range claim (first, end, size, since,
until, root) must carry the hub's signature, and every entry's time must agree
with it: the first entry logged before `since` (a fence) unless it is entry 0,
the last at or after `until` unless it is the newest, every other one in
[since, until). So no entry at either edge can be left out unnoticed, and the
verdict names the period it proves. `--from`/`--to` require that period to
cover the one the auditor asked for.

An export cannot show that it is the newest: a truncated one is a complete
older one. `--checkpoint FILE` (a signed note of this log known from
elsewhere, such as an appliance's witnessed checkpoint or a published one, or
JSON holding it as "note") and `--min-size N` make it fail when it covers
fewer entries than that, or contradicts that checkpoint.

Pin the hub's key with `--public-key` (base64), as an auditor should: the key
in the export only proves the export is self-consistent.

`canvass-audit verify-clip CLIP MANIFEST [--ca CA_CERT]` checks an evidence clip
against the manifest its box signed (`wire.clip_check`, `wire.evidence`).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import datetime as dt
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError

from hub.audit import bundle
from wire import audit as wa
from wire import checkpoint as cp
from wire import merkle
from wire.clip_check import UnreadableFile, check_clip_files, verdict_lines

FORMAT = wa.EXPORT_FORMAT


@dataclass(frozen=True)
class Expected:
    """What the auditor knows from elsewhere or asks for; the export must live up to each one given."""

    checkpoint: str | None = None  # a signed note of this log (a witness's, a published one)
    min_size: int | None = None  # the log is known to have at least this many entries
    since: dt.datetime | None = None  # every entry logged from here …
    until: dt.datetime | None = None  # … until here must be proven


@dataclass
class Verdict:
    ok: bool
    entries: int
    checkpoints: int
    problem: str = ""
    first_bad_index: int | None = None
    scope: str = ""  # a ranged export: which entries, and the period they are proven complete for
    known: str = ""  # what else was checked: a known checkpoint, a minimum size, the period asked for


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
    times: list[dt.datetime] = field(default_factory=list)  # a ranged export's entry times, for its claim
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
            self.times.append(entry.at)


def verify_lines(lines, pinned_key: bytes | None = None, expected: Expected = Expected()) -> Verdict:
    lines = iter(lines)
    try:
        header, key = _read_header(next(lines, None), pinned_key)
    except Problem as problem:
        return Verdict(False, 0, 0, problem.text, problem.index)
    reader = ExportReader(header)
    try:
        for number, line in enumerate(lines, start=2):
            reader.take(number, line)
        return _conclude(reader, key, expected)
    except Problem as problem:
        return Verdict(False, len(reader.leaves), len(reader.notes), problem.text, problem.index)


def _conclude(reader: ExportReader, key: Ed25519PublicKey, expected: Expected) -> Verdict:
    """The verdict once every line is read: the checkpoints against the entries (ranged: against the signed
    claim too), then against what the auditor knows and asks for."""
    span, count = reader.span, len(reader.leaves)
    if span is not None and not reader.right:
        raise Problem("a ranged export must end with the hashes right of its range")
    if not reader.notes:
        raise Problem("no signed checkpoint: nothing vouches for these entries")
    if span is None:
        tree, size, scope = _check_whole(reader.notes, key, reader.header, reader.leaves), count, ""
    else:
        tree, size, scope = _check_ranged(reader, key), span.size, _scope(span, count)
    known = _check_known(expected, tree, size, key, reader.header)
    known += _check_asked(expected, span)
    return Verdict(True, count, len(reader.notes), scope=scope, known=known)


def _checkpoint(note: str, key: Ed25519PublicKey, header: wa.ExportHeader) -> cp.Checkpoint:
    try:
        return cp.verify(note, key, header.key_name, origin=header.origin)
    except cp.CheckpointError as exc:
        raise Problem(f"checkpoint rejected: {exc}") from None


def _check_whole(notes: list[str], key: Ed25519PublicKey, header: wa.ExportHeader,
                 leaves: list[bytes]) -> merkle.MemoryTree:
    """A whole export: every checkpoint signs the root of the entries up to its size, sizes never shrink, and
    the last covers every entry. The tree of the entries, once it holds."""
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
    return tree


def _when(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat()


def _period(since: dt.datetime | None, until: dt.datetime | None) -> str:
    start = f"from {_when(since)}" if since else "from the log's start"
    return f"{start} until {_when(until)}" if until else f"{start} on"


def _scope(span: wa.ExportRange, count: int) -> str:
    if not count:
        return f" (an empty range of a log of {span.size})"
    return (f" (entries {span.first}..{span.first + count - 1} of a log of {span.size}; proven complete for every "
            f"entry logged {_period(span.since, span.until)})")


def _claim_problem(span: wa.ExportRange, count: int) -> str | None:
    """What makes a range claim unprovable whatever its entries: it ends before it starts, it leaves out entries
    at an open end, or it lacks the fence entries its edges need."""
    if span.since is not None and span.until is not None and span.since >= span.until:
        return "the export's range ends before it starts"
    if span.since is None and span.first > 0:
        return f"the export's range has no start but leaves out entries 0..{span.first - 1}"
    if span.until is None and span.end < span.size:
        return f"the export's range has no end but leaves out entries {span.end}..{span.size - 1}"
    fences = (span.since is not None and span.first > 0) + (span.until is not None and span.end < span.size)
    if count < fences:
        return "the export lacks the entries either side of its range: its edges are unproven"
    return None


def _time_problem(span: wa.ExportRange, times: list[dt.datetime]) -> tuple[str, int] | None:
    """The first entry whose time contradicts the range claim (entries are logged in time order), or None:
    the fence before `since` must be logged before it, the fence after `until` at or after it, all others in
    [since, until)."""
    problem = _claim_problem(span, len(times))
    if problem:
        return problem, span.first
    lead = span.since is not None and span.first > 0
    trail = span.until is not None and span.end < span.size
    for k, at in enumerate(times):
        index = span.first + k
        if lead and k == 0:
            if at >= span.since:
                return (f"entry {index} should be the last one before {_when(span.since)} but is not: an entry at "
                        "the start of the range may be missing", index)
        elif trail and k == len(times) - 1:
            if at < span.until:
                return (f"entry {index} should be the first one at or after {_when(span.until)} but is not: an "
                        "entry at the end of the range may be missing", index)
        elif (span.since is not None and at < span.since) or (span.until is not None and at >= span.until):
            return (f"entry {index} was logged at {_when(at)}, outside the range the export claims "
                    f"({_period(span.since, span.until)})", index)
    return None


def _check_ranged(reader: ExportReader, key: Ed25519PublicKey) -> merkle.PartialTree:
    """A ranged export: its entries' times must agree with its claim, the claim must carry the hub's signature,
    and its leaves and the outside hashes must rebuild the root its checkpoint signs. That tree, once it holds."""
    span, header, count = reader.span, reader.header, len(reader.leaves)
    problem = _time_problem(span, reader.times)
    if problem is not None:
        raise Problem(*problem)
    if not span.signed_by(key, header.origin):
        raise Problem("the export's range is not signed by the hub's audit key: it was changed after export, or "
                      "the export was made before ranges were signed (export it again)")
    nodes = dict(reader.outside)
    nodes.update(((0, span.first + k), leaf) for k, leaf in enumerate(reader.leaves))
    tree = merkle.PartialTree(span.size, nodes)
    for note in reader.notes:
        checkpoint = _checkpoint(note, key, header)
        if checkpoint.size != span.size:
            raise Problem(f"a ranged export's checkpoint must sign the log at {span.size} entries, "
                          f"not {checkpoint.size}")
        if checkpoint.root.hex() != span.root:
            raise Problem("the export's signed range is for another state of the log than its checkpoint")
        if merkle.root(tree) != checkpoint.root:
            raise Problem(f"the entries {span.first}..{span.first + count - 1} and the hashes around them do not "
                          f"rebuild the signed root at size {span.size}: something was changed", span.first)
    return tree


def _check_known(expected: Expected, tree: merkle.Tree, size: int, key: Ed25519PublicKey,
                 header: wa.ExportHeader) -> str:
    """The export (the log at `size`, `tree` its verified hashes) against a size or a checkpoint known from
    elsewhere: it must not be smaller, and must have the known checkpoint's root at its size."""
    said = ""
    if expected.min_size is not None:
        if size < expected.min_size:
            raise Problem(f"the export covers a log of {size} entries but the log is known to have at least "
                          f"{expected.min_size}: the export is truncated or older than what is known")
        said += f"; at least the {expected.min_size} entries required"
    if expected.checkpoint is None:
        return said
    try:
        known = cp.verify(expected.checkpoint, key, header.key_name, origin=header.origin)
    except cp.CheckpointError:
        raise Problem("the checkpoint known from elsewhere is not one of this log signed by the export's key") \
            from None
    if known.size > size:
        raise Problem(f"a checkpoint known from elsewhere covers {known.size} entries but the export only {size}: "
                      "the export is truncated or older than that checkpoint")
    try:
        root = merkle.root(tree, known.size)
    except merkle.MissingNode:
        raise Problem(f"this ranged export cannot show that it agrees with the known checkpoint at {known.size} "
                      "entries (it lacks the hashes): give a checkpoint at its size, or verify a whole export") \
            from None
    if root != known.root:
        raise Problem(f"the export contradicts the checkpoint known from elsewhere: the log at {known.size} entries "
                      "has another root there (the log was rewritten or forked)")
    return said + f"; consistent with the known checkpoint at {known.size} entries"


def _check_asked(expected: Expected, span: wa.ExportRange | None) -> str:
    """A ranged export must prove at least the period the auditor asked for (a whole export proves any)."""
    if expected.since is None and expected.until is None:
        return ""
    if span is not None:
        low = span.since if span.first > 0 else None  # from entry 0 on, nothing before it is left out
        high = span.until if span.end < span.size else None  # up to the newest entry, nothing after it is
        if not ((low is None or (expected.since is not None and low <= expected.since))
                and (high is None or (expected.until is not None and high >= expected.until))):
            raise Problem(f"the export proves the entries logged {_period(span.since, span.until)}, which does not "
                          f"cover the period asked for ({_period(expected.since, expected.until)})")
    return f"; covers the period asked for ({_period(expected.since, expected.until)})"


def verify_file(path: Path, pinned_key: bytes | None = None, expected: Expected = Expected()) -> Verdict:
    with open(path, encoding="utf-8") as f:
        return verify_lines(f, pinned_key, expected)


def read_known_checkpoint(path: Path) -> str:
    """The signed note in `path`: the note itself, or JSON holding it as "note" (`/api/audit/checkpoint`'s
    answer, an appliance witness's state); ValueError if it is neither."""
    text = path.read_text(encoding="utf-8")
    if not text.lstrip().startswith("{"):
        return text
    try:
        return wa.SavedCheckpoint.model_validate_json(text).note
    except ValidationError:
        raise ValueError("JSON without a signed note") from None


def moment(text: str) -> dt.datetime:
    """An ISO 8601 date or date and time from the command line; naive means UTC."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not an ISO 8601 date or date and time") from None
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value


def entry_count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError("not a number of entries")
    return int(text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="canvass-audit", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_verify = sub.add_parser("verify", help="verify an audit export offline")
    p_verify.add_argument("export", type=Path)
    p_verify.add_argument("--public-key", default=None, help="the hub's audit key (base64), to pin")
    p_verify.add_argument("--checkpoint", type=Path, default=None,
                          help="a file with a signed checkpoint of this log known from elsewhere (an appliance's "
                               "witnessed one, a published one): the export must cover it and agree with it")
    p_verify.add_argument("--min-size", type=entry_count, default=None,
                          help="the log is known to have at least this many entries: a smaller export fails")
    p_verify.add_argument("--from", dest="since", type=moment, default=None,
                          help="the export must prove every entry logged from this moment (ISO 8601, UTC unless "
                               "it says)")
    p_verify.add_argument("--to", dest="until", type=moment, default=None,
                          help="… until this moment (left out), ISO 8601")
    p_clip = sub.add_parser("verify-clip", help="verify an evidence clip and its box-signed manifest offline")
    p_clip.add_argument("clip", type=Path)
    p_clip.add_argument("manifest", type=Path)
    p_clip.add_argument("--ca", type=Path, default=None,
                        help="the hub's CA certificate (PEM): the box certificate must be issued by it")
    bundle.add_parser(sub)
    return parser


def verify_clip_command(args: argparse.Namespace) -> int:
    try:
        check = check_clip_files(args.clip, args.manifest, args.ca)
    except UnreadableFile as exc:
        print(f"canvass-audit: {exc}", file=sys.stderr)
        return 2
    print("\n".join(verdict_lines(check)), file=sys.stdout if check.ok else sys.stderr)
    return 0 if check.ok else 1


def _expected(args: argparse.Namespace) -> Expected:
    """What the command line asks of the export; ValueError (said plainly) if it asks something impossible."""
    if args.since is not None and args.until is not None and args.since >= args.until:
        raise ValueError("--from must be before --to")
    try:
        known = read_known_checkpoint(args.checkpoint) if args.checkpoint is not None else None
    except ValueError:
        raise ValueError("the --checkpoint file holds no signed note") from None
    return Expected(checkpoint=known, min_size=args.min_size, since=args.since, until=args.until)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "verify-clip":
        return verify_clip_command(args)
    if args.command == "verify-bundle":
        return bundle.run(args)
    try:
        pinned = base64.b64decode(args.public_key, validate=True) if args.public_key else None
        verdict = verify_file(args.export, pinned, _expected(args))
    except OSError as exc:
        print(f"canvass-audit: cannot read {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    except binascii.Error:
        print("canvass-audit: --public-key is not base64", file=sys.stderr)
        return 2
    except ValueError as exc:  # our own plain sentences, or a file that is not UTF-8 text
        text = "a file is not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else str(exc)
        print(f"canvass-audit: {text}", file=sys.stderr)
        return 2
    if verdict.ok:
        print(f"VERIFIED: {verdict.entries} entries{verdict.scope}, {verdict.checkpoints} signed checkpoints, "
              f"all consistent{verdict.known}")
        return 0
    print(f"FAILED: {verdict.problem}", file=sys.stderr)
    if verdict.first_bad_index is not None:
        print(f"first bad entry: {verdict.first_bad_index}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
