"""A verifiable export of the audit log (JSON lines), checked offline by `canvass-audit verify`.

    {"format": "canvass-audit-export/1", "origin": …, "key_name": …, "public_key": base64 Ed25519}
    {"index": 0, "entry": "<canonical entry JSON>", "leaf_hash": "<hex, as stored in the tree>"}
    …
    {"checkpoint": "<signed note>"}      ← every checkpoint the hub issued up to the export, oldest first

The leaf hashes come from the stored tree, not from the entries, so an entry
edited in the database no longer matches its leaf; a tree edited to match is
caught by the signed checkpoints.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import IO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.audit.log import canonical, issue_checkpoint
from hub.models import AuditCheckpoint, AuditEntry, AuditNode
from wire.checkpoint import raw_public

FORMAT = "canvass-audit-export/1"
BATCH = 5000


def export(session: Session, out: IO[str], key: Ed25519PrivateKey, origin: str) -> int:
    """Write the whole log and its checkpoints (signing one for the current size first); returns entries written."""
    issue_checkpoint(session, key, origin)
    out.write(json.dumps({"format": FORMAT, "origin": origin, "key_name": origin,
                          "public_key": base64.b64encode(raw_public(key.public_key())).decode()}) + "\n")
    written, last = 0, -1
    while True:
        rows = session.execute(
            select(AuditEntry, AuditNode.hash)
            .outerjoin(AuditNode, (AuditNode.level == 0) & (AuditNode.index == AuditEntry.leaf_index))
            .where(AuditEntry.leaf_index > last).order_by(AuditEntry.leaf_index).limit(BATCH)).all()
        if not rows:
            break
        for entry, leaf in rows:
            out.write(json.dumps({"index": entry.leaf_index, "entry": canonical(entry).decode(),
                                  "leaf_hash": leaf.hex() if leaf else None}, ensure_ascii=False) + "\n")
            last = entry.leaf_index
        written += len(rows)
        session.expunge_all()
    for note in session.scalars(select(AuditCheckpoint.note).order_by(AuditCheckpoint.size)):
        out.write(json.dumps({"checkpoint": note}) + "\n")
    return written


def export_file(session: Session, path: Path, key: Ed25519PrivateKey, origin: str) -> int:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as out:
        count = export(session, out, key, origin)
    tmp.replace(path)
    return count
