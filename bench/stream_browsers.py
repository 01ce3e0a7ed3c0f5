"""Streams to real Chromium viewers through the SFU: CPU of the hub, of Janus and of the box per viewer, and
click → first frame in the browser, live and playback; the hub's aiortc relay measured in the same run as the
baseline.

Sets up on loopback: Janus and coturn (`sim.media_servers`), mosquitto, the hub (API + MQTT link + stream service,
in this process), `--cameras` simulated 1080p15 cameras recorded by one enrolled `canvass-edge run` agent, and one
headless Chromium (Debian's, through Playwright) whose pages are the viewers. Then:

- **CPU per viewer**: process CPU seconds (utime + stime from /proc) of the hub (this process: the hub's API,
  link and stream service, plus the idle Playwright client), of Janus and of the agent, over `--window` seconds,
  with 0 viewers and with 1, 4 and 8 viewers of one camera, then 4 and 8 viewers spread over `--cameras` cameras
  (one session per camera). Each phase is measured `--repeats` times, the median is kept; per viewer =
  (phase − 0 viewers) / viewers, in % of one core. The machine is shared: CPU time, not wall time.
- **Baseline (same run)**: the hub's aiortc relay (`stream_media = relay`: decode once, encode per viewer) with
  1 viewer of one camera, measured the same way.
- **Box**: the agent's CPU with 1 and with 4 viewers of one camera, how many sessions it opened for them (its
  log), and its uplink: the RTP payload bytes each session sent over its duration (the box's own count, in its
  `stream.end` record), summed over the phase's sessions.
- **Click → first frame**: in the page, from the moment `POST /api/streams` is sent to the first decoded frame
  (`requestVideoFrameCallback`), `--trials` times live and `--trials` times playback (from 20 s ago).

    .venv/bin/python bench/stream_browsers.py --json
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from playwright.sync_api import sync_playwright  # noqa: E402
from sqlalchemy import select  # noqa: E402

from bench.measure import cpu_times, percentile, print_figures  # noqa: E402
from edge.recording.storage import Layout  # noqa: E402
from hub.stream_relay import RelayMedia  # noqa: E402
from hub.tables import AuditEntry, Role  # noqa: E402
from sim.media_servers import MediaServers, machine_address  # noqa: E402
from sim.process import CameraProcess  # noqa: E402
from tests.browser_support import ARGS, CHROMIUM  # noqa: E402
from tests.edge_support import EdgeProcess  # noqa: E402
from tests.hub_support import HubStack, eventually  # noqa: E402
from tests.owner_support import pair_box, put_consent  # noqa: E402
from tests.sfu_support import FRAMES_JS, VIEWER_JS  # noqa: E402
from wire import rtc  # noqa: E402

REASON = "benchmark: browsers watching through the SFU"
MAX_VIEWERS = 8

# Stream now as the console does it, timed in the page: open the session (joined as its first viewer with `watch`,
# unless --separate-join: then a viewer token and a join follow, as before), answer, first decoded frame.
FIRST_FRAME_JS = """
async ({token, ask}) => {
  const headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"};
  const t0 = performance.now();
  const opened = await fetch("/api/streams", {method: "POST", headers, body: JSON.stringify(ask)});
  if (opened.status !== 201) return {error: opened.status};
  const session = await opened.json();
  const api = performance.now() - t0;
  const result = await (%s)({sessionId: session.session_id, token, ice: null, policy: null, reuse: null,
                             first: session.viewer ?? null});
  if (result.status !== 204) return {error: result.status, step: result.step};
  await new Promise((resolve) => window.__video.requestVideoFrameCallback(resolve));
  const first = performance.now() - t0;
  window.__pc.close();
  await fetch(`/api/streams/${session.session_id}`, {method: "DELETE", headers});
  return {api: api / 1000, first: first / 1000, gathered: (result.gatheredAt - t0) / 1000,
          answered: (result.answeredAt - t0) / 1000};
}
""" % VIEWER_JS


def setup(root: Path, cameras: int):
    media = MediaServers(root / "sfu").start()
    stack = HubStack(root, **media.hub_settings()).start()
    business_id, owner = stack.business_with_owner("Bench Bakery")
    code = stack.claim_code(owner, business_id)
    data_dir = root / "box"
    stack.enroll(code, data_dir / "identity", "bench-box").check_returncode()
    camera = CameraProcess(count=cameras, cache_dir=REPO / ".cache" / "sim", log_path=root / "sim.log").start()
    agent = EdgeProcess(root / "edge", camera.urls, data_dir=data_dir,
                        streaming={"ice_host_addresses": [machine_address()]}).start()

    def all_recording():
        with stack.client(owner) as c:
            rows = c.get("/api/cameras").json()
        return [r["id"] for r in rows if r["status"] == "recording"] if len(rows) >= cameras else None

    camera_ids = eventually(lambda: (ids := all_recording()) and len(ids) == cameras and ids, timeout=120,
                            what="every camera recording at the hub")
    with stack.client(owner) as c:  # the owner's passkey paired at the box signs each camera's policy
        pair_box(c, c.get("/api/appliances").json()[0]["device_id"], Layout(data_dir).consent_path)
        for camera_id in camera_ids:
            put_consent(c, camera_id, {"sharing": "always", "modes": ["live", "playback"]}).raise_for_status()
    stack.add_user("bench", "correct-horse-battery", Role.ANALYST)
    return media, stack, camera, agent, sorted(camera_ids), stack.login("bench", "correct-horse-battery")


class Bench:
    def __init__(self, stack: HubStack, token: str, browser, pids: dict[str, int], window: float) -> None:
        self.stack, self.token, self.browser, self.pids, self.window = stack, token, browser, pids, window
        self.pages = []

    def page(self, n: int):
        while len(self.pages) <= n:
            page = self.browser.new_page()
            page.goto(self.stack.server.url + "/api/health")
            self.pages.append(page)
        return self.pages[n]

    def open(self, camera_id: int) -> str:
        with self.stack.client(self.token) as c:
            r = c.post("/api/streams", json={"camera_id": camera_id, "mode": "live", "purpose": "other",
                                             "reason": REASON, "case_number": "BENCH-3"})
            r.raise_for_status()
            return r.json()["session_id"]

    def stop(self, session_id: str) -> None:
        with self.stack.client(self.token) as c:
            c.delete(f"/api/streams/{session_id}")

    def cpu(self) -> dict[str, float]:
        """% of one core per process over the window."""
        before = {name: sum(cpu_times(pid)) for name, pid in self.pids.items()}
        t0 = time.monotonic()
        time.sleep(self.window)
        elapsed = time.monotonic() - t0
        return {name: 100 * (sum(cpu_times(pid)) - before[name]) / elapsed for name, pid in self.pids.items()}

    def phase(self, camera_ids: list[int], viewers: int, repeats: int) -> dict:
        """`viewers` pages watching, spread over one session per camera in `camera_ids`."""
        sessions = [self.open(c) for c in camera_ids] if viewers else []
        try:
            for n in range(viewers):
                page = self.page(n)
                page.evaluate("() => { window.__pc?.close(); window.__video?.remove(); window.__video = null; }")
                joined = page.evaluate(VIEWER_JS, {"sessionId": sessions[n % len(sessions)], "token": self.token,
                                                   "ice": None, "policy": None, "reuse": None})
                assert joined["status"] == 204, joined
            for n in range(viewers):
                self.page(n).wait_for_function(f"() => ({FRAMES_JS})() > 5", timeout=60_000)
            before = [self.page(n).evaluate(FRAMES_JS) for n in range(viewers)]
            trials = [self.cpu() for _ in range(repeats)]
            after = [self.page(n).evaluate(FRAMES_JS) for n in range(viewers)]
        finally:
            for n in range(viewers):
                self.page(n).evaluate("() => { window.__pc?.close(); }")
            for session in sessions:
                self.stop(session)
        cpu = {name: statistics.median(t[name] for t in trials) for name in self.pids}
        fps = [round((a - b) / (self.window * repeats), 1) for a, b in zip(after, before, strict=True)]
        return {"cpu": cpu, "fps": fps, "uplink_kbit_s": self.uplink_kbit_s(sessions)}

    def uplink_kbit_s(self, sessions: list[str]) -> float:
        """What the box sent for `sessions` (ended), in kbit/s: each session's bytes over its own duration."""
        def ends():
            with self.stack.hub.db.session() as db:
                rows = db.scalars(select(AuditEntry).where(AuditEntry.action == "stream.end")).all()
                found = {r.details["session_id"]: r.details for r in rows if r.details["session_id"] in sessions}
            return found if len(found) == len(sessions) else None

        found = eventually(ends, timeout=30, what="the box's stream.end records") if sessions else {}
        return round(sum(d["bytes_sent"] * 8 / d["duration_s"] / 1000 for d in found.values()), 1)

    def first_frames(self, camera_id: int, trials: int, mode: str, watch: bool) -> list[tuple[float, ...]]:
        page = self.page(0)
        out = []
        for _ in range(trials + 1):  # the first is a warm-up
            ask = {"camera_id": camera_id, "mode": mode, "purpose": "other", "reason": REASON,
                   "case_number": "BENCH-4", **({"watch": True} if watch else {})}
            if mode == "playback":
                ask["at"] = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=20)).isoformat()
            page.evaluate("() => { window.__video?.remove(); window.__video = null; }")
            result = page.evaluate(FIRST_FRAME_JS, {"token": self.token, "ask": ask})
            assert "error" not in result, result
            out.append((result["api"], result["first"], result["gathered"], result["answered"]))
            time.sleep(1)
        return out[1:]


