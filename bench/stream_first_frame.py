"""Click-to-first-frame for "stream now", live (or playback with --mode playback), on loopback.

Sets up everything itself: a simulated 1080p15 camera (GStreamer RTSP), a real
mosquitto with the hub's generated TLS config, the hub (API on uvicorn + MQTT
link + stream service) in this process, and an enrolled `canvass-edge run`
agent recording the camera. Then, `--trials` times: the analyst's
`POST /api/streams` (hub consent checks, grant audited and signed, appliance
judges it, WebRTC appliance → hub), a viewer peer (aiortc, as a browser would)
joining with a viewer token (`POST /api/streams/{id}/viewers`, `/viewers/join`,
`/viewers/{viewer}/answer`), and the clock stops at the first *decoded* frame at
that viewer. The hub runs its aiortc relay (`stream_media = relay`); through the
SFU with Chromium viewers see `stream_browsers.py`. The stream is stopped between trials.

Prints one JSON object (with --json): median_s, p95_s, every trial, and the
split of the median into "API call answered" and "viewer's first frame".
With `--mode playback` each trial plays from `--back` seconds ago out of the
box's recorded segments instead.

    .venv/bin/python bench/stream_first_frame.py --trials 20 --json
    .venv/bin/python bench/stream_first_frame.py --trials 20 --json --mode playback
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from aiortc import RTCPeerConnection, RTCSessionDescription  # noqa: E402

from bench.measure import percentile, print_figures  # noqa: E402
from hub.tables import Role  # noqa: E402
from sim.process import CameraProcess  # noqa: E402
from tests.edge_support import EdgeProcess  # noqa: E402
from tests.hub_support import HubStack, eventually  # noqa: E402
from wire import rtc  # noqa: E402

REASON = "benchmark: time from Stream now to the first frame"


def setup(root: Path):
    stack = HubStack(root).start()
    business_id, owner = stack.business_with_owner("Bench Bakery")
    code = stack.claim_code(owner, business_id)
    data_dir = root / "box"
    stack.enroll(code, data_dir / "identity", "bench-box").check_returncode()
    camera = CameraProcess(count=1, cache_dir=REPO / ".cache" / "sim", log_path=root / "sim.log").start()
    agent = EdgeProcess(root / "edge", camera.urls, data_dir=data_dir).start()
    camera_id = eventually(stack.recording_camera, timeout=90, what="the camera recording at the hub")
    with stack.client(owner) as c:
        c.put(f"/api/cameras/{camera_id}/consent",
              json={"sharing": "always", "modes": ["live", "playback"]}).raise_for_status()
    stack.add_user("bench", "correct-horse-battery", Role.ANALYST)
    return stack, camera, agent, camera_id, stack.login("bench", "correct-horse-battery")


async def viewer_first_frame(base_url: str, token: str, session_id: str) -> float:
    """A browser-like viewer: a viewer token, the hub's offer for it, an answer (ICE gathered), the first decoded
    frame."""
    import httpx

    pc = RTCPeerConnection(rtc.configuration(rtc.IceSettings(("127.0.0.1",))))
    try:
        got = asyncio.get_running_loop().create_future()
        pc.on("track", lambda track: got.set_result(track) if not got.done() else None)
        async with httpx.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {token}"},
                                     timeout=30) as client:
            viewers = f"/api/streams/{session_id}/viewers"
            ticket = (await client.post(viewers)).raise_for_status().json()
            joined = (await client.post(f"{viewers}/join", json={"token": ticket["token"]})).raise_for_status().json()
            await pc.setRemoteDescription(RTCSessionDescription(sdp=joined["sdp"], type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
            (await client.post(f"{viewers}/{joined['viewer_id']}/answer",
                               json={"sdp": pc.localDescription.sdp})).raise_for_status()
        track = await asyncio.wait_for(got, 10)
        await asyncio.wait_for(track.recv(), 10)
        return time.perf_counter()
    finally:
        await pc.close()


def trial(stack: HubStack, token: str, camera_id: int, mode: str = "live", back_s: float = 20) -> tuple[float, float]:
    ask = {"camera_id": camera_id, "mode": mode, "purpose": "other", "reason": REASON, "case_number": "BENCH-1"}
    if mode == "playback":
        ask["at"] = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=back_s)).isoformat()
    start = time.perf_counter()
    with stack.client(token) as c:
        r = c.post("/api/streams", json=ask)
        r.raise_for_status()
        answered = time.perf_counter()
        session_id = r.json()["session_id"]
        first = asyncio.run(viewer_first_frame(stack.server.url, token, session_id))
        c.delete(f"/api/streams/{session_id}").raise_for_status()
    return answered - start, first - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--pause", type=float, default=1.0, help="seconds between trials")
    parser.add_argument("--mode", choices=("live", "playback"), default="live")
    parser.add_argument("--back", type=float, default=20, help="playback: start this many seconds ago")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="canvass-bench-stream-") as tmp:
        stack, camera, agent, camera_id, token = setup(Path(tmp))
        try:
            time.sleep(3 if args.mode == "live" else args.back + 5)  # a GOP in the cache, or footage to play
            trial(stack, token, camera_id, args.mode, args.back)  # warm-up (imports, codec setup), not counted
            results = []
            for _ in range(args.trials):
                time.sleep(args.pause)
                results.append(trial(stack, token, camera_id, args.mode, args.back))
        finally:
            agent.terminate()
            camera.close()
            stack.stop()
    firsts = sorted(f for _, f in results)
    out = {"bench": "stream_first_frame", "mode": args.mode, "machine": f"{platform.machine()} {platform.platform()}",
           "trials": len(results), "median_s": round(statistics.median(firsts), 3), "p95_s": round(percentile(firsts, 0.95), 3),
           "max_s": round(firsts[-1], 3),
           "api_answered_median_s": round(statistics.median(a for a, _ in results), 3),
           "all_s": [round(f, 3) for _, f in results]}
    print_figures(out, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
