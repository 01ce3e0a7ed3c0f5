"""The analyst page in a real browser (Debian's chromium driven by Playwright): sign in, Stream now, the video plays."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hub_support import HubStack, eventually
from tests.test_streaming import REASON, actions, enrolled_box

pytestmark = pytest.mark.slow

def frames_shown(page) -> int:
    return page.evaluate("() => document.querySelector('[data-testid=stream-video]')"
                         ".getVideoPlaybackQuality().totalVideoFrames")


def test_sign_in_stream_now_and_the_video_plays(hub_stack: HubStack, cameras, edge, tmp_path: Path, page):
    box = enrolled_box(hub_stack, cameras, edge, tmp_path)
    page.goto(hub_stack.server.url + "/")
    page.get_by_test_id("username").fill("ana")
    page.get_by_test_id("password").fill("wrong password")
    page.get_by_test_id("sign-in").click()
    page.get_by_role("alert").filter(has_text="wrong user name, password or one-time code").wait_for(timeout=10_000)
    page.get_by_test_id("password").fill("correct-horse-battery")
    page.get_by_test_id("sign-in").click()
    page.get_by_test_id("camera-list").get_by_text("cam1").wait_for(timeout=10_000)

    page.get_by_test_id("reason").fill(REASON)
    page.get_by_test_id("case-number").fill("2026-004799")
    page.get_by_test_id("stream-now").click()
    page.wait_for_function("() => document.querySelector('[data-testid=stream-video]')"
                           ".getVideoPlaybackQuality().totalVideoFrames > 0", timeout=20_000)
    first = frames_shown(page)
    page.wait_for_function(f"() => document.querySelector('[data-testid=stream-video]')"
                           f".getVideoPlaybackQuality().totalVideoFrames > {first + 15}", timeout=20_000)
    assert page.get_by_test_id("remaining").inner_text().endswith("left")

    page.get_by_test_id("stream-stop").click()
    page.get_by_test_id("stream-state").filter(has_text="Stopped").wait_for(timeout=10_000)
    with hub_stack.client(box.analyst) as c:
        entries = c.get("/api/auth/me").json()  # still signed in; the stop reached the hub:
    assert entries["username"] == "ana"
    assert not hub_stack.hub.streams.sessions

    # From the buffer: a few seconds ago, then pause and speed from the page.
    page.get_by_test_id("stream-state").filter(has_text="Stopped").wait_for(timeout=10_000)
    page.select_option("#mode", "playback")
    page.evaluate("""() => {
        const then = new Date(Date.now() - 4000);
        const local = new Date(then.getTime() - then.getTimezoneOffset() * 60000).toISOString().slice(0, 19);
        document.getElementById("at").value = local;
    }""")
    page.get_by_test_id("case-number").fill("2026-004800")
    page.get_by_test_id("stream-now").click()
    page.get_by_test_id("playback-pause").wait_for(state="visible", timeout=20_000)
    page.wait_for_function("() => document.querySelector('[data-testid=stream-video]')"
                           ".getVideoPlaybackQuality().totalVideoFrames > 10", timeout=20_000)
    page.get_by_test_id("playback-pause").click()
    page.get_by_test_id("playback-pause").filter(has_text="Resume").wait_for(timeout=10_000)
    assert page.get_by_test_id("playback-position").inner_text().startswith("at ")
    page.get_by_test_id("playback-pause").click()
    page.get_by_test_id("playback-pause").filter(has_text="Pause").wait_for(timeout=10_000)
    page.select_option("[data-testid=playback-speed]", "2")
    [session] = hub_stack.hub.streams.sessions.values()
    assert session.grant.mode == "playback"
    controls = [(e.details["control"], e.outcome) for e in actions(hub_stack, "stream.control")]
    assert controls[:2] == [("pause", "success"), ("resume", "success")]
    eventually(lambda: len(actions(hub_stack, "stream.control")) == 3, timeout=10, what="the speed change")
    assert page.get_by_test_id("stream-error").inner_text() == ""


def test_two_streams_play_at_once_in_the_video_wall_and_each_ends_alone(hub_stack: HubStack, cameras, edge,
                                                                         tmp_path: Path, page, screenshots: Path):
    enrolled_box(hub_stack, cameras, edge, tmp_path)
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(hub_stack.server.url + "/")
    page.get_by_test_id("username").fill("ana")
    page.get_by_test_id("password").fill("correct-horse-battery")
    page.get_by_test_id("sign-in").click()
    page.get_by_test_id("camera-list").get_by_text("cam1").wait_for(timeout=10_000)
    page.get_by_test_id("reason").fill(REASON)
    page.get_by_test_id("case-number").fill("2026-004801")
    page.get_by_test_id("stream-now").click()
    page.get_by_test_id("player").first.locator("[data-testid=stream-stop]:enabled").wait_for(timeout=20_000)
    page.select_option("#mode", "playback")
    page.evaluate("""() => {
        const then = new Date(Date.now() - 6000);
        document.getElementById("at").value =
            new Date(then.getTime() - then.getTimezoneOffset() * 60000).toISOString().slice(0, 19);
    }""")
    page.get_by_test_id("list-stream-now").click()  # Stream now from the list: the same form, a second player
    players = page.get_by_test_id("player")
    players.nth(1).get_by_test_id("playback-pause").wait_for(state="visible", timeout=20_000)
    assert players.count() == 2 and len(hub_stack.hub.streams.sessions) == 2
    for n in (0, 1):  # both play: frames advance in each
        page.wait_for_function(f"() => document.querySelectorAll('[data-testid=stream-video]')[{n}]"
                               ".getVideoPlaybackQuality().totalVideoFrames > 10", timeout=20_000)
    position = players.nth(1).get_by_test_id("playback-position")
    first = position.inner_text()
    page.wait_for_timeout(1500)
    assert position.inner_text() != first and first.startswith("at ")  # the position ticks
    players.nth(1).get_by_test_id("playback-seek").fill("1")  # back to a second into the window
    eventually(lambda: [e.details["control"] for e in actions(hub_stack, "stream.control")] == ["seek"], timeout=10,
               what="the seek")
    [seek] = actions(hub_stack, "stream.control")
    assert seek.outcome == "success" and players.nth(1).get_by_test_id("player-error").inner_text() == ""
    page.screenshot(path=screenshots / "1-two-players.png")

    players.nth(0).get_by_test_id("stream-stop").click()
    players.nth(0).get_by_test_id("stream-state").filter(has_text="Stopped").wait_for(timeout=10_000)
    assert players.nth(0).get_by_test_id("remaining").inner_text() == ""  # the countdown clears
    eventually(lambda: len(hub_stack.hub.streams.sessions) == 1, timeout=10, what="one session left")
    assert players.nth(1).get_by_test_id("remaining").inner_text().endswith("left")
    page.screenshot(path=screenshots / "2-one-stopped.png")
    assert page.get_by_test_id("stream-error").inner_text() == ""