def per_viewer(phase: dict, idle: dict, viewers: int, name: str) -> float:
    return round((phase["cpu"][name] - idle["cpu"][name]) / viewers, 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=4, choices=range(1, 5))
    parser.add_argument("--window", type=float, default=10, help="seconds per CPU measurement")
    parser.add_argument("--repeats", type=int, default=3, help="measurements per phase (median kept)")
    parser.add_argument("--trials", type=int, default=10, help="click → first frame trials per mode")
    parser.add_argument("--first-frame-only", action="store_true",
                        help="measure click → first frame only (no CPU phases, no relay baseline)")
    parser.add_argument("--separate-join", action="store_true",
                        help="open without `watch`, then ask for a viewer token and join (the earlier console flow)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="canvass-bench-browsers-") as tmp:
        media, stack, camera, agent, camera_ids, token = setup(Path(tmp), args.cameras)
        try:
            time.sleep(25)  # footage to play back from 20 s ago
            pids = {"hub": os.getpid(), "sfu": media.janus.pid, "box": agent.process.pid}
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                bench = Bench(stack, token, browser, pids, args.window)
                one = camera_ids[:1]
                idle = phases = relay = None
                if not args.first_frame_only:
                    idle = bench.phase(one, 0, args.repeats)
                    phases = {f"one_camera_{n}": bench.phase(one, n, args.repeats) for n in (1, 4, MAX_VIEWERS)}
                if phases and len(camera_ids) > 1:
                    phases |= {f"{len(camera_ids)}_cameras_{n}": bench.phase(camera_ids, n, args.repeats)
                               for n in (len(camera_ids), MAX_VIEWERS)}
                live = bench.first_frames(one[0], args.trials, "live", not args.separate_join)
                playback = bench.first_frames(one[0], args.trials, "playback", not args.separate_join)
                if not args.first_frame_only:
                    relay = relay_phase(stack, bench, one, args.repeats)
                browser.close()
            sessions_opened = agent.log_text().count("to the hub: session")
        finally:
            agent.terminate()
            camera.close()
            stack.stop()
            media.stop()
    out = {"bench": "stream_browsers", "machine": f"{platform.machine()} {platform.platform()}",
           "cores": os.cpu_count(), "window_s": args.window, "repeats": args.repeats, "cameras": len(camera_ids)}
    out["join"] = "separate" if args.separate_join else "in the open answer (watch)"
    out["load_average_1min_at_end"] = round(os.getloadavg()[0], 2)
    if phases:
        out |= cpu_figures(phases, idle, relay, sessions_opened)
    for mode, results in (("", live), ("playback_", playback)):
        firsts = sorted(r[1] for r in results)
        out[f"browser_first_frame_{mode}median_s"] = round(statistics.median(firsts), 3)
        out[f"browser_first_frame_{mode}p95_s"] = round(percentile(firsts, 0.95), 3)
        out[f"browser_first_frame_{mode}all_s"] = [round(f, 3) for f in firsts]
        # Where the time goes, medians from the click: the API answered, ICE gathered, the answer taken.
        for i, step in ((0, "api"), (2, "gathered"), (3, "answered")):
            out[f"browser_first_frame_{mode}{step}_median_s"] = round(statistics.median(r[i] for r in results), 3)
    print_figures(out, args.json)
    return 0


def relay_phase(stack: HubStack, bench: Bench, one: list[int], repeats: int) -> dict:
    """The same phase with the hub's own aiortc relay in place of the SFU (the baseline)."""
    service = stack.hub.streams
    sfu_media, service.media = service.media, RelayMedia(rtc.IceSettings(("127.0.0.1",)))
    try:
        return bench.phase(one, 1, repeats)
    finally:
        service.media.close()
        service.media = sfu_media


def cpu_figures(phases: dict, idle: dict, relay: dict, sessions_opened: int) -> dict:
    out = {}
    first = phases["one_camera_1"]
    out["hub_cpu_pct_per_viewer"] = per_viewer(first, idle, 1, "hub")
    out["sfu_cpu_pct_per_viewer"] = per_viewer(first, idle, 1, "sfu")
    out["box_cpu_pct"] = round(first["cpu"]["box"], 2)
    out["box_cpu_pct_4_viewers_one_camera"] = round(phases["one_camera_4"]["cpu"]["box"], 2)
    out["box_cpu_pct_no_viewer"] = round(idle["cpu"]["box"], 2)
    out["box_sessions_opened_total"] = sessions_opened  # one per session the bench opened (phases and trials)
    out["box_uplink_kbit_s_1_viewer"] = first["uplink_kbit_s"]
    out["box_uplink_kbit_s_4_viewers_one_camera"] = phases["one_camera_4"]["uplink_kbit_s"]
    for name, phase in phases.items():
        viewers = int(name.rsplit("_", 1)[1])
        out[f"{name}_hub_pct_per_viewer"] = per_viewer(phase, idle, viewers, "hub")
        out[f"{name}_sfu_pct_per_viewer"] = per_viewer(phase, idle, viewers, "sfu")
        out[f"{name}_box_pct"] = round(phase["cpu"]["box"], 2)
        out[f"{name}_fps"] = phase["fps"]
        out[f"{name}_box_uplink_kbit_s"] = phase["uplink_kbit_s"]
    out["idle_hub_pct"], out["idle_sfu_pct"] = round(idle["cpu"]["hub"], 2), round(idle["cpu"]["sfu"], 2)
    out["baseline_relay_hub_cpu_pct_per_viewer"] = per_viewer(relay, idle, 1, "hub")
    out["baseline_relay_fps"] = relay["fps"]
    return out


if __name__ == "__main__":
    sys.exit(main())
