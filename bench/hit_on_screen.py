"""Hot-list hit on the analyst's screen: the box stores a read that hits its hot list → the hit's row is drawn in
the console page (Debian's Chromium, headless, driven by Playwright, 1366x768).

The path of `bench/hit_latency.py` (whose hub, appliance and hits this reuses: a real mosquitto and `canvass-hub
run` in their own processes, SQLite, one appliance enrolled through the API running its own link in this
process, the camera's owner sharing hits only, each read stored with its JPEG thumbnail in the box's read store
and queued in its outbox) with the console at its end instead of a bare stream reader: the analyst's page,
signed in (the session token put in sessionStorage before the page loads), reading the hub's hit stream as it
does for an analyst. A MutationObserver in the page notes when each hit's row (`data-testid=plate-hit`) is
inserted and the first animation frame after it (the row on screen), and when its thumbnail is shown (fetched
with the sign-in, as an object URL); a stream reader beside the page (`tests/sse_support.py`) notes when the
hit's event was read off the stream, for the breakdown. The clock starts before the read is stored on the box;
the page's moments are its wall clock (Date.now()), the same clock as the bench's on one machine. The hub's
log is searched for link batches it could not store (the box resends them after 5 s): `link_batches_failed`
(CANVASS_BENCH_KEEP=1 keeps the log of such a run).

    .venv/bin/python bench/hit_on_screen.py --hits 100 --interval 0.5 --json
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.hit_latency import Hub, send_hits, set_up  # noqa: E402
from bench.measure import percentile, print_figures  # noqa: E402
from edge.alpr.reads import ReadStore  # noqa: E402
from tests.console_support import VIEWPORT  # noqa: E402
from tests.edge_support import wait_for  # noqa: E402
from tests.sse_support import SseReader  # noqa: E402
from tests.browser_support import ARGS, CHROMIUM  # noqa: E402

MAX_HITS = 500
TARGET_MS = 2000
# Each hit's row: when it was inserted, the first frame after (on screen), when its thumbnail was shown.
OBSERVER = """window.__hits = {};
new MutationObserver((records) => {
  const now = Date.now();
  for (const record of records) {
    if (record.type === "childList") {
      for (const node of record.addedNodes) {
        if (!(node instanceof HTMLElement) || node.dataset.testid !== "plate-hit") continue;
        const plate = node.querySelector(".plate")?.textContent ?? "";
        if (window.__hits[plate]) continue;  // drawn again (acknowledged elsewhere): the first time counts
        const hit = window.__hits[plate] = {inserted: now, drawn: null, thumbnail: null};
        requestAnimationFrame(() => { hit.drawn = Date.now(); });
      }
    } else if (record.target.dataset.testid === "hit-thumbnail" && !record.target.hidden) {
      const plate = record.target.closest("[data-testid=plate-hit]")?.querySelector(".plate")?.textContent ?? "";
      const hit = window.__hits[plate];
      if (hit && hit.thumbnail === null) hit.thumbnail = now;
    }
  }
}).observe(document, {subtree: true, childList: true, attributes: true, attributeFilter: ["hidden"]});"""


def figures(values: list[float]) -> dict[str, float]:
    return {"p50": round(statistics.median(values), 1), "p95": round(percentile(values, 0.95), 1),
            "max": round(max(values), 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hits", type=int, default=100, help=f"hits to send (at most {MAX_HITS})")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between hits")
    parser.add_argument("--no-thumbnails", action="store_true",
                        help="a control: the page's thumbnail requests are aborted in the browser (each one the hub "
                             "serves is an audited write)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not 1 <= args.hits <= MAX_HITS:
        parser.error(f"--hits must be 1 to {MAX_HITS}")
    from playwright.sync_api import sync_playwright

    root = Path(tempfile.mkdtemp(prefix="canvass-bench-hit-screen-"))
    hub = Hub(root).start()
    link = store = reader = None
    try:
        link, analyst = set_up(hub, root)
        store = ReadStore(root / "box" / "reads.sqlite3", root / "box" / "thumbnails")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            context = browser.new_context(viewport=VIEWPORT)
            context.add_init_script(f"sessionStorage.setItem('canvass-token', {analyst!r});\n{OBSERVER}")
            if args.no_thumbnails:
                context.route("**/api/reads/*/thumbnail", lambda route: route.abort())
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(hub.url + "/")
            page.get_by_test_id("plate-hits").get_by_text("Live.").wait_for(timeout=30_000)  # the stream is open
            reader = SseReader(hub.url, analyst).start()
            started, sizes = send_hits(link, store, args.hits, args.interval)
            done = ("([n, thumbnails]) => Object.values(window.__hits)"
                    ".filter((h) => h.drawn && (h.thumbnail || !thumbnails)).length >= n")
            wait_for(lambda: page.evaluate(done, [args.hits, not args.no_thumbnails]), timeout=60 + args.hits,
                     what="every hit's row and thumbnail on the page")
            seen = page.evaluate("() => window.__hits")
            rows = page.get_by_test_id("plate-hit").count()
            browser.close()
        wait_for(lambda: len(reader.of_kind("hit")) >= args.hits, timeout=30, what="every hit at the stream reader")
        at_stream = {event.data["plate"]: event.arrived for event in reader.of_kind("hit")}
    finally:
        if reader is not None:
            reader.close()
        if link is not None:
            link.stop()
        if store is not None:
            store.close()
        hub.stop()
        log = (root / "hub.log").read_text(errors="replace") if (root / "hub.log").exists() else ""
        failed_batches = log.count("could not store a batch")
        locked = log.count("database is locked")
        if failed_batches and os.environ.get("CANVASS_BENCH_KEEP"):
            print(f"hub log kept: {root / 'hub.log'}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)

    def after_read(moment_ms: dict[str, float], name: str) -> dict[str, float]:
        """p50, p95 and max of (the moment for each hit − its read began to be stored), in ms."""
        latencies = [moment_ms[p] - t0 * 1000 for p, t0 in started.items()]
        return {f"{name}_ms_{k}": v for k, v in figures(latencies).items()}

    result = {
        "bench": "hit_on_screen", "hits": args.hits, "interval_s": args.interval, "rows": rows,
        "thumbnails_fetched": not args.no_thumbnails, "thumbnail_bytes_median": int(statistics.median(sizes)),
        **after_read({p: h["drawn"] for p, h in seen.items()}, "on_screen"),
        **after_read({p: h["inserted"] for p, h in seen.items()}, "row_inserted"),
        **({} if args.no_thumbnails else after_read({p: h["thumbnail"] for p, h in seen.items()}, "thumbnail_shown")),
        **after_read({p: t * 1000 for p, t in at_stream.items()}, "at_stream_reader"),
        "link_batches_failed": failed_batches, "database_locked": locked, "page_errors": errors,
        "target_p95_ms": TARGET_MS, "load_average": round(os.getloadavg()[0], 2),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.platform()}",
    }
    print_figures(result, args.json)
    return 0 if rows == args.hits and not errors and result["on_screen_ms_p95"] <= TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
