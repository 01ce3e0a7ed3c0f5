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
import functools
from types import SimpleNamespace
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import and_, bindparam, insert, or_, select, update
from sqlalchemy.orm import Session

from hub.audit.subjects import cameras_named, subject_rows
from hub.tables import AuditCheckpoint, AuditEntry, AuditNode, AuditSubject, Counter, utcnow
from wire import checkpoint as cp
from wire import audit as wire_audit
from wire import merkle

SIZE_COUNTER = "audit_size"


def entry_of(row) -> wire_audit.AuditEntry:
    """The `wire.audit.AuditEntry` a stored row (or the fields of one being appended) is."""
    return wire_audit.AuditEntry(index=row.leaf_index, at=row.at.astimezone(dt.timezone.utc), actor=row.actor,
                      action=row.action, object=row.object, outcome=row.outcome, source=row.source,
                      reason=row.reason, case_number=row.case_number, details=row.details or {})


def canonical(row) -> bytes:
    """The bytes that are hashed into the tree (`wire.audit.AuditEntry.canonical`)."""
    return entry_of(row).canonical()


@functools.lru_cache(maxsize=256)
def _nodes_query(count: int):
    """SELECT of `count` nodes by key, built once per count (building the expression cost more than running it)."""
    c = _NODES.c
    match = or_(*(and_(c.level == bindparam(f"l{j}"), c.idx == bindparam(f"i{j}")) for j in range(count)))
    return select(c.level, c.idx, c.hash).where(match)


class DbTree:
    """`wire.merkle.Tree` over `audit_nodes` as of `size` entries; nodes are fetched in batches and cached."""

    def __init__(self, session: Session, size: int | None = None):
        self.session = session
        self._size = size_of(session) if size is None else size
        self._cache: dict[tuple[int, int], bytes] = {}

    def size(self) -> int:
        return self._size

    def prefetch(self, keys) -> None:
        wanted = [k for k in set(keys) if k not in self._cache]
        if wanted:
            # One primary-key probe per node (OR of equalities: both SQLite and PostgreSQL use the key).
            params = {}
            for j, (level, index) in enumerate(wanted):
                params[f"l{j}"], params[f"i{j}"] = level, index
            rows = self.session.connection().execute(_nodes_query(len(wanted)), params)
            self._cache.update({(level, index): digest for level, index, digest in rows})

    def perfect(self, level: int, index: int) -> bytes:
        if (level, index) not in self._cache:
            self.prefetch([(level, index)])
        try:
            return self._cache[(level, index)]
        except KeyError:
            raise LookupError(f"audit tree node ({level}, {index}) missing") from None


class _Recorder:
    """A stand-in tree that notes which nodes a computation reads, so they can be fetched in one query."""

    def __init__(self, size: int):
        self._size, self.keys = size, []

    def size(self) -> int:
        return self._size

    def perfect(self, level: int, index: int) -> bytes:
        self.keys.append((level, index))
        return bytes(32)


def _two_pass(session: Session, size: int, compute):
    recorder = _Recorder(size)
    compute(recorder)
    tree = DbTree(session, size)
    tree.prefetch(recorder.keys)
    return compute(tree)


def tree_root(session: Session, size: int) -> bytes:
    return _two_pass(session, size, lambda t: merkle.root(t, size))


def inclusion_proof(session: Session, index: int, size: int) -> list[bytes]:
    return _two_pass(session, size, lambda t: merkle.inclusion_proof(t, index, size))


def consistency_proof(session: Session, old: int, new: int) -> list[bytes]:
    return _two_pass(session, new, lambda t: merkle.consistency_proof(t, old, new))


def size_of(session: Session) -> int:
    return session.scalar(select(Counter.value).where(Counter.name == SIZE_COUNTER)) or 0


_NODES = AuditNode.__table__
_COUNTERS = Counter.__table__
# Built once: appends are the hot path of every audited request.
_BUMP_SIZE = (update(_COUNTERS).where(_COUNTERS.c.name == SIZE_COUNTER).values(value=_COUNTERS.c.value + 1)
              .returning(_COUNTERS.c.value))
_INSERT_ENTRY = insert(AuditEntry.__table__)
_INSERT_NODES = insert(_NODES)
_INSERT_SUBJECTS = insert(AuditSubject.__table__)


def _purpose(details: dict[str, Any]) -> str:
    purpose = details.get("purpose")
    return purpose[:32] if isinstance(purpose, str) else ""


def append_entry(session: Session, fields: dict[str, Any]) -> int:
    """Append one entry and its tree nodes (Core statements: counter, siblings, entry, nodes); returns its index."""
    connection = session.connection()  # Core execution: a third of the cost of Session.execute here
    new_size = connection.execute(_BUMP_SIZE).scalar_one_or_none()
    if new_size is None:
        raise RuntimeError("the audit log's size counter is missing (run the hub's migrations)")
    index = new_size - 1
    row = dict(fields, leaf_index=index, at=utcnow())
    connection.execute(_INSERT_ENTRY, dict(row, purpose=_purpose(row["details"])))
    subjects = subject_rows(session, index, cameras_named(row["object"], row["details"]))
    if subjects:
        connection.execute(_INSERT_SUBJECTS, subjects)
    current = merkle.leaf_hash(canonical(SimpleNamespace(**row)))
    nodes = [{"level": 0, "idx": index, "hash": current}]
    siblings = []
    level, i = 0, index
    while i & 1:
        siblings.append((level, i - 1))
        level, i = level + 1, i >> 1
    tree = DbTree(session, new_size)
    tree.prefetch(siblings)
    for level, sibling in siblings:
        current = merkle.node_hash(tree.perfect(level, sibling), current)
        nodes.append({"level": level + 1, "idx": sibling >> 1, "hash": current})
    connection.execute(_INSERT_NODES, nodes)
    return index


def latest_checkpoint(session: Session) -> AuditCheckpoint | None:
    return session.scalar(select(AuditCheckpoint).order_by(AuditCheckpoint.size.desc()).limit(1))


def issue_checkpoint(session: Session, key: Ed25519PrivateKey, origin: str) -> AuditCheckpoint:
    """Sign the log as it stands (nothing new if the newest checkpoint already covers it)."""
    size = size_of(session)
    last = latest_checkpoint(session)
    if last is not None and last.size >= size:
        return last
    root = tree_root(session, size)
    row = AuditCheckpoint(size=size, root=root, note=cp.sign(cp.Checkpoint(origin, size, root), key, origin))
    session.add(row)
    session.flush()
    return row
