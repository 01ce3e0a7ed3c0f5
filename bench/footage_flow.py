"""A footage request end to end on loopback: the owner's approval → the clip verified at the hub, for a
10-minute 1080p15 window, while the box keeps recording.

Set-up (once): mosquitto with the hub's config and the hub (API + MQTT link) in this process (`HubStack`), an
enrolled box whose data directory already holds 11 minutes of camera cam1 from an hour ago (the simulator's
1080p15 ~3 Mbit/s clip written through the recorder's own `SegmentFile`, 60 s segments, hashed and indexed as
closed: `bench.clip_cut.record`), then `canvass-edge run` recording two live simulated cameras, cam1 and cam2
(default 60 s segments). cam1's owner shares on request.

Each run: an analyst asks for cam1's 10-minute window (POST /api/footage-requests, not timed), the history is
dropped from the page cache (footage an hour old), then the clock starts at the owner's POST …/decision and
stops when the request is "delivered" (the hub has verified the clip into the case). Stages, from what can be
seen from outside: `order` (the decision answered: grant signed and audited, the box took the order), `cut`
(until the box's manifest.json is written: cut, hashed, signed), `upload` (until the hub's staging file holds
every byte: manifest PUT, tus creation, PATCHes), `verify` (until "delivered": the hub's SHA-256 and signature
check, the copy into the clip store, the Clip row and audit entry). CPU from /proc over each stage: the agent
process (all threads; it records both cameras throughout, so its recording-only CPU is measured first) and
this process as "hub" (the hub runs in it; the bench's own polling is in the figure too).

Baseline, each run, straight after: `export_clip_blocking` of the same window in this process with the history
evicted again (what the box's cut stage does, alone), so a reader can judge the machine's speed that day.

Recording loss: after the runs, once the live segments covering them are closed, every packet of cam1 and cam2
is read back (demux, no decode) and, over each run's interval, the frames recorded are compared with what a
15 fps camera sent, and the holes in the frame times are counted (a step of k frame intervals is k − 1 frames
lost).

    .venv/bin/python bench/footage_flow.py --runs 3 --json
    .venv/bin/python bench/footage_flow.py --runs 3 --no-upload-limit --json
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import av  # noqa: E402
from sqlalchemy import select  # noqa: E402

from bench.clip_cut import evict_files, record  # noqa: E402
from bench.measure import cpu_times, print_figures  # noqa: E402
from edge.clips.export import export_clip_blocking  # noqa: E402
from edge.clips.manifest import BoxSigner  # noqa: E402
from edge.recording.index import SegmentIndex  # noqa: E402
from edge.recording.storage import Layout  # noqa: E402
from hub.clips.staging import upload_id  # noqa: E402
from hub.tables import Clip, FootageRequest, Incident, Role  # noqa: E402
from sim.process import CameraProcess  # noqa: E402
from tests.cut_support import enrol  # noqa: E402
from tests.edge_support import EdgeProcess, wait_for  # noqa: E402
from tests.hub_support import HubStack, eventually  # noqa: E402

FPS = 15
HERE = (40.7128, -74.0060)
REQUEST_ONLY = {"sharing": "request_only", "modes": ["playback", "clip"]}
NO_LIMIT = 10**10  # the largest `clips.upload_max_bytes_per_s` the box accepts: no limit in effect
POLL_S = 0.01
RUN_TIMEOUT_S = 180


@dataclass
class Flow:
    """Everything a run needs: the stack, the box, the people, the window asked for."""

    stack: HubStack
    camera: CameraProcess
    agent: EdgeProcess
    layout: Layout
    camera_id: int
    owner: str
    analyst: str
    incident: int
    window: tuple[int, int]
    history: list[Path]


def _utc(us: int) -> str:
    return dt.datetime.fromtimestamp(us / 1_000_000, dt.UTC).isoformat()


def synthesise_history(layout: Layout, minutes: int) -> tuple[tuple[int, int], list[Path]]:
    """`minutes` + 1 of cam1 starting about an hour ago, closed and indexed; the window (30.5 s into the first
    segment, so minutes + 1 segments are read) and the segment files."""
    start_us = (int(time.time()) - 3600) // 60 * 60 * 1_000_000
    index = SegmentIndex(layout.index_path)
    try:
        record(layout, index, minutes=minutes + 1, segment_s=60, start_us=start_us, camera="cam1")
        paths = [layout.absolute(s.path) for s in index.segments("cam1")]
    finally:
        index.close()
    from_us = start_us + 30_500_000
    return (from_us, from_us + minutes * 60_000_000), paths


def setup(root: Path, args: argparse.Namespace) -> Flow:
    stack = HubStack(root).start()
    business_id, owner = stack.business_with_owner("Bench Bakery")
    data_dir = root / "box"
    stack.enroll(stack.claim_code(owner, business_id), data_dir / "identity", "bench-box").check_returncode()
    layout = Layout(data_dir)
    window, history = synthesise_history(layout, args.minutes)
    camera = CameraProcess(count=2, cache_dir=REPO / ".cache" / "sim", log_path=root / "sim.log").start()
    agent = EdgeProcess(root / "edge", camera.urls, data_dir=data_dir)
    clips = {"upload_max_bytes_per_s": NO_LIMIT if args.no_upload_limit else None,
             "upload_chunk_bytes": args.chunk_kib * 1024 if args.chunk_kib else None}
    if any(clips.values()):
        with agent.config.open("a") as config:
            config.write("[clips]\n" + "".join(f"{k} = {v}\n" for k, v in clips.items() if v))
    agent.start()
    for name in ("cam1", "cam2"):
        eventually(lambda name=name: stack.recording_camera(name), timeout=90, what=f"{name} recording at the hub")
    camera_id = stack.recording_camera("cam1")
    with stack.client(owner) as c:
        c.put(f"/api/cameras/{camera_id}/consent", json=REQUEST_ONLY).raise_for_status()
        c.patch(f"/api/cameras/{camera_id}", json={"latitude": HERE[0], "longitude": HERE[1],
                                                    "view_direction_deg": 90}).raise_for_status()
    stack.add_user("ana", "correct-horse-battery", Role.ANALYST, unit="Robbery")
    return Flow(stack, camera, agent, layout, camera_id, owner, stack.login("ana", "correct-horse-battery"),
                _incident(stack), window, history)


def _incident(stack: HubStack) -> int:
    with stack.hub.db.session() as session:
        row = Incident(external_id="CAD-BENCH-1", source="cad", type="robbery", priority=1, latitude=HERE[0],
                       longitude=HERE[1], address="1 Main St", reported_at=dt.datetime.now(dt.UTC),
                       created_by="cad")
        session.add(row)
        session.flush()
        return row.id


def ask(flow: Flow, n: int) -> int:
    body = {"camera_ids": [flow.camera_id], "window_from": _utc(flow.window[0]), "window_to": _utc(flow.window[1]),
            "purpose": "violent_crime", "reason": "benchmark: approval to verified clip",
            "case_number": f"BENCH-{n}", "incident_id": flow.incident}
    with flow.stack.client(flow.analyst) as c:
        r = c.post("/api/footage-requests", json=body)
    r.raise_for_status()
    result = r.json()["results"][0]
    assert result["status"] == "pending", result
    return result["request_id"]


class Marks:
    """(wall time, agent CPU s, this process's CPU s) at named moments."""

    def __init__(self, agent_pid: int):
        self.agent_pid, self.at = agent_pid, {}

    def mark(self, name: str) -> None:
        self.at[name] = (time.time(), sum(cpu_times(self.agent_pid)), sum(cpu_times(os.getpid())))

    def stage(self, start: str, end: str) -> dict:
        (t0, a0, h0), (t1, a1, h1) = self.at[start], self.at[end]
        return {"s": t1 - t0, "agent_cpu_pct": 100 * (a1 - a0) / (t1 - t0), "hub_cpu_pct": 100 * (h1 - h0) / (t1 - t0)}


def _request(flow: Flow, request_id: int) -> FootageRequest:
    with flow.stack.hub.db.session() as session:
        row = session.get(FootageRequest, request_id)
        session.expunge(row)
        return row


def _poll(flow: Flow, request_id: int, done, what: str):
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while not (value := done()):
        if time.monotonic() > deadline:
            row = _request(flow, request_id)
            raise RuntimeError(f"timed out waiting for {what}: {row.status} {row.clip_stage} {row.clip_detail}\n"
                               + flow.agent.log_text()[-3000:])
        time.sleep(POLL_S)
    return value


def one_run(flow: Flow, n: int) -> dict:
    """Approve one request and time it to "delivered"; the figures of the run."""
    request_id = ask(flow, n)
    evict_files(flow.history)
    marks = Marks(flow.agent.process.pid)
    marks.mark("approve")
    with flow.stack.client(flow.owner) as c:
        r = c.post(f"/api/footage-requests/{request_id}/decision", json={"approve": True, "note": "bench"})
    r.raise_for_status()
    marks.mark("ordered")
    staged = flow.stack.settings.uploads_dir / upload_id(_request(flow, request_id).upload_token_hash)
    box_clip = flow.layout.cut_clips / str(request_id)
    _poll(flow, request_id, lambda: (box_clip / "manifest.json").exists(), "the cut")
    marks.mark("cut")
    size = (box_clip / "clip.mp4").stat().st_size
    _poll(flow, request_id, _all_bytes_in(staged, size), "every byte at the hub")
    marks.mark("bytes")
    _poll(flow, request_id, lambda: _request(flow, request_id).status == "delivered", "delivered")
    marks.mark("delivered")
    with flow.stack.hub.db.session() as session:
        clip = session.scalar(select(Clip).where(Clip.request_id == request_id))
        assert clip is not None and clip.verified, clip and clip.verification
    total = marks.stage("approve", "delivered")
    upload = marks.stage("cut", "bytes")
    eventually(lambda: _request(flow, request_id).clip_stage == "uploaded", timeout=30, what="the box's report")
    return {"request_id": request_id, "clip_bytes": size, "interval_us": (int(marks.at["approve"][0] * 1e6),
                                                                          int(marks.at["delivered"][0] * 1e6)),
            "approval_to_verified_s": total["s"], "order": marks.stage("approve", "ordered"),
            "cut": marks.stage("ordered", "cut"), "upload": upload, "verify": marks.stage("bytes", "delivered"),
            "agent_cpu_pct": total["agent_cpu_pct"], "hub_cpu_pct": total["hub_cpu_pct"],
            "upload_mib_s": size / 2**20 / upload["s"]}


def _all_bytes_in(path: Path, size: int):
    """A predicate: the hub's staging file of the upload holds `size` bytes (or was there and is gone: taken in)."""
    seen = False

    def check() -> bool:
        nonlocal seen
        try:
            held = path.stat().st_size
        except FileNotFoundError:
            return seen
        seen = True
        return held >= size
    return check


def baseline(flow: Flow, signer: BoxSigner, out: Path) -> dict:
    """The same window exported in this process (the box's cut stage alone), the history evicted first."""
    evict_files(flow.history)
    index = SegmentIndex(flow.layout.index_path, readonly=True)
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        exported = export_clip_blocking(index=index, recordings_dir=flow.layout.recordings, signer=signer,
                                        camera="cam1", from_us=flow.window[0], to_us=flow.window[1], out_dir=out)
    finally:
        index.close()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    shutil.rmtree(out)
    return {"export_s": wall, "export_cpu_s": cpu, "export_mb_s": exported.clip_bytes / 1e6 / wall}


def frame_times(flow: Flow, camera: str, from_us: int, to_us: int) -> list[int]:
    """When each frame of `camera` recorded in [from_us, to_us) was taken (segment start + packet pts), from the
    closed segments, by demuxing (no decode)."""
    index = flow.agent.index()
    try:
        segments = index.segments(camera, from_us=from_us, to_us=to_us)
    finally:
        index.close()
    times = []
    for segment in segments:
        with av.open(str(flow.layout.absolute(segment.path))) as container:
            stream = container.streams.video[0]
            times += [segment.start_us + int(p.pts * stream.time_base * 1_000_000)
                      for p in container.demux(stream) if p.size and p.pts is not None]
    return sorted(times)


def holes(times: list[int], interval: tuple[int, int]) -> dict:
    """Frames recorded in `interval` against a 15 fps camera, and the frames missing from the steps between
    consecutive frame times that touch it."""
    start, end = interval
    step = 1_000_000 / FPS
    steps = [b - a for a, b in itertools.pairwise(times) if b >= start and a < end]
    return {"frames": sum(start <= t < end for t in times), "sent": round((end - start) / step),
            "lost": sum(max(0, round(s / step) - 1) for s in steps),
            "largest_step_ms": round(max(steps, default=0) / 1000, 1)}


def recording_loss(flow: Flow, intervals: list[tuple[int, int]]) -> dict:
    """Per live camera and run: frames recorded over the run's interval vs sent, frames lost, index gaps."""
    first, last = intervals[0][0], intervals[-1][1]
    result = {}
    for camera in ("cam1", "cam2"):
        wait_for(lambda camera=camera: any((s.end_us or 0) > last + 1_000_000
                                           for s in flow.agent.closed_segments(camera)),
                 timeout=150, what=f"{camera}'s segment covering the last run closed")
        times = frame_times(flow, camera, first - 1_000_000, last + 1_000_000)
        index = flow.agent.index()
        try:
            gaps = len(index.gaps(camera, from_us=first, to_us=last))
        finally:
            index.close()
        result[camera] = {"runs": [holes(times, interval) for interval in intervals], "index_gaps": gaps}
    return result


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def _median(values) -> float:
    return round(statistics.median(values), 2)


def figures(args: argparse.Namespace, runs: list[dict], baselines: list[dict], idle: dict, recording: dict,
            loads: list[tuple[float, float, float]]) -> dict:
    stages = ("order", "cut", "upload", "verify")
    lost = sum(r["lost"] for camera in recording.values() for r in camera["runs"])
    return {
        "bench": "footage_flow", "date": dt.date.today().isoformat(), "nproc": os.cpu_count(), "cpu": _cpu_model(),
        "loadavg_before": loads[0], "loadavg_after": loads[1], "window_minutes": args.minutes,
        "clip_bytes": runs[0]["clip_bytes"],
        "upload_limit_bytes_per_s": NO_LIMIT if args.no_upload_limit else "default (25 MiB/s)",
        "runs": len(runs),
        "approval_to_verified_s_median": _median(r["approval_to_verified_s"] for r in runs),
        "approval_to_verified_s_each": [round(r["approval_to_verified_s"], 2) for r in runs],
        **{f"{stage}_s_median": _median(r[stage]["s"] for r in runs) for stage in stages},
        **{f"{stage}_s_each": [round(r[stage]["s"], 2) for r in runs] for stage in stages},
        "upload_mib_s_median": _median(r["upload_mib_s"] for r in runs),
        "agent_cpu_pct_median": _median(r["agent_cpu_pct"] for r in runs),
        "agent_cpu_pct_each": [round(r["agent_cpu_pct"], 1) for r in runs],
        **{f"agent_cpu_{stage}_pct_median": _median(r[stage]["agent_cpu_pct"] for r in runs) for stage in stages},
        "agent_cpu_recording_only_pct": round(idle["agent_cpu_pct"], 2),
        "hub_cpu_pct_median": _median(r["hub_cpu_pct"] for r in runs),
        **{f"hub_cpu_{stage}_pct_median": _median(r[stage]["hub_cpu_pct"] for r in runs) for stage in stages},
        "hub_cpu_idle_pct": round(idle["hub_cpu_pct"], 2),
        "baseline_export_s_median": _median(b["export_s"] for b in baselines),
        "baseline_export_s_each": [round(b["export_s"], 2) for b in baselines],
        "baseline_export_cpu_s_median": _median(b["export_cpu_s"] for b in baselines),
        "recording_loss_frames": lost,
        "recording": {camera: {"frames": [r["frames"] for r in data["runs"]], "sent": [r["sent"] for r in data["runs"]],
                               "lost": [r["lost"] for r in data["runs"]],
                               "largest_step_ms": max(r["largest_step_ms"] for r in data["runs"]),
                               "index_gaps": data["index_gaps"]} for camera, data in recording.items()},
    }


def measure_runs(flow: Flow, root: Path, args: argparse.Namespace) -> tuple[list[dict], list[dict], dict]:
    signer = BoxSigner.from_identity(enrol(root / "baseline-identity", root / "baseline-ca", "dev-bench0000000")[0])
    time.sleep(args.settle)
    marks = Marks(flow.agent.process.pid)
    marks.mark("idle")
    time.sleep(args.idle_seconds)
    marks.mark("idle end")
    runs, baselines = [], []
    for n in range(args.runs):
        runs.append(one_run(flow, n + 1))
        baselines.append(baseline(flow, signer, root / f"baseline-{n}"))
        time.sleep(args.pause)
    return runs, baselines, marks.stage("idle", "idle end")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--minutes", type=int, default=10, help="length of the window asked for")
    parser.add_argument("--no-upload-limit", action="store_true",
                        help=f"clips.upload_max_bytes_per_s = {NO_LIMIT} (the most it takes) instead of the default")
    parser.add_argument("--chunk-kib", type=int, default=0, help="clips.upload_chunk_bytes in KiB (0: the default)")
    parser.add_argument("--settle", type=float, default=5, help="seconds after set-up before measuring")
    parser.add_argument("--idle-seconds", type=float, default=10, help="the agent's recording-only CPU window")
    parser.add_argument("--pause", type=float, default=2, help="seconds between runs")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not 1 <= args.runs <= 10:
        parser.error("--runs must be 1 to 10")
    with tempfile.TemporaryDirectory(prefix="canvass-bench-flow-") as tmp:
        root = Path(tmp)
        flow = setup(root, args)
        try:
            loads = [os.getloadavg()]
            runs, baselines, idle = measure_runs(flow, root, args)
            loads.append(os.getloadavg())
            recording = recording_loss(flow, [r["interval_us"] for r in runs])
        finally:
            flow.agent.terminate()
            flow.camera.close()
            flow.stack.stop()
    print_figures(figures(args, runs, baselines, idle, recording, [tuple(round(x, 2) for x in l) for l in loads]),
                  args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
