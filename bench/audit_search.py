"""The auditor's and the owner's searches as the audit log grows: CPU time per search at each log size, with the
search keys of migration 0013 (`audit_subjects`, the purpose column, the (column, leaf_index) indexes) and, in
the same run on the same database, without them (the indexes dropped: the query plan of the hub before them, a
pass over the log).

A log of `--sizes` entries is bulk-loaded into a fresh SQLite hub database (entries, their level-0 tree nodes
and their subjects, written directly: the search reads nothing else), spread over `--cameras` cameras of
`--businesses` businesses, `--cases` case numbers and the six purposes. Each search is the hub's own query
(`hub.audit.search.search_query`, newest 100 first) run `--repeats` times; the figure is the median CPU seconds of
this process per search (`time.process_time`: the machine is shared, so wall time would measure the neighbours).
`--appends` also times appends of entries about a camera (whose subject is looked up and written) beside entries
about none, in the same run.

    .venv/bin/python bench/audit_search.py --json
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import insert, text  # noqa: E402

from bench.measure import print_figures  # noqa: E402
from hub.audit.search import Search, search_query  # noqa: E402
from hub.db import Database  # noqa: E402
from hub.tables import Appliance, AuditEntry, AuditNode, AuditSubject, Business, Camera  # noqa: E402

PURPOSES = ["violent_crime", "property_crime", "missing_person", "traffic", "emergency", "other"]
ACTIONS = ["access.request", "stream.start", "stream.end", "access.grant", "plates.search", "auth.login"]
KEYS = ["ix_audit_entries_case_number", "ix_audit_entries_actor", "ix_audit_entries_purpose",
        "ix_audit_entries_outcome", "ix_audit_subjects_camera", "ix_audit_subjects_business"]
BATCH = 20_000


def load(db: Database, size: int, *, cameras: int, businesses: int, cases: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    with db.engine.begin() as connection:
        connection.execute(insert(Business.__table__), [
            {"id": b + 1, "name": f"Business {b}", "created_at": start} for b in range(businesses)])
        connection.execute(insert(Appliance.__table__), [
            {"id": b + 1, "device_id": f"dev-{b:012d}", "business_id": b + 1, "cert_serial": str(b),
             "certificate_pem": "", "name": ""} for b in range(businesses)])
        connection.execute(insert(Camera.__table__), [
            {"id": c + 1, "appliance_id": c % businesses + 1, "name": f"cam{c}"} for c in range(cameras)])
    for first in range(0, size, BATCH):
        entries, nodes, subjects = [], [], []
        for index in range(first, min(size, first + BATCH)):
            camera = rng.randrange(cameras) + 1
            purpose = rng.choice(PURPOSES)
            entries.append({"leaf_index": index, "at": start + dt.timedelta(seconds=index),
                            "actor": f"analyst{index % 40}", "action": rng.choice(ACTIONS),
                            "object": f"camera:{camera}", "outcome": "success", "source": "10.0.0.1",
                            "reason": "a reason", "case_number": f"2026-{rng.randrange(cases):06d}",
                            "details": {"purpose": purpose, "unit": "Robbery"}, "purpose": purpose})
            nodes.append({"level": 0, "idx": index, "hash": index.to_bytes(32, "big")})
            subjects.append({"leaf_index": index, "camera_id": camera, "business_id": (camera - 1) % businesses + 1})
        with db.engine.begin() as connection:
            connection.execute(insert(AuditEntry.__table__), entries)
            connection.execute(insert(AuditNode.__table__), nodes)
            connection.execute(insert(AuditSubject.__table__), subjects)
    with db.engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")


def searches(cases: int) -> dict[str, Search]:
    return {"case number": Search(case_number=f"2026-{cases // 2:06d}"), "purpose": Search(purpose="missing_person"),
            "camera": Search(camera_id=3), "business": Search(business_id=2),
            "case number and camera": Search(case_number=f"2026-{cases // 2:06d}", camera_id=3)}


def cpu_per_search(db: Database, search: Search, repeats: int) -> tuple[float, int]:
    query = search_query(search, limit=100, newest_first=True)
    times, found = [], 0
    with db.engine.connect() as connection:
        for _ in range(repeats):
            t0 = time.process_time()
            found = len(connection.execute(query).all())
            times.append(time.process_time() - t0)
    return statistics.median(times), found


def append_cpu(db: Database, object_of, count: int) -> float:
    """Median CPU ms of one `hub.audit.append` (one transaction each, as an API request makes it)."""
    from hub import audit

    times = []
    for i in range(count):
        t0 = time.process_time()
        with db.session() as session:
            audit.append(session, actor="analyst7", action="stream.start", outcome="success", object=object_of(i),
                         source="10.0.0.7", reason="burglary in progress", case_number=f"2026-{i:06d}",
                         purpose="property_crime")
        times.append(time.process_time() - t0)
    return round(statistics.median(times) * 1000, 3)


def appends(args: argparse.Namespace) -> dict:
    """Append CPU for entries about a camera (a subject looked up and written) beside entries about no camera
    (no lookup, no subject row), interleaved in rounds so both see the same machine."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'hub.db'}")
        db.migrate()
        load(db, 0, cameras=args.cameras, businesses=args.businesses, cases=args.cases)
        about_camera, about_nothing = [], []
        for _ in range(5):
            about_camera.append(append_cpu(db, lambda i: f"camera:{i % args.cameras + 1}", args.appends // 5))
            about_nothing.append(append_cpu(db, lambda i: f"user:{i}", args.appends // 5))
        db.dispose()
    return {"appends": args.appends, "about_a_camera_cpu_ms": statistics.median(about_camera),
            "about_no_camera_cpu_ms": statistics.median(about_nothing)}


def run(args: argparse.Namespace) -> dict:
    figures: dict = {"machine": f"{platform.node()} {platform.processor() or platform.machine()}",
                     "repeats": args.repeats, "sizes": {}}
    if args.appends:
        figures["append"] = appends(args)
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            db = Database(f"sqlite:///{Path(tmp) / 'hub.db'}")
            db.migrate()
            load(db, size, cameras=args.cameras, businesses=args.businesses, cases=args.cases)
            keyed = {name: cpu_per_search(db, s, args.repeats) for name, s in searches(args.cases).items()}
            with db.engine.begin() as connection:
                for name in KEYS:
                    connection.execute(text(f"DROP INDEX {name}"))
            unkeyed = {name: cpu_per_search(db, s, args.repeats) for name, s in searches(args.cases).items()}
            db.dispose()
        figures["sizes"][str(size)] = {
            name: {"indexed_cpu_ms": round(keyed[name][0] * 1000, 3),
                   "without_keys_cpu_ms": round(unkeyed[name][0] * 1000, 3), "found": keyed[name][1]}
            for name in keyed}
        assert all(keyed[n][1] == unkeyed[n][1] for n in keyed), "both plans must find the same entries"
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--cameras", type=int, default=400)
    parser.add_argument("--businesses", type=int, default=100)
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--appends", type=int, default=2000, help="also time this many appends (0: none)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    print_figures(run(args), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
