"""`canvass-audit verify` on exports made here without a hub: a good one verifies, and every malformed line
gets a clear verdict (never a crash)."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.audit.verify import verify_lines
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
