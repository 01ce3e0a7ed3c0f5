"""A delivered clip plays in a real browser (Debian's chromium driven by Playwright) from the hub's download URL
with a play ticket: frames advance, a seek to the middle is served by a byte range (206), and the many range
requests are one download on the record. Screenshots of the playing video go to .cache/screenshots/<test>/.

The hub has no case page yet (the web console comes later), so the test serves a minimal page on the hub's
origin (Playwright answers that one URL) under the same kind of Content-Security-Policy the hub's pages get
(`hub.app.page_csp`: media from the hub's origin only); the video's requests go to the real hub."""

from __future__ import annotations

import html
from pathlib import Path

import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.app import page_csp
from tests.clip_support import ClipHub, approved_request, deliver, enrol_box, noisy_mp4

pytestmark = pytest.mark.slow

SECONDS = 40  # about 12 MB at 300 kB a second
#: The page's network, as DevTools throttles it: about 2.5 times the clip's bit rate, so it plays smoothly but the
#: browser has not yet fetched the middle when the test seeks there (on bare loopback it fetches the whole clip
#: in one response at once, and a seek needs no new request).
DOWNLOAD_BYTES_PER_S = 800_000
PLAYER = "/test-clip-player"


class SeenRanges:
    """ASGI middleware: the Range header and the status of every clip download the hub answers."""

    def __init__(self, app: ASGIApp, seen: list[tuple[str, int]]):
        self.app, self.seen = app, seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].endswith("/download"):
            await self.app(scope, receive, send)
            return
        asked = dict(scope["headers"]).get(b"range", b"").decode("latin-1")

        async def noting(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.seen.append((asked, message["status"]))
            await send(message)

        await self.app(scope, receive, noting)


@pytest.fixture
def hub_with_clip(tmp_path: Path, sim_cache: Path):
    """A hub with one delivered 40 s clip in a case, its download answers noted."""
    hub = ClipHub(tmp_path)
    hub.seen = []
    hub.server.app.add_middleware(SeenRanges, seen=hub.seen)
    hub.start()
    box = enrol_box(hub.hub)
    request = approved_request(hub.hub, box)
    hub.clip_path = noisy_mp4(sim_cache, seconds=SECONDS)
    deliver(hub, box, request, hub.clip_path, tmp_path)
    hub.clip = hub.clip_of(request.request_id)
    yield hub
    hub.stop()


def player_page(src: str) -> str:
    """A page that plays `src` muted and counts the frames it presents (requestVideoFrameCallback)."""
    script = """
const video = document.getElementById("clip");
window.callbacks = 0; window.presented = 0; window.failure = "";
function counted(now, metadata) {
  window.callbacks += 1; window.presented = metadata.presentedFrames;
  video.requestVideoFrameCallback(counted);
}
video.requestVideoFrameCallback(counted);
video.addEventListener("error", () => { window.failure = "media error " + (video.error && video.error.code); });
video.play().catch(error => { window.failure = String(error); });
"""
    return ('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Clip</title></head><body>'
            f'<video id="clip" data-testid="clip-video" muted playsinline width="640" height="480" '
            f'src="{html.escape(src)}"></video><script>{script}</script></body></html>')


def frames_advance(page, by: int) -> None:
    """Wait until the video presents `by` more frames and its time moves on."""
    before = page.evaluate("() => [window.callbacks, document.getElementById('clip').currentTime]")
    page.wait_for_function(f"() => window.callbacks >= {before[0] + by} && "
                           f"document.getElementById('clip').currentTime > {before[1]}", timeout=20_000)


def test_chromium_plays_a_clip_from_its_play_url_frames_advance_and_a_seek_is_a_range(
        hub_with_clip: ClipHub, browser, screenshots: Path):
    hub = hub_with_clip
    analyst = hub.signed_in("analyst", "analyst")
    with hub.client(analyst) as c:
        url = c.post(f"/api/clips/{hub.clip.id}/play").json()["url"]
    page_html = player_page(url)
    page = browser.new_page(viewport={"width": 680, "height": 520})
    devtools = page.context.new_cdp_session(page)
    devtools.send("Network.enable")
    devtools.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "uploadThroughput": -1,
                                                         "downloadThroughput": DOWNLOAD_BYTES_PER_S})
    page.route(hub.url + PLAYER, lambda route: route.fulfill(
        status=200, content_type="text/html; charset=utf-8", body=page_html,
        headers={"Content-Security-Policy": page_csp(page_html)}))
    page.goto(hub.url + PLAYER)

    frames_advance(page, 15)
    assert page.evaluate("() => window.failure") == ""
    width, height, duration = page.evaluate(
        "() => { const v = document.getElementById('clip'); return [v.videoWidth, v.videoHeight, v.duration]; }")
    assert (width, height) == (320, 240) and duration == pytest.approx(SECONDS, abs=0.5)
    page.get_by_test_id("clip-video").screenshot(path=screenshots / "1-playing-from-the-start.png")
    assert hub.seen[0] == ("bytes=0-", 206)  # a video element asks for ranges from the first request

    page.evaluate("""() => new Promise(done => {
        const video = document.getElementById('clip');
        video.addEventListener('seeked', done, {once: true});
        video.currentTime = video.duration / 2;
    })""")
    frames_advance(page, 15)
    assert page.evaluate("() => document.getElementById('clip').currentTime") > SECONDS / 2
    assert page.evaluate("() => window.failure") == ""
    page.get_by_test_id("clip-video").screenshot(path=screenshots / "2-playing-after-a-seek-to-the-middle.png")

    middle = hub.clip.bytes // 4  # the seek asked for a range starting well inside the clip, and got it
    seek = [(asked, status) for asked, status in hub.seen if asked.startswith("bytes=") and asked != "bytes=0-"]
    assert seek and all(status == 206 for _, status in seek), hub.seen
    assert any(int(asked[6:].split("-")[0]) > middle for asked, _ in seek), hub.seen
    assert all(status in (200, 206) for _, status in hub.seen), hub.seen
    [download] = hub.audit_entries("clip.download")  # many range requests, one entry this minute
    assert (download.actor, download.details["via"]) == ("analyst", "play ticket")
    assert sorted(p.name for p in screenshots.iterdir()) == [
        "1-playing-from-the-start.png", "2-playing-after-a-seek-to-the-middle.png"]
