"""The canvass at city scale: 5,000 cameras × 30 days of coverage, radius + window queries (`hub.canvass`).

A hub database made by the hub's own migrations (so the indexes are the real ones) is filled with `--cameras`
cameras spread uniformly over a `--city-km` square (four per appliance, a site each), a consent policy on
half of them, and `--days` of coverage per camera as a box reports it after the hub's merging: recorded spans
broken by 0–4 gaps a day (1–30 minutes each, with a reason); 3 % of the cameras never reported and 5 % stopped
reporting 1–10 days ago (their boxes went offline). Then `--queries` canvasses at random points of
the city, each a one-hour window at a random time of the period, are timed one by one through
`hub.canvass.canvass` in a session of their own (what `GET /api/canvass` runs, without HTTP), at each
`--radius`. The plans of the statements one canvass runs are captured and printed (PostgreSQL EXPLAIN
ANALYZE, SQLite EXPLAIN QUERY PLAN); `*_plans_use_indexes` says whether every read of coverage_spans in them
is an index scan.

On PostgreSQL (a fresh cluster from `tests/pg_support.py`, or `--postgres-url`) and on SQLite:

    .venv/bin/python bench/canvass.py --json
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import event, insert, text  # noqa: E402

from bench.measure import percentile, print_figures  # noqa: E402
from hub.canvass import canvass  # noqa: E402
from hub.services import HubServices  # noqa: E402
from hub.settings import HubSettings  # noqa: E402
from hub.tables import Appliance, Business, Camera, ConsentVersion, CoverageSpan, Site  # noqa: E402
from wire.consent import Policy  # noqa: E402

CENTRE = (40.0, -75.0)
M_PER_DEG = 6_371_008.8 * math.pi / 180
REASONS = ["camera unreachable", "not recording", "stream frozen", "disk full"]
NOW = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.timezone.utc)


def point_in_city(rng: random.Random, city_km: float) -> tuple[float, float]:
    north, east = (rng.uniform(-city_km / 2, city_km / 2) * 1000 for _ in range(2))
    return CENTRE[0] + north / M_PER_DEG, CENTRE[1] + east / (M_PER_DEG * math.cos(math.radians(CENTRE[0])))


def day_spans(rng: random.Random, day_start: dt.datetime) -> list[tuple[dt.datetime, dt.datetime, bool, str]]:
    """One day of one camera: recorded, broken by 0–4 gaps of 1–30 minutes."""
    starts = sorted(rng.uniform(0, 86_000) for _ in range(rng.choice([0, 1, 1, 2, 2, 3, 4])))
    spans, at = [], day_start
    for offset in starts:
        gap_start = max(at, day_start + dt.timedelta(seconds=offset))
        gap_end = gap_start + dt.timedelta(minutes=rng.uniform(1, 30))
        if gap_start > at:
            spans.append((at, gap_start, True, ""))
        spans.append((gap_start, gap_end, False, rng.choice(REASONS)))
        at = gap_end
    spans.append((at, day_start + dt.timedelta(days=1), True, ""))
    return spans


def camera_spans(rng: random.Random, days: int) -> list[tuple[dt.datetime, dt.datetime, bool, str]]:
    """`days` of coverage ending now, recorded spans that touch across midnight merged (as the hub does)."""
    merged: list[tuple[dt.datetime, dt.datetime, bool, str]] = []
    for day in range(days, 0, -1):
        for span in day_spans(rng, NOW - dt.timedelta(days=day)):
            if merged and span[2] and merged[-1][2] and merged[-1][1] >= span[0]:
                merged[-1] = (merged[-1][0], span[1], True, "")
            else:
                merged.append(span)
    return merged


def populate(hub: HubServices, *, cameras: int, days: int, city_km: float, seed: int = 7) -> int:
    """The registry and its coverage; returns the number of coverage rows."""
    rng = random.Random(seed)
    appliances = math.ceil(cameras / 4)
    with hub.db.session() as session:
        session.execute(insert(Business), [{"id": i + 1, "name": f"Business {i}"} for i in range(appliances)])
        sites, boxes = [], []
        for i in range(appliances):
            lat, lon = point_in_city(rng, city_km)
            sites.append({"id": i + 1, "business_id": i + 1, "name": f"Shop {i}", "address": f"{i} Main St",
                          "latitude": lat, "longitude": lon})
            boxes.append({"id": i + 1, "device_id": f"dev-{i:012d}", "business_id": i + 1, "site_id": i + 1,
                          "cert_serial": str(i), "certificate_pem": "", "online": rng.random() < 0.95})
        session.execute(insert(Site), sites)
        session.execute(insert(Appliance), boxes)
        rows = []
        for i in range(cameras):
            site = sites[i // 4]
            rows.append({"id": i + 1, "appliance_id": i // 4 + 1, "name": f"cam{i % 4 + 1}",
                         "latitude": site["latitude"] + rng.uniform(-1e-4, 1e-4),
                         "longitude": site["longitude"] + rng.uniform(-1e-4, 1e-4),
                         "view_direction_deg": rng.uniform(0, 360) if rng.random() < 0.8 else None})
        session.execute(insert(Camera), rows)
        session.execute(insert(ConsentVersion), [
            {"camera_id": i + 1, "version": 1, "created_by": "owner",
             "policy": Policy(sharing=rng.choice(["request_only", "always", "emergency_live"])).model_dump(
                 mode="json")} for i in range(0, cameras, 2)])
    return load_coverage(hub, rng, cameras=cameras, days=days)


def camera_history(rng: random.Random, days: int) -> list[tuple[dt.datetime, dt.datetime, bool, str]]:
    """Most cameras report all along; 3 % never reported, 5 % stopped reporting a few days ago."""
    luck = rng.random()
    if luck < 0.03:
        return []
    spans = camera_spans(rng, days)
    if luck < 0.08:
        cut = NOW - dt.timedelta(days=rng.uniform(1, 10))
        spans = [(start, min(end, cut), recorded, reason) for start, end, recorded, reason in spans if start < cut]
    return spans


def load_coverage(hub: HubServices, rng: random.Random, *, cameras: int, days: int, batch: int = 200) -> int:
    total = 0
    for first in range(0, cameras, batch):
        rows = [{"camera_id": camera_id, "start": start, "end": end, "recorded": recorded, "reason": reason}
                for camera_id in range(first + 1, min(cameras, first + batch) + 1)
                for start, end, recorded, reason in camera_history(rng, days)]
        with hub.db.session() as session:
            session.execute(insert(CoverageSpan), rows)
        total += len(rows)
    return total


def explain(hub: HubServices, *, radius_m: float, days: int) -> tuple[list[str], bool]:
    """The plans of the statements one canvass runs, captured as they run (PostgreSQL EXPLAIN ANALYZE, SQLite
    EXPLAIN QUERY PLAN), and whether every statement that reads coverage_spans uses an index for it."""
    statements: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append((statement, parameters))

    start = NOW - dt.timedelta(days=days / 2)
    event.listen(hub.db.engine, "before_cursor_execute", capture)
    try:
        with hub.db.session() as session:
            canvass(session, latitude=CENTRE[0], longitude=CENTRE[1], radius_m=radius_m, window_from=start,
                    window_to=start + dt.timedelta(hours=1), now=NOW, max_age=dt.timedelta(days=days))
    finally:
        event.remove(hub.db.engine, "before_cursor_execute", capture)
    sqlite = hub.db.engine.dialect.name == "sqlite"
    lines, indexed = [], True
    with hub.db.engine.connect() as connection:
        for statement, parameters in statements:
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ANALYZE "
            plan = [" ".join(str(part) for part in row)
                    for row in connection.exec_driver_sql(prefix + statement, parameters)]
            if "coverage_spans" in statement:
                scans = [line for line in plan if "coverage_spans" in line]
                indexed = indexed and all("INDEX" in line.upper() for line in scans)
            lines += [" ".join(statement.split())] + ["    " + line for line in plan]
    return lines, indexed


def time_queries(hub: HubServices, *, queries: int, radius_m: float, days: int, city_km: float,
                 seed: int = 11) -> dict:
    rng = random.Random(seed)
    times, found = [], []
    for _ in range(queries):
        lat, lon = point_in_city(rng, city_km * 0.8)
        start = NOW - dt.timedelta(seconds=rng.uniform(3600, (days - 1) * 86400))
        began = time.perf_counter()
        with hub.db.session() as session:
            result = canvass(session, latitude=lat, longitude=lon, radius_m=radius_m, window_from=start,
                             window_to=start + dt.timedelta(hours=1), now=NOW, max_age=dt.timedelta(days=days))
        times.append((time.perf_counter() - began) * 1000)
        found.append((len(result.recording), len(result.not_recording)))
    return {"median_ms": round(statistics.median(times), 2), "p95_ms": round(percentile(times, 0.95), 2),
            "cameras_in_radius_mean": round(statistics.mean(r + n for r, n in found), 1),
            "recording_mean": round(statistics.mean(r for r, _ in found), 1)}


def bench(name: str, url: str | None, root: Path, args: argparse.Namespace, result: dict) -> None:
    settings = HubSettings(data_dir=root / name, database_url=url, mqtt_enabled=False, environment="development")
    hub = HubServices(settings)
    try:
        began = time.perf_counter()
        rows = populate(hub, cameras=args.cameras, days=args.days, city_km=args.city_km)
        with hub.db.engine.begin() as connection:
            connection.execute(text("ANALYZE"))
        result[f"{name}_coverage_rows"] = rows
        result[f"{name}_load_s"] = round(time.perf_counter() - began, 1)
        plan, indexed = explain(hub, radius_m=max(args.radius), days=args.days)
        result[f"{name}_plans_use_indexes"] = indexed
        if not args.json:
            print("\n".join(plan))
        for radius in args.radius:
            figures = time_queries(hub, queries=args.queries, radius_m=radius, days=args.days, city_km=args.city_km)
            result.update({f"{name}_r{radius:g}_{key}": value for key, value in figures.items()})
    finally:
        hub.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=5000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--city-km", type=float, default=12.0, help="side of the square the cameras are in")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--radius", type=float, nargs="+", default=[500.0, 2000.0])
    parser.add_argument("--postgres-url", default=None, help="an empty database (default: a fresh cluster)")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result: dict = {"cameras": args.cameras, "days": args.days, "city_km": args.city_km, "queries": args.queries,
                    "machine": f"{platform.machine()} {platform.processor() or ''}".strip()}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        server = None
        url = args.postgres_url
        if url is None:
            from tests.pg_support import PostgresServer

            server = PostgresServer().start()
            url = server.create_database("canvass_bench")
        try:
            bench("postgresql", url, root, args, result)
        finally:
            if server is not None:
                server.stop()
        if not args.no_sqlite:
            bench("sqlite", None, root, args, result)
    print_figures(result, args.json)


if __name__ == "__main__":
    main()
