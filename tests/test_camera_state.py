"""The box's camera reports: recording status and the owner's pause, each change reported once, in order;
the pause read from the real consent store that `canvass-edge pause` writes from another process."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

from edge.consent.guard import ConsentGuard
from edge.link.camera_state import CameraStateReporter
from wire import messages as m

REPO = Path(__file__).resolve().parents[1]


def reporter(tmp_path: Path) -> tuple[CameraStateReporter, ConsentGuard, list[m.CameraStatus]]:
    guard = ConsentGuard(tmp_path / "consent.sqlite3", cameras=["front", "back"])
    sent: list[m.CameraStatus] = []
    return CameraStateReporter(sent.append, guard.paused_cameras), guard, sent


def facts(sent: list[m.CameraStatus]) -> list[tuple[str, str, bool]]:
    return [(s.camera, s.status, s.paused) for s in sent]


def test_a_pause_and_a_resume_are_reported_once_each_with_the_recording_status(tmp_path: Path):
    reports, guard, sent = reporter(tmp_path)
    reports.capture_state("front", "online", "")
    assert reports.check_pauses() == 0  # nothing changed
    guard.pause("front")
    assert reports.check_pauses() == 1 and reports.check_pauses() == 0
    reports.capture_state("front", "offline", "connection refused")  # still paused: said again with the status
    guard.resume("front")
    reports.check_pauses()
    assert facts(sent) == [("front", "recording", False), ("front", "recording", True),
                           ("front", "offline", True), ("front", "offline", False)]
    assert sent[2].detail == "connection refused"
    guard.close()


def test_a_pause_of_every_camera_reaches_each_camera_the_capture_has_reported(tmp_path: Path):
    reports, guard, sent = reporter(tmp_path)
    guard.pause()  # every camera, before any capture state: reported with the first state
    reports.capture_state("front", "online", "")
    reports.capture_state("back", "starting", "")  # not a state the hub hears of
    assert reports.check_pauses() == 0
    assert facts(sent) == [("front", "recording", True)]
    guard.resume()
    reports.check_pauses()
    assert facts(sent)[-1] == ("front", "recording", False)
    guard.close()


def test_without_a_consent_guard_nothing_is_paused(tmp_path: Path):
    sent: list[m.CameraStatus] = []
    reports = CameraStateReporter(sent.append)
    reports.capture_state("front", "online", "")
    assert reports.check_pauses() == 0 and facts(sent) == [("front", "recording", False)]
    assert sent[0].sharing_paused is None  # the bytes a hub that predates the field takes


def test_the_loop_notices_the_owners_pause_command_within_a_couple_of_seconds(tmp_path: Path):
    """`canvass-edge pause` in its own process writes the store; the running loop reports it."""
    config = tmp_path / "edge.toml"
    config.write_text(f'[appliance]\nid = "shop-1"\ndata_dir = "{tmp_path}"\n'
                      '[[cameras]]\nname = "front"\nurl = "rtsp://127.0.0.1:9/cam1"\n')
    guard = ConsentGuard(tmp_path / "consent.sqlite3", cameras=["front"])
    sent: list[m.CameraStatus] = []

    async def scenario() -> float:
        reports = CameraStateReporter(sent.append, guard.paused_cameras, interval_s=0.2)
        await reports.async_start()
        reports.capture_state("front", "online", "")
        done = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "edge.cli", "pause", "--camera",
                                                        "front", "--config", str(config)], cwd=REPO, timeout=60)
        assert done.returncode == 0
        paused_at = time.monotonic()
        while not (sent and sent[-1].paused) and time.monotonic() - paused_at < 5:
            await asyncio.sleep(0.05)
        noticed = time.monotonic() - paused_at
        await reports.async_stop()
        return noticed

    assert asyncio.run(scenario()) < 2
    assert facts(sent) == [("front", "recording", False), ("front", "recording", True)]
    guard.close()
