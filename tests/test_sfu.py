"""Streams through the SFU (a real Janus) and TURN (a real coturn), watched by real Chromium viewers.

The box publishes each session once; every viewer subscribes at Janus with a single-use token from the hub; the
room is destroyed when the session ends; relay-only browsers play through coturn with the hub's time-limited
credentials and not with wrong or expired ones."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import sync_playwright

from edge.recording.h264 import nal_type
from hub.turn import turn_credentials
from tests.browser_support import ARGS, CHROMIUM, VIEWPORT
from tests.console_support import sign_in
from tests.hub_support import HubStack, eventually
from tests.owner_support import put_consent
from sim.media_servers import machine_address
from tests.sfu_support import (FRAMES_JS, VIEWER_JS, CameraPackets, received_nals, relay_candidates,
                                start_media_servers)
from tests.test_streaming import LIVE, REASON, actions, enrolled_box, ended_session

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def media_servers(tmp_path_factory):
    servers = start_media_servers(tmp_path_factory.mktemp("sfu"))
    yield servers
    servers.stop()


@pytest.fixture
def sfu_stack(tmp_path: Path, media_servers):
    stack = HubStack(tmp_path, **media_servers.hub_settings()).start()
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def chromium():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def viewer_page(chromium, stack: HubStack):
    """A fresh browser context (its own cookies and peer connections) on a page the hub serves."""
    context = chromium.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.goto(stack.server.url + "/api/health")
    return page


def open_live(stack: HubStack, box, **options) -> uuid.UUID:
    return uuid.UUID(open_live_body(stack, box, **options)["session_id"])


def open_live_body(stack: HubStack, box, **options) -> dict:
    with stack.client(box.analyst) as c:
        r = c.post("/api/streams", json={"camera_id": box.camera_id, "mode": "live", "purpose": "violent_crime",
                                         "reason": REASON, "case_number": "2026-004711", **options})
    assert r.status_code == 201, r.text
    return r.json()


def watch(page, stack: HubStack, box, session_id: uuid.UUID, **options) -> dict:
    return page.evaluate(VIEWER_JS, {"sessionId": str(session_id), "token": box.analyst, "ice": None,
                                     "policy": None, "reuse": None, "encoded": 0, **options})


def frames(page) -> int:
    return page.evaluate(FRAMES_JS)


def wait_frames(page, more_than: int, timeout_ms: int = 20_000) -> None:
    page.wait_for_function(f"() => ({FRAMES_JS})() > {more_than}", timeout=timeout_ms)


def box_sessions_opened(box) -> int:
    return box.agent.log_text().count("to the hub: session")


def test_two_viewers_one_box_session_revocation_ends_both_and_tokens_work_once(
        sfu_stack: HubStack, media_servers, cameras, edge, tmp_path: Path, chromium, screenshots: Path):
    box = enrolled_box(sfu_stack, cameras, edge, tmp_path, ice_host_addresses=[machine_address()])
    camera = CameraPackets(box.rtsp_url)  # the camera's own H.264, to compare what a browser receives with
    camera.start()
    eventually(lambda: camera.packets > 40, timeout=30, what="the camera's own packets")  # > a GOP back
    # The analyst opens the session and is joined at once (`watch`): the SFU's offer comes with the answer.
    opened = open_live_body(sfu_stack, box, watch=True)
    session_id, first = uuid.UUID(opened["session_id"]), opened["viewer"]
    assert opened["viewer_error"] == "" and first["type"] == "offer" and "m=video" in first["sdp"], opened
    pages = [viewer_page(chromium, sfu_stack) for _ in range(3)]
    watching = [watch(pages[0], sfu_stack, box, session_id, first=first),
                watch(pages[1], sfu_stack, box, session_id, encoded=45)]
    assert [joined["status"] for joined in watching] == [204, 204], watching
    for page in pages[:2]:
        wait_frames(page, 15)
    assert box_sessions_opened(box) == 1  # one upload from the box, however many watch

    # The second browser's frames, as they left Chromium's depacketizer for its decoder, are the camera's own:
    # every NAL unit of 45 frames (three seconds, keyframes among them) byte for byte as the camera sent it.
    pages[1].wait_for_function("() => window.__encoded.length >= 45", timeout=20_000)
    frames_in = pages[1].evaluate("() => window.__encoded")
    assert any(f["type"] == "key" for f in frames_in)  # (it may join mid-GOP: deltas until the box's replay)
    units = received_nals(frames_in)
    assert all(any(nal_type(n) in (1, 5) for n in frame) for frame in units)  # each a picture: slices, compared
    deadline = time.monotonic() + 20  # the reference may lag on a loaded machine: bounded time to catch up
    while time.monotonic() < deadline and not all(n in camera.nals for frame in units for n in frame):
        time.sleep(0.1)
    camera.stop.set()
    changed = [i for i, frame in enumerate(units) if not frame or any(n not in camera.nals for n in frame)]
    assert not changed, f"frames {changed} of {len(units)} in the browser are not the camera's"

    # A third browser: a forged token, then the second viewer's token again: refused, no media.
    forged = watch(pages[2], sfu_stack, box, session_id, reuse="forged-" + "x" * 40)
    assert forged["status"] == 403 and "not valid" in forged["detail"]
    used = pages[1].evaluate("() => window.__viewerToken")
    reused = watch(pages[2], sfu_stack, box, session_id, reuse=used)
    assert reused["status"] == 403
    assert frames(pages[2]) == 0
    # With a token of its own it plays; closing its connection is on the record as the viewer leaving.
    third = watch(pages[2], sfu_stack, box, session_id)
    assert third["status"] == 204
    wait_frames(pages[2], 5)
    pages[2].evaluate("() => window.__pc.close()")
    [left] = eventually(lambda: actions(sfu_stack, "stream.view_end"), timeout=10, what="the third viewer leaving")
    assert left.details["viewer_id"] == third["viewerId"] and "connection ended" in left.details["ended"]
    views = actions(sfu_stack, "stream.view")
    assert [e.outcome for e in views] == ["success", "success", "failure", "failure", "success"]
    assert all(e.details["session_id"] == str(session_id) for e in views)
    pages[0].screenshot(path=screenshots / "sfu-viewer-playing.png")

    # Janus itself serves nobody without the hub's token, and its admin API nobody without the secret.
    refused = httpx.post(media_servers.janus_files.api_url, json={"janus": "create", "transaction": "t"}).json()
    assert refused["janus"] == "error" and refused["error"]["code"] == 403
    refused = httpx.post(media_servers.janus_files.admin_url, json={
        "janus": "add_token", "token": "mine", "transaction": "t", "admin_secret": "guessed"}).json()
    assert refused["janus"] == "error" and refused["error"]["code"] == 403

    # The owner revokes consent: the box ends its one session, the hub destroys the room, both browsers stop.
    with sfu_stack.client(box.owner) as c:
        assert put_consent(c, box.camera_id, {**LIVE, "sharing": "off"}).status_code == 200
    revoked_at = time.time()
    row = ended_session(sfu_stack, session_id)
    assert row.end_reason == "the owner stopped sharing this camera"
    assert row.ended_at.timestamp() - revoked_at < 2.0  # the deadline, at the box
    for page in pages[:2]:
        page.wait_for_function("() => ['failed', 'closed', 'disconnected'].includes(window.__pc.connectionState)",
                               timeout=10_000)
    last_frames = [page.evaluate("() => window.__lastFrameAt") / 1000 for page in pages[:2]]
    assert all(last - revoked_at < 2.0 for last in last_frames), [last - revoked_at for last in last_frames]
    shown = [frames(page) for page in pages[:2]]
    pages[0].wait_for_timeout(1000)
    assert [frames(page) for page in pages[:2]] == shown  # nothing more arrives
    ends = [e for e in actions(sfu_stack, "stream.view_end") if e.details["ended"].startswith("the session ended")]
    assert len(ends) == 2 and {e.details["viewer_id"] for e in ends} == {joined["viewerId"] for joined in watching}
    pages[0].screenshot(path=screenshots / "sfu-viewer-ended.png")
    assert not sfu_stack.hub.streams.sessions


def selected_candidate_type(page) -> str:
    return page.evaluate("""async () => {
        const stats = [...(await window.__pc.getStats()).values()];
        const pair = stats.find((s) => s.type === "candidate-pair" && s.nominated && s.state === "succeeded");
        return pair ? stats.find((s) => s.id === pair.localCandidateId).candidateType : "none";
    }""")


def test_relay_only_browsers_play_through_coturn_with_the_hubs_credentials_only(
        tmp_path: Path, media_servers, cameras, edge, chromium):
    stack = HubStack(tmp_path, **media_servers.hub_settings(), viewer_ice_transport_policy="relay").start()
    try:
        # The box too sends only through coturn, with the credentials the hub made for the session.
        box = enrolled_box(stack, cameras, edge, tmp_path, ice_host_addresses=[machine_address()], relay_only=True)
        session_id = open_live(stack, box)
        assert f"box-{session_id.hex}" in eventually(
            lambda: media_servers.log("coturn") if f"box-{session_id.hex}" in media_servers.log("coturn") else None,
            timeout=10, what="the box's allocation at coturn")
        page = viewer_page(chromium, stack)
        joined = watch(page, stack, box, session_id)
        assert joined["status"] == 204, joined
        [server] = joined["iceServers"]
        assert server["urls"] == [media_servers.turn_url] and server["credential"]
        expiry = int(server["username"].split(":")[0])
        assert expiry > time.time() + 3600  # the hub's credentials: time-limited, a day by default
        assert joined["candidates"] and all(" typ relay" in c for c in joined["candidates"])
        wait_frames(page, 15)
        assert selected_candidate_type(page) == "relay"

        # Wrong password, and a user name whose time has passed (signed with the right secret): no relay, no media.
        expired = turn_credentials(media_servers.turn_secret, "viewer-late", now=time.time() - 7200, ttl_s=600)
        for username, credential in ((server["username"], "not-the-password"),
                                     (expired.username, expired.credential)):
            refused = viewer_page(chromium, stack)
            result = watch(refused, stack, box, session_id, policy="relay",
                           ice=[{"urls": [media_servers.turn_url], "username": username, "credential": credential}])
            assert result["status"] == 204 and result["candidates"] == []
            refused.wait_for_function("() => ['failed', 'closed'].includes(window.__pc.iceConnectionState)"
                                      " || window.__pc.iceGatheringState === 'complete'", timeout=10_000)
            refused.wait_for_timeout(1500)
            assert frames(refused) == 0 and selected_candidate_type(refused) == "none"
        assert "401" in media_servers.log("coturn") or "unauthorized" in media_servers.log("coturn").lower()
        # The box's side: the hub's credentials give a relayed candidate; wrong or expired ones give none.
        right = turn_credentials(media_servers.turn_secret, "box-probe", now=time.time(), ttl_s=600)
        gathered = relay_candidates(media_servers.turn_url, right.username, right.credential)
        assert gathered and all(" typ relay" in c for c in gathered)
        assert relay_candidates(media_servers.turn_url, right.username, "not-the-password") == []
        assert relay_candidates(media_servers.turn_url, expired.username, expired.credential) == []
    finally:
        stack.stop()


class DemoRun:
    """`python -m sim.demo` in the background, its output collected line by line."""

    def __init__(self, folder: Path, cameras: int) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen([sys.executable, "-m", "sim.demo", "--dir", str(folder), "--cameras",
                                      str(cameras), "--seconds", "600"], cwd=REPO, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.reader = threading.Thread(target=lambda: self.lines.extend(self.proc.stdout), daemon=True)
        self.reader.start()

    def line(self, pattern: str, timeout: float = 240) -> re.Match:
        def found():
            assert self.proc.poll() is None, "the demo exited:\n" + "".join(self.lines[-40:])
            return next((m for m in map(re.compile(pattern).search, list(self.lines)) if m), None)
        return eventually(found, timeout=timeout, what=pattern)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def open_player(page, n: int, tries: int = 10) -> int:
    """Stream now from camera `n` into the next player; how many times it was refused first. The demo's owner
    shares the cameras just after they appear and the box takes the policy a moment later (seconds on a busy
    machine): a refusal before then is shown and the analyst tries again, a bounded number of times."""
    error = page.get_by_test_id("stream-error")
    for refused in range(tries):
        page.get_by_role("button", name=f"Stream now from cam{n}").click()
        started = page.get_by_test_id("player").nth(n - 1).locator("[data-testid=stream-stop]:enabled")
        started.or_(error.filter(has_text="refused")).wait_for(timeout=60_000)
        if started.is_visible():
            return refused
        page.wait_for_timeout(2000)
    raise AssertionError(f"cam{n} never started: {error.inner_text()}")


def test_the_demo_starts_janus_and_coturn_and_its_analyst_opens_four_players(tmp_path: Path, chromium,
                                                                               screenshots: Path):
    demo = DemoRun(tmp_path / "demo", cameras=4)
    page = chromium.new_context(viewport=VIEWPORT).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    try:
        url = demo.line(r"demo: hub (http://127\.0\.0\.1:\d+)").group(1)
        assert demo.line(r"demo: SFU \(Janus\) http://127\.0\.0\.1:\d+/janus, TURN \(coturn\) turn:127\.0\.0\.1:")
        password = demo.line(r"sign in as 'analyst' with password '([^']+)'").group(1)
        sign_in(page, url, "analyst", password)
        page.get_by_role("button", name="Stream now from cam4").wait_for(timeout=120_000)
        page.get_by_test_id("reason").fill(REASON)
        page.get_by_test_id("case-number").fill("2026-004900")
        demo.line(r"demo: the owner shares cam1, cam2, cam3, cam4")
        refusals = sum(open_player(page, n) for n in range(1, 5))
        for n in range(4):  # all four play at once: frames advance in each
            page.wait_for_function(f"() => document.querySelectorAll('[data-testid=stream-video]')[{n}]"
                                   ".getVideoPlaybackQuality().totalVideoFrames > 10", timeout=60_000)
        assert page.get_by_test_id("player").count() == 4
        assert page.get_by_test_id("stream-error").inner_text() == ""
        page.screenshot(path=screenshots / "demo-four-players.png")
        # Each refusal while the box had not yet taken the owner's policy is one 403 in the page's console.
        forbidden = [e for e in errors if "status of 403" in e]
        assert len(forbidden) == refusals and len(errors) == refusals, errors
    finally:
        demo.stop()
