"""A verifiable export of the audit log (JSON lines), checked offline by `canvass-audit verify`.

Whole log:

    {"format": "canvass-audit-export/1", "origin": …, "key_name": …, "public_key": base64 Ed25519}
    {"index": 0, "entry": "<canonical entry JSON>", "leaf_hash": "<hex, as stored in the tree>"}
    …
    {"checkpoint": "<signed note>"}      ← every checkpoint the hub issued up to the export, oldest first

A time range (`since`/`until`) exports the entries logged in it plus one
*fence* entry on each side (the last one before `since`, the first one at or
after `until`, where they exist), so the verifier can see that nothing at the
edges was left out; the header says so ("range": first, end, size, since,
until, and the root at `size`), signed by the hub's audit key over those and
the origin, so the claim cannot be moved after export. Around them go the
hashes of the perfect subtrees that cover the entries left out — {"left": …}
before ([0, first)), {"right": …} after ([end, size)) — and the one checkpoint
signed for the size at export. The verifier rebuilds the signed root from
those hashes and the exported leaves, so an entry edited, dropped or moved
inside the range is still caught, and checks every entry's time against the
signed claim; what lies outside is vouched for only by its hashes.

The leaf hashes come from the stored tree, not from the entries, so an entry
edited in the database no longer matches its leaf; a tree edited to match is
caught by the signed checkpoints.
"""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path
from typing import IO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.audit.log import DbTree, canonical, issue_checkpoint
from hub.tables import AuditCheckpoint, AuditEntry, AuditNode
from wire import audit as wa
from wire import merkle
from wire.checkpoint import raw_public

FORMAT = wa.EXPORT_FORMAT
BATCH = 5000


def index_range(session: Session, size: int, since: dt.datetime | None, until: dt.datetime | None) -> tuple[int, int]:
    """Leaf indexes [first, end) of the entries logged in [since, until) (entries are appended in time order)."""
    first = 0
    if since is not None:
        found = session.scalar(select(func.min(AuditEntry.leaf_index)).where(AuditEntry.at >= since))
        first = size if found is None else found
    end = size
    if until is not None:
        found = session.scalar(select(func.max(AuditEntry.leaf_index)).where(AuditEntry.at < until))
        end = 0 if found is None else found + 1
    return first, max(first, min(end, size))


def _signed_range(session: Session, signed: AuditCheckpoint, key: Ed25519PrivateKey, origin: str,
                  since: dt.datetime | None, until: dt.datetime | None) -> wa.ExportRange:
    """The range's claim (its entries and the fences either side, in the log as `signed` covers it), signed."""
    size = signed.size
    first, end = index_range(session, size, since, until)
    first = first - 1 if since is not None and first > 0 else first
    end = end + 1 if until is not None and end < size else end
    utc = dt.timezone.utc
    claim = wa.ExportRange(first=first, end=end, size=size, since=since.astimezone(utc) if since else None,
                           until=until.astimezone(utc) if until else None, root=signed.root.hex())
    return claim.signed(key, origin)


def _blocks(tree: DbTree, start: int, end: int) -> list[wa.Block]:
    blocks = merkle.aligned_blocks(start, end)
    tree.prefetch(blocks)
    return [(level, index, tree.perfect(level, index).hex()) for level, index in blocks]


def export(session: Session, out: IO[str], key: Ed25519PrivateKey, origin: str,
           since: dt.datetime | None = None, until: dt.datetime | None = None) -> int:
    """Write the log (or the part logged in [since, until)) with what proves it; returns entries written.

    Signs a checkpoint for the current size first, so everything exported is covered.
    """
    signed = issue_checkpoint(session, key, origin)
    size, note = signed.size, signed.note
    ranged = since is not None or until is not None
    span = _signed_range(session, signed, key, origin, since, until) if ranged else None
    first, end = (span.first, span.end) if span else (0, size)
    _write(out, wa.ExportHeader(origin=origin, key_name=origin, range=span,
                                public_key=base64.b64encode(raw_public(key.public_key())).decode()))
    tree = DbTree(session, size)
    if ranged:
        _write(out, wa.LeftBlocks(left=_blocks(tree, 0, first)))
    written, last = 0, first - 1
    while last + 1 < end:
        rows = session.execute(
            select(AuditEntry, AuditNode.hash)
            .outerjoin(AuditNode, (AuditNode.level == 0) & (AuditNode.index == AuditEntry.leaf_index))
            .where(AuditEntry.leaf_index > last, AuditEntry.leaf_index < end)
            .order_by(AuditEntry.leaf_index).limit(BATCH)).all()
        if not rows:
            break
        for entry, leaf in rows:
            _write(out, wa.ExportedEntry(index=entry.leaf_index, entry=canonical(entry).decode(),
                                         leaf_hash=leaf.hex() if leaf else None))
            last = entry.leaf_index
        written += len(rows)
        session.expunge_all()
    if ranged:
        _write(out, wa.RightBlocks(right=_blocks(tree, end, size)))
        _write(out, wa.ExportedCheckpoint(checkpoint=note))
        return written
    for note in session.scalars(select(AuditCheckpoint.note).order_by(AuditCheckpoint.size)):
        _write(out, wa.ExportedCheckpoint(checkpoint=note))
    return written


def _write(out: IO[str], record: BaseModel) -> None:
    """One JSON line; an entry's leaf hash is written even when null (the verifier then names the entry)."""
    out.write(record.model_dump_json(exclude_none=not isinstance(record, wa.ExportedEntry)) + "\n")


def export_file(session: Session, path: Path, key: Ed25519PrivateKey, origin: str,
                since: dt.datetime | None = None, until: dt.datetime | None = None) -> int:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as out:
        count = export(session, out, key, origin, since, until)
    tmp.replace(path)
    return count
