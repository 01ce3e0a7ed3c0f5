"""Benchmark the segment index at 30-day, 4-camera scale (172,800 segments).

Builds a synthetic index and one placeholder file per segment in a temporary
data directory, then measures: time-range queries, one day's expiry (files
and rows) and start-up reconciliation.

    python bench/index.py [--json] [--days 30] [--cameras 4]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.measure import print_figures  # noqa: E402
from edge.config import CameraConfig, RecordingConfig  # noqa: E402
from edge.recording.index import SegmentIndex  # noqa: E402
from edge.recording.reconcile import reconcile  # noqa: E402
from edge.recording.retention import DAY_US, Retention  # noqa: E402
from edge.recording.storage import Layout  # noqa: E402

SEGMENT_US = 60_000_000
T0_US = 1_790_000_000 * 1_000_000 // DAY_US * DAY_US  # a UTC midnight


def build(layout: Layout, cameras: list[str], days: int) -> int:
    index = SegmentIndex(layout.index_path)
    index.close()
    import sqlite3

    db = sqlite3.connect(layout.index_path)
    rows = []
    per_day = DAY_US // SEGMENT_US
    for camera in cameras:
        for n in range(days * per_day):
            start = T0_US + n * SEGMENT_US
            relpath = layout.segment_relpath(camera, start)
            rows.append((camera, start, start + SEGMENT_US, 22_500_000, 900, relpath, "ab" * 32, "closed"))
    with db:
        db.executemany(
            "INSERT INTO segments (camera, start_us, end_us, bytes, frames, path, sha256, state) VALUES (?,?,?,?,?,?,?,?)",
            rows,
        )
        db.execute("INSERT INTO meta (key, value) VALUES ('max_segment_us', ?)", (SEGMENT_US,))
    db.close()
    made = set()
    for row in rows:
        path = layout.absolute(row[5])
        if path.parent not in made:
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(path.parent)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))
    return len(rows)


def bench_queries(index: SegmentIndex, cameras: list[str], days: int, trials: int) -> list[float]:
    rng = random.Random(7)
    timings = []
    for _ in range(trials):
        camera = rng.choice(cameras)
        start = T0_US + rng.randrange(days * DAY_US - 3_600_000_000)
        t = time.perf_counter()
        found = index.segments(camera, from_us=start, to_us=start + 3_600_000_000)
        timings.append((time.perf_counter() - t) * 1000)
        assert 60 <= len(found) <= 61, len(found)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--queries", type=int, default=1000)
    args = parser.parse_args()
    cameras = [f"cam{i + 1}" for i in range(args.cameras)]
    with tempfile.TemporaryDirectory(prefix="canvass-bench-") as tmp:
        layout = Layout(Path(tmp))
        layout.make_dirs()
        segments = build(layout, cameras, args.days)

        index = SegmentIndex(layout.index_path)
        t = time.perf_counter()
        report = reconcile(layout, index)
        reconcile_s = time.perf_counter() - t
        assert not report.orphans_indexed and not report.vanished, report

        timings = bench_queries(index, cameras, args.days, args.queries)

        settings = RecordingConfig(min_free_bytes=0)
        configs = [CameraConfig(name=c, url="rtsp://127.0.0.1/x", retention_days=args.days - 1) for c in cameras]
        now = (T0_US + args.days * DAY_US + 1) / 1e6  # exactly day 0 is now past retention
        retention = Retention(configs, settings, layout, index, clock=lambda: now)
        t = time.perf_counter()
        expired = sum(retention._expire_camera(c, int(now * 1e6)) for c in configs)
        expiry_s = time.perf_counter() - t
        assert expired == args.cameras * DAY_US // SEGMENT_US, expired
        index.close()

    result = {
        "segments": segments,
        "query_median_ms": round(statistics.median(timings), 3),
        "query_p95_ms": round(statistics.quantiles(timings, n=20)[-1], 3),
        "expiry_one_day_s": round(expiry_s, 3),
        "expired_segments": expired,
        "reconcile_s": round(reconcile_s, 3),
    }
    print_figures(result, args.json)


if __name__ == "__main__":
    main()
