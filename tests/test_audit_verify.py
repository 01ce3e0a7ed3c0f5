"""`canvass-audit verify` on exports made here without a hub: a good one verifies, and every malformed line
gets a clear verdict (never a crash)."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.audit.verify import Expected, verify_lines
from wire import audit as wa
from wire import checkpoint as cp
from wire import merkle

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))  # a test fixture's key
ORIGIN = "hub.example/audit"


def entry(index: int) -> str:
    return wa.AuditEntry(index=index, at=dt.datetime(2026, 12, 1, 12, index, tzinfo=dt.timezone.utc), actor="ana",
                         action="access.grant", object="camera:1", outcome="success", source="", reason="r",
                         case_number="c", details={"n": index}).canonical().decode()


def export(count: int = 5) -> list[str]:
    texts = [entry(i) for i in range(count)]
    leaves = [merkle.leaf_hash(t.encode()) for t in texts]
    root = merkle.root(merkle.MemoryTree(leaves), count)
    header = wa.ExportHeader(origin=ORIGIN, key_name=ORIGIN,
                             public_key=base64.b64encode(cp.raw_public(KEY.public_key())).decode())
    lines = [header.model_dump_json(exclude_none=True)]
    lines += [wa.ExportedEntry(index=i, entry=t, leaf_hash=leaf.hex()).model_dump_json()
              for i, (t, leaf) in enumerate(zip(texts, leaves))]
    lines.append(wa.ExportedCheckpoint(checkpoint=cp.sign(cp.Checkpoint(ORIGIN, count, root), KEY, ORIGIN))
                 .model_dump_json())
    return lines


def test_a_good_export_verifies_and_a_pinned_other_key_does_not():
    verdict = verify_lines(export())
    assert verdict.ok and (verdict.entries, verdict.checkpoints) == (5, 1)
    other = base64.b64decode(base64.b64encode(bytes(32)))
    assert verify_lines(export(), other).problem == "the export is signed with a different key than the one given"


def replaced(position: int, line: str) -> list[str]:
    lines = export()
    lines[position] = line
    return lines


@pytest.mark.parametrize("lines, problem", [
    ([], "not an audit export: no header line"),
    (["not json"], "not an audit export: no header line"),
    (['["a list"]'], "unknown export format None"),
    (['{"format": "other/1"}'], "unknown export format 'other/1'"),
    (['{"format": "canvass-audit-export/1", "origin": "o", "key_name": "o"}'], "header is malformed"),
    (['{"format": "canvass-audit-export/1", "origin": "o", "key_name": "o", "public_key": "!!"}'],
     "public key is missing or malformed"),
    (['{"format": "canvass-audit-export/1", "origin": "o", "key_name": "o", "public_key": "AA==", "range": 5}'],
     "the export's range is malformed"),
    (replaced(1, "{"), "line 2 is not JSON"),
    (replaced(1, "42"), "line 2 is not a record"),
    (replaced(1, '{"index": 0, "entry": 5, "leaf_hash": null}'), "entry 0 has no text"),
    (replaced(1, '{"index": "0", "entry": "x", "leaf_hash": null}'), "entry 0 is out of order"),
    (replaced(1, '{"index": 1, "entry": "x", "leaf_hash": null}'), "entry 0 is missing"),
    (replaced(1, json.dumps({"index": 0, "entry": "x", "leaf_hash": merkle.leaf_hash(b"x").hex()})),
     "entry 0 is not an audit entry"),
    (replaced(-1, '{"checkpoint": 5}'), "line 7 is not a checkpoint record"),
    (export()[:-1], "no signed checkpoint"),
])
def test_malformed_exports_get_a_clear_verdict(lines: list[str], problem: str):
    verdict = verify_lines(lines)
    assert not verdict.ok and problem in verdict.problem, verdict


# ---------------------------------------------------------------- ranged exports: the signed claim


def at(index: int) -> dt.datetime:
    return dt.datetime(2026, 12, 1, 12, index, tzinfo=dt.timezone.utc)


def ranged(size: int, first: int, end: int, since: dt.datetime | None, until: dt.datetime | None,
           key: Ed25519PrivateKey | None = KEY) -> list[str]:
    """A ranged export of entries [first, end) of a log of `size`, its claim signed by `key` (None: unsigned)."""
    texts = [entry(i) for i in range(size)]
    leaves = [merkle.leaf_hash(t.encode()) for t in texts]
    tree = merkle.MemoryTree(leaves)
    root = merkle.root(tree, size)
    span = wa.ExportRange(first=first, end=end, size=size, since=since, until=until, root=root.hex())
    header = wa.ExportHeader(origin=ORIGIN, key_name=ORIGIN, range=span.signed(key, ORIGIN) if key else span,
                             public_key=base64.b64encode(cp.raw_public(KEY.public_key())).decode())

    def blocks(start: int, stop: int) -> list[wa.Block]:
        return [(lv, ix, tree.perfect(lv, ix).hex()) for lv, ix in merkle.aligned_blocks(start, stop)]

    lines = [header.model_dump_json(exclude_none=True), wa.LeftBlocks(left=blocks(0, first)).model_dump_json()]
    lines += [wa.ExportedEntry(index=i, entry=texts[i], leaf_hash=leaves[i].hex()).model_dump_json()
              for i in range(first, end)]
    lines.append(wa.RightBlocks(right=blocks(end, size)).model_dump_json())
    lines.append(wa.ExportedCheckpoint(checkpoint=cp.sign(cp.Checkpoint(ORIGIN, size, root), KEY, ORIGIN))
                 .model_dump_json())
    return lines


def test_a_signed_range_verifies_and_names_the_period_it_proves():
    # Entries 0..19 logged at minute i; [minute 5, minute 12) holds 5..11, fenced by 4 and 12.
    verdict = verify_lines(ranged(20, 4, 13, at(5), at(12)))
    assert verdict.ok, verdict.problem
    assert verdict.scope == (" (entries 4..12 of a log of 20; proven complete for every entry logged from "
                             "2026-12-01T12:05:00+00:00 until 2026-12-01T12:12:00+00:00)")
    assert verify_lines(ranged(20, 0, 13, None, at(12))).ok  # from the start: no fence before
    assert verify_lines(ranged(20, 4, 20, at(5), None)).ok  # to the newest: no fence after


@pytest.mark.parametrize("lines, problem", [
    (ranged(20, 4, 13, at(5), at(12), key=None), "the export's range is not signed by the hub's audit key"),
    (ranged(20, 4, 13, at(5), at(12), key=Ed25519PrivateKey.generate()),
     "the export's range is not signed by the hub's audit key"),
    # The hub's own signature over a claim its entries contradict (a hub that lies about the period):
    (ranged(20, 4, 13, at(6), at(12)), "entry 5 was logged at 2026-12-01T12:05:00+00:00, outside the range"),
    (ranged(20, 4, 13, at(5), at(11)), "entry 11 was logged at 2026-12-01T12:11:00+00:00, outside the range"),
    (ranged(20, 5, 13, at(5), at(12)), "entry 5 should be the last one before 2026-12-01T12:05:00+00:00"),
    (ranged(20, 4, 12, at(5), at(12)), "entry 11 should be the first one at or after 2026-12-01T12:12:00+00:00"),
    (ranged(20, 4, 13, None, at(12)), "the export's range has no start but leaves out entries 0..3"),
    (ranged(20, 4, 13, at(5), None), "the export's range has no end but leaves out entries 13..19"),
    (ranged(20, 4, 13, at(12), at(5)), "the export's range ends before it starts"),
    (ranged(20, 7, 7, at(5), at(12)), "the export lacks the entries either side of its range"),
])
def test_a_range_claim_that_is_unsigned_or_contradicted_by_its_entries_fails(lines: list[str], problem: str):
    verdict = verify_lines(lines)
    assert not verdict.ok and problem in verdict.problem, verdict


def test_the_range_claim_must_be_for_the_checkpoints_tree():
    lines = ranged(20, 4, 13, at(5), at(12))
    header = json.loads(lines[0])
    header["range"]["root"] = "00" * 32
    lines[0] = json.dumps(header)
    verdict = verify_lines(lines)
    assert not verdict.ok and "not signed by the hub's audit key" in verdict.problem  # the root is in the claim
    other = wa.ExportRange.model_validate(header["range"]).signed(KEY, ORIGIN)
    lines[0] = json.dumps({**header, "range": json.loads(other.model_dump_json())})
    verdict = verify_lines(lines)
    assert not verdict.ok and "for another state of the log than its checkpoint" in verdict.problem


@pytest.mark.parametrize("since, until, ok", [
    (at(5), at(12), True), (at(6), at(10), True), (at(4), at(12), False), (at(5), at(13), False),
    (None, at(12), False), (at(5), None, False),
])
def test_verify_requires_that_the_proven_period_covers_the_one_asked_for(since, until, ok: bool):
    verdict = verify_lines(ranged(20, 4, 13, at(5), at(12)), expected=Expected(since=since, until=until))
    assert verdict.ok is ok, verdict
    if not ok:
        assert "does not cover the period asked for" in verdict.problem
    assert verify_lines(export(), expected=Expected(since=since, until=until)).ok  # a whole export proves any


# ---------------------------------------------------------------- what the auditor knows from elsewhere


def note(size: int, root: bytes | None = None, key: Ed25519PrivateKey = KEY) -> str:
    if root is None:
        root = merkle.root(merkle.MemoryTree([merkle.leaf_hash(entry(i).encode()) for i in range(size)]), size)
    return cp.sign(cp.Checkpoint(ORIGIN, size, root), key, ORIGIN)


@pytest.mark.parametrize("expected, problem", [
    (Expected(checkpoint=note(3)), ""),
    (Expected(checkpoint=note(5)), ""),
    (Expected(min_size=5), ""),
    (Expected(checkpoint=note(7)), "a checkpoint known from elsewhere covers 7 entries but the export only 5: the "
                                   "export is truncated or older than that checkpoint"),
    (Expected(min_size=6), "the export covers a log of 5 entries but the log is known to have at least 6"),
    (Expected(checkpoint=note(5, bytes(32))), "the export contradicts the checkpoint known from elsewhere"),
    (Expected(checkpoint=note(3, bytes(32))), "the export contradicts the checkpoint known from elsewhere"),
    (Expected(checkpoint=note(3, key=Ed25519PrivateKey.generate())),
     "the checkpoint known from elsewhere is not one of this log signed by the export's key"),
    (Expected(checkpoint="not a note"), "the checkpoint known from elsewhere is not one of this log"),
])
def test_a_whole_export_must_cover_and_agree_with_what_is_known_from_elsewhere(expected: Expected, problem: str):
    verdict = verify_lines(export(5), expected=expected)
    assert verdict.ok == (not problem) and problem in verdict.problem, verdict


def test_a_ranged_export_is_checked_against_a_known_checkpoint_where_its_hashes_allow():
    lines = ranged(20, 4, 13, at(5), at(12))
    assert verify_lines(lines, expected=Expected(checkpoint=note(20))).ok
    assert verify_lines(lines, expected=Expected(checkpoint=note(10))).ok  # inside the range: derivable
    assert "truncated or older" in verify_lines(lines, expected=Expected(checkpoint=note(21))).problem
    assert "contradicts" in verify_lines(lines, expected=Expected(checkpoint=note(20, bytes(32)))).problem
    assert "cannot show that it agrees with the known checkpoint at 3 entries" in \
        verify_lines(lines, expected=Expected(checkpoint=note(3))).problem  # inside a left-hand subtree
