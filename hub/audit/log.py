"""The audit log as an append-only RFC 6962 Merkle tree in the hub's database, with signed checkpoints.

Each entry's canonical bytes (sorted-key compact JSON of every field and its
index) are leaf `leaf_index`; the tree's perfect subtrees are stored in
`audit_nodes` as they complete, so appending costs O(log n) small writes and
any proof O(log n) lookups. Appends are serialised by one counter row
(`UPDATE … RETURNING`), which takes SQLite's write lock or PostgreSQL's row
lock first thing, so concurrent requests get consecutive indexes.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub.models import AuditCheckpoint, AuditEntry, AuditNode, Counter, utcnow
from wire import checkpoint as cp
from wire import merkle

SIZE_COUNTER = "audit_size"


def canonical(entry: AuditEntry) -> bytes:
    """The bytes that are hashed into the tree: every field, the index included, in one fixed encoding."""
    at = entry.at.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return json.dumps({
        "index": entry.leaf_index, "at": at, "actor": entry.actor, "action": entry.action, "object": entry.object,
        "outcome": entry.outcome, "source": entry.source, "reason": entry.reason, "case_number": entry.case_number,
        "details": entry.details or {},
    }, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class DbTree:
    """`wire.merkle.Tree` over `audit_nodes`, as of `size` entries."""

    def __init__(self, session: Session, size: int | None = None):
        self.session = session
        self._size = size_of(session) if size is None else size

    def size(self) -> int:
        return self._size

    def perfect(self, level: int, index: int) -> bytes:
        node = self.session.get(AuditNode, (level, index))
        if node is None:
            raise LookupError(f"audit tree node ({level}, {index}) missing")
        return node.hash

    def add_leaf(self, index: int, leaf: bytes) -> None:
        self.session.add(AuditNode(level=0, index=index, hash=leaf))
        level, current = 0, leaf
        while index & 1:
            current = merkle.node_hash(self.perfect(level, index - 1), current)
            level, index = level + 1, index >> 1
            self.session.add(AuditNode(level=level, index=index, hash=current))
        self.session.flush()


def size_of(session: Session) -> int:
    return session.scalar(select(Counter.value).where(Counter.name == SIZE_COUNTER)) or 0


def append_entry(session: Session, fields: dict[str, Any]) -> AuditEntry:
    if session.get(Counter, SIZE_COUNTER) is None:
        session.add(Counter(name=SIZE_COUNTER, value=0))
        session.flush()
    new_size = session.execute(update(Counter).where(Counter.name == SIZE_COUNTER)
                               .values(value=Counter.value + 1).returning(Counter.value)).scalar_one()
    entry = AuditEntry(leaf_index=new_size - 1, at=utcnow(), **fields)
    session.add(entry)
    session.flush()
    DbTree(session, new_size).add_leaf(entry.leaf_index, merkle.leaf_hash(canonical(entry)))
    return entry


def latest_checkpoint(session: Session) -> AuditCheckpoint | None:
    return session.scalar(select(AuditCheckpoint).order_by(AuditCheckpoint.size.desc()).limit(1))


def issue_checkpoint(session: Session, key: Ed25519PrivateKey, origin: str) -> AuditCheckpoint:
    """Sign the log as it stands (nothing new if the newest checkpoint already covers it)."""
    size = size_of(session)
    last = latest_checkpoint(session)
    if last is not None and last.size >= size:
        return last
    root = merkle.root(DbTree(session, size), size)
    row = AuditCheckpoint(size=size, root=root, note=cp.sign(cp.Checkpoint(origin, size, root), key, origin))
    session.add(row)
    session.flush()
    return row
