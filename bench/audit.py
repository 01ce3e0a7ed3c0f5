"""Audit log at scale: append throughput, proof time at 1,000,000 entries, offline verification of the export.

1. Append: `hub.audit.append` one entry per transaction (as each API request
   does), and 1,000 per transaction, for `--appends` entries on SQLite and, if
   `--postgres-url` is given, on PostgreSQL.
2. Proofs: a log of `--entries` entries (bulk-loaded through the same leaf and
   node code as appends, in large transactions), then inclusion and
   consistency proofs for random indexes/sizes, timed one by one from the
   database (proof built and verified against the signed checkpoint).
3. Verify: `canvass-hub audit export` of that log, then `canvass-audit verify`
   on the file, timed as a whole command.

    .venv/bin/python bench/audit.py --json
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.measure import print_figures  # noqa: E402
from hub import audit  # noqa: E402
from hub.audit.export import export_file  # noqa: E402
from hub.audit.log import (SIZE_COUNTER, DbTree, canonical, consistency_proof,  # noqa: E402
                           inclusion_proof, issue_checkpoint, tree_root)
from hub.services import HubServices  # noqa: E402
from hub.tables import AuditEntry, AuditNode, Counter, utcnow  # noqa: E402
from hub.settings import HubSettings  # noqa: E402
from wire import checkpoint as cp  # noqa: E402
from wire import merkle  # noqa: E402


def append_rate(hub: HubServices, count: int, per_transaction: int = 1) -> float:
    start = time.perf_counter()
    for first in range(0, count, per_transaction):
        with hub.db.session() as session:
            for i in range(first, min(count, first + per_transaction)):
                audit.append(session, actor="analyst7", action="stream.start", outcome="success",
                             object=f"camera:{i % 500}", source="10.0.0.7", reason="burglary in progress",
                             case_number=f"2026-{i:06d}")
    return count / (time.perf_counter() - start)


def bulk_load(hub: HubServices, total: int, batch: int = 20_000) -> None:
    """Grow the log to `total` entries through the same canonical/leaf/node code, many per transaction."""
    tree = merkle.MemoryTree()
    with hub.db.session() as session:
        existing = session.get(Counter, SIZE_COUNTER)
        start = existing.value if existing else 0
        for entry in session.scalars(__import__("sqlalchemy").select(AuditEntry).order_by(AuditEntry.leaf_index)):
            tree.append(merkle.leaf_hash(canonical(entry)))
    now = utcnow()
    index = start
    while index < total:
        with hub.db.session() as session:
            entries, nodes = [], []
            for i in range(index, min(total, index + batch)):
                entry = AuditEntry(leaf_index=i, at=now, actor=f"user{i % 50}", action="playback.request",
                                   object=f"camera:{i % 1000}", outcome="success", source="10.0.0.7",
                                   reason="hit and run on Main St", case_number=f"2026-{i:07d}", details={})
                entries.append(entry)
                for level, idx, digest in tree.append(merkle.leaf_hash(canonical(entry))):
                    nodes.append({"level": level, "idx": idx, "hash": digest})
            session.add_all(entries)
            session.execute(AuditNode.__table__.insert(), nodes)
            session.get(Counter, SIZE_COUNTER).value = index = min(total, index + batch)


def proof_times(hub: HubServices, size: int, samples: int) -> dict:
    rng = random.Random(7)
    with hub.db.session() as session:
        note = issue_checkpoint(session, hub.audit_key, hub.settings.audit_origin).note
    checkpoint = cp.verify(note, hub.audit_key.public_key(), hub.settings.audit_origin)
    inclusion, consistency = [], []
    with hub.db.session() as session:
        for _ in range(samples):
            index = rng.randrange(size)
            leaf = DbTree(session, size).perfect(0, index)
            t = time.perf_counter()
            proof = inclusion_proof(session, index, size)
            ok = merkle.verify_inclusion(index, size, leaf, proof, checkpoint.root)
            inclusion.append((time.perf_counter() - t) * 1000)
            assert ok
            old = rng.randrange(1, size)
            old_root = tree_root(session, old)
            t = time.perf_counter()
            proof = consistency_proof(session, old, size)
            ok = merkle.verify_consistency(old, size, old_root, checkpoint.root, proof)
            consistency.append((time.perf_counter() - t) * 1000)
            assert ok
    return {"inclusion_ms_median": round(statistics.median(inclusion), 3),
            "inclusion_ms_p95": round(sorted(inclusion)[int(0.95 * len(inclusion))], 3),
            "consistency_ms_median": round(statistics.median(consistency), 3),
            "consistency_ms_p95": round(sorted(consistency)[int(0.95 * len(consistency))], 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appends", type=int, default=5000)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--postgres-url", default=None, help="also measure appends on this (empty) database")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="canvass-bench-audit-"))
    result: dict = {"bench": "audit", "machine": f"{platform.machine()} {os.cpu_count()} cores, "
                    f"{platform.platform()}"}
    try:
        hub = HubServices(HubSettings(data_dir=root / "hub", mqtt_enabled=False, environment="development"))
        result["append_per_s_sqlite"] = round(append_rate(hub, args.appends))
        result["append_per_s_sqlite_1000_per_txn"] = round(append_rate(hub, args.appends, per_transaction=1000))
        if args.postgres_url:
            pg = HubServices(HubSettings(data_dir=root / "hub-pg", database_url=args.postgres_url, mqtt_enabled=False,
                                         environment="development"))
            result["append_per_s_postgresql"] = round(append_rate(pg, args.appends))
            result["append_per_s_postgresql_1000_per_txn"] = round(append_rate(pg, args.appends, per_transaction=1000))
            pg.close()
        t = time.perf_counter()
        bulk_load(hub, args.entries)
        result["entries"] = args.entries
        result["bulk_load_s"] = round(time.perf_counter() - t, 1)
        result.update(proof_times(hub, args.entries, args.samples))
        export = root / "audit.jsonl"
        t = time.perf_counter()
        with hub.db.session() as session:
            export_file(session, export, hub.audit_key, hub.settings.audit_origin)
        result["export_s"] = round(time.perf_counter() - t, 1)
        result["export_mb"] = round(export.stat().st_size / 2**20, 1)
        hub.close()
        t = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "hub.audit.verify", "verify", str(export)],
                              capture_output=True, text=True, cwd=REPO)
        result["verify_s"] = round(time.perf_counter() - t, 1)
        result["verify_ok"] = done.returncode == 0
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print_figures(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
