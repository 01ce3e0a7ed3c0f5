"""The public pages in Debian's chromium against a hub served on loopback, with a real SMTP server: a resident
registers on /register (pin on the map), confirms through the e-mailed private link, is in the canvass, and
later deletes the registration on that page; an owner asked for footage opens the e-mailed upload link,
uploads a real MP4 of several MB that is interrupted half way (the page closed) and resumed to completion,
the stored file's SHA-256 is the source's, the case shows it, and the link then says it was already used.
Screenshots of each state go to .cache/screenshots/<test>/."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from hub.tables import OwnerRequest, OwnerUpload, RegisteredCamera, Registration, Role, utcnow
from tests.browser_support import VIEWPORT
from tests.console_support import SeedCamera, WebHub, sign_in
from tests.registration_support import (POINT, PUBLIC_URL, Inbox, bearer, form, manage_token, upload_token,
                                        window)

pytestmark = pytest.mark.slow
CHUNK = 256 * 1024


@pytest.fixture(scope="module")
def inbox():
    box = Inbox()
    box.controller.start()
    yield box
    box.controller.stop()


@pytest.fixture(scope="module")
def hub(tmp_path_factory, inbox):
    served = WebHub(tmp_path_factory.mktemp("pages"), **inbox.settings(), agency_name="Example City RTCC",
                    clip_upload_max_chunk_bytes=CHUNK, public_map_latitude=POINT[0],
                    public_map_longitude=POINT[1]).start()
    yield served
    served.stop()
    served.hub.close()


@pytest.fixture(scope="module")
def analyst(hub):
    return hub.add_analyst()


@pytest.fixture
def context(browser):
    """One browser profile (its localStorage is where tus-js-client remembers uploads to resume)."""
    context = browser.new_context(viewport=VIEWPORT)
    context.errors = []
    context.on("console", lambda m: context.errors.append(m.text) if m.type == "error" else None)
    yield context
    context.close()


def local(hub, link: str) -> str:
    """The e-mailed link (on the hub's public URL) as this test reaches the same hub, on loopback."""
    assert link.startswith(PUBLIC_URL)
    return hub.server.url + link[len(PUBLIC_URL):]


def test_a_resident_registers_confirms_is_canvassed_and_deletes_the_registration(hub, inbox, analyst, context,
                                                                                 screenshots: Path):
    page = context.new_page()
    page.goto(f"{hub.server.url}/register")
    page.get_by_test_id("contact_name").fill("Rosa Example")
    page.get_by_test_id("email").fill("rosa@example.org")
    page.get_by_test_id("address").fill("12 Example Street, Philadelphia")
    page.get_by_test_id("pin-map").click(position={"x": 300, "y": 150})  # a pin by clicking the map …
    assert page.get_by_test_id("camera-0-latitude").input_value() != ""
    page.get_by_test_id("camera-0-latitude").fill(f"{POINT[0] + 0.0004:.6f}")  # … placed exactly
    page.get_by_test_id("camera-0-longitude").fill(f"{POINT[1]:.6f}")
    page.get_by_test_id("camera-0-description").fill("front door and the pavement")
    page.get_by_test_id("camera-0-direction").select_option(label="S")
    page.screenshot(path=screenshots / "1-register-form.png", full_page=True)
    page.get_by_test_id("register").click()
    page.wait_for_selector("#sent:not([hidden])")
    assert "open the link in it" in page.get_by_test_id("sent-message").inner_text()
    page.screenshot(path=screenshots / "2-check-your-e-mail.png")
    assert _registered_near(hub, analyst) == []  # not before the e-mail is proven

    link = f"{PUBLIC_URL}/registration/{manage_token(inbox.wait_for('rosa@example.org')[-1])}"
    page.goto(local(hub, link))
    page.wait_for_selector("[data-testid=state][data-status=unconfirmed]")
    assert "Not confirmed yet" in page.get_by_test_id("state").inner_text()
    page.screenshot(path=screenshots / "3-private-page-unconfirmed.png", full_page=True)
    page.get_by_test_id("confirm").click()
    page.wait_for_selector("[data-testid=state][data-status=confirmed]")
    page.screenshot(path=screenshots / "4-confirmed.png", full_page=True)
    (camera,) = _registered_near(hub, analyst)
    assert 40 < camera["distance_m"] < 50 and camera["view_direction_deg"] == 180 and camera["facing"] == "yes"

    page.get_by_test_id("delete").click()
    page.screenshot(path=screenshots / "5-delete-dialog.png")
    page.get_by_test_id("delete-confirm").click()
    page.wait_for_selector("[data-testid=state][data-status=deleted]")
    page.screenshot(path=screenshots / "6-deleted.png")
    assert _registered_near(hub, analyst) == []
    with hub.hub.db.session() as session:
        assert session.scalars(select(Registration).where(Registration.email == "rosa@example.org")).all() == []
    page.goto(local(hub, link))
    page.wait_for_selector("[data-testid=link-error]:not(:empty)")
    assert "not valid" in page.get_by_test_id("link-error").inner_text()
    page.screenshot(path=screenshots / "7-link-after-deletion.png")
    assert [e for e in context.errors if "404" not in e] == []  # the deleted link answers 404, as it should


def test_an_owner_uploads_a_video_interrupted_half_way_and_resumed_and_the_link_is_then_used(
        hub, inbox, analyst, context, sim_cache: Path, tmp_path: Path, screenshots: Path):
    source = _several_mb_mp4(sim_cache)
    token = _asked_owner(hub, inbox, analyst, "owner@example.org", "2026-P-0001")
    link = local(hub, f"{PUBLIC_URL}/upload/{token}")

    first = context.new_page()
    first.goto(link)
    first.wait_for_selector("[data-testid=state][data-state=open]", state="attached")
    assert first.get_by_test_id("reference").inner_text().startswith("C-")
    assert "Example City RTCC" in first.get_by_test_id("asked").inner_text()
    first.screenshot(path=screenshots / "1-upload-page.png", full_page=True)
    first.get_by_test_id("files").set_input_files(str(source))
    first.get_by_test_id("upload").click()
    first.wait_for_function("() => Number(document.querySelector('[data-testid=upload-row]')?.dataset.percent) >= 50",
                            timeout=60_000)
    first.screenshot(path=screenshots / "2-half-way.png", full_page=True)
    first.close()  # the owner closes the page half way
    offset = _staged_offset(hub)
    assert 0 < offset < source.stat().st_size

    again = context.new_page()
    offsets: list[int] = []
    again.on("request", lambda r: offsets.append(int(r.headers["upload-offset"]))
             if r.method == "PATCH" and "upload-offset" in r.headers else None)
    again.goto(link)
    again.wait_for_selector("[data-testid=state][data-state=open]", state="attached")
    again.get_by_test_id("files").set_input_files(str(source))
    again.get_by_test_id("upload").click()
    again.wait_for_selector("[data-testid=upload-row][data-state=received]", timeout=60_000)
    assert again.get_by_test_id("upload-row").get_attribute("data-resumed") == "true"
    assert offsets and offsets[0] >= offset  # it went on from where it stopped, not from 0
    again.wait_for_selector("[data-testid=received-file]")
    again.screenshot(path=screenshots / "3-received.png", full_page=True)

    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    with hub.hub.db.session() as session:
        (row,) = session.scalars(select(OwnerUpload)).all()
    with hub.hub.clip_store.open(row.storage_key) as kept:
        assert hashlib.sha256(kept.read()).hexdigest() == digest == row.sha256
    with hub.client(analyst) as c:
        (asked,) = c.get("/api/cases/2026-P-0001").json()["owner_requests"]
        assert [f["sha256"] for f in asked["files"]] == [digest]

    again.get_by_test_id("done").click()
    again.wait_for_selector("[data-testid=state][data-state=done]")
    assert "already used" in again.get_by_test_id("state").inner_text()
    again.reload()
    again.wait_for_selector("[data-testid=state][data-state=done]")
    assert "already used" in again.get_by_test_id("state").inner_text()
    assert again.get_by_test_id("upload").is_hidden()
    again.screenshot(path=screenshots / "4-already-used.png", full_page=True)

    stale = _asked_link_expired(hub, inbox, analyst)
    expired = context.new_page()
    expired.goto(local(hub, f"{PUBLIC_URL}/upload/{stale}"))
    expired.wait_for_selector("[data-testid=state][data-state=expired]")
    assert "expired" in expired.get_by_test_id("state").inner_text()
    expired.screenshot(path=screenshots / "5-expired.png")

    wrong = context.new_page()
    wrong.goto(f"{hub.server.url}/upload/{'x' * 43}")
    wrong.wait_for_selector("[data-testid=state][data-state=invalid]")
    assert "not valid" in wrong.get_by_test_id("state").inner_text()
    wrong.screenshot(path=screenshots / "6-wrong-link.png")
    assert not [e for e in context.errors if "404" not in e and "410" not in e]


def test_the_console_lists_registered_cameras_apart_and_asks_their_owners(hub, inbox, analyst, page,
                                                                          screenshots: Path):
    ids = hub.seed(POINT, [SeedCamera("Bakery", "front", north_m=30)])
    with hub.client() as c:
        assert c.post("/api/registrations", json=form("console@example.org", latitude=POINT[0] + 0.0004,
                                                      address="7 Console Road")).status_code == 202
        token = manage_token(inbox.wait_for("console@example.org")[-1])
        assert c.post("/api/registration/confirm", headers=bearer(token)).status_code == 200
    hub.add_user("cad", "dispatch-password-1", Role.DISPATCH)
    with hub.client(hub.login("cad", "dispatch-password-1")) as c:
        assert c.post("/api/incidents", json={
            "external_id": "CAD-2026-0777", "type": "Burglary", "priority": 2, "latitude": POINT[0],
            "longitude": POINT[1], "address": "14 Example Street",
            "reported_at": (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=20)).isoformat()}
                      ).status_code == 201
    sign_in(page, hub.url)
    page.get_by_test_id("incident-list").get_by_text("Burglary").click()
    page.get_by_test_id("canvass-camera").first.wait_for(timeout=10_000)
    row = page.get_by_test_id("registered-camera").filter(has_text="7 Console Road")
    row.wait_for(timeout=10_000)
    assert [r.get_attribute("data-camera-id") for r in page.get_by_test_id("canvass-camera").all()] == \
        [str(ids["front"])]  # the appliance camera, apart
    assert "needs the owner to upload" in row.inner_text() and "(45 m," in row.inner_text()  # 0.0004° north
    page.get_by_role("checkbox", name="Ask front at Bakery").uncheck()
    page.get_by_role("checkbox", name="Ask the owner at 7 Console Road").check()
    page.screenshot(path=screenshots / "1-canvass-with-registered.png")
    page.get_by_test_id("send-requests").click()
    page.get_by_test_id("ask-result").get_by_text("1 registered owner(s) e-mailed an upload link.").wait_for()
    assert "/upload/" in inbox.wait_for("console@example.org", 2)[-1].get_payload(decode=True).decode()
    asked = page.get_by_test_id("owner-request")
    asked.first.wait_for(timeout=10_000)
    assert asked.count() == 1 and "waiting for the owner's upload" in asked.first.inner_text()
    assert "7 Console Road" in asked.first.inner_text()
    page.screenshot(path=screenshots / "2-owner-asked.png")
    assert page.errors == []


def _registered_near(hub, analyst: str) -> list[dict]:
    start, end = window()
    with hub.client(analyst) as c:
        r = c.get("/api/canvass", params={"lat": POINT[0], "lon": POINT[1], "from": start, "to": end,
                                          "radius_m": 200})
        assert r.status_code == 200, r.text
        return r.json()["registered"]


def _asked_owner(hub, inbox, analyst: str, address: str, case_number: str) -> str:
    with hub.client() as c:
        assert c.post("/api/registrations", json=form(address)).status_code == 202
        assert c.post("/api/registration/confirm",
                      headers=bearer(manage_token(inbox.wait_for(address)[-1]))).status_code == 200
    with hub.hub.db.session() as session:
        camera_id = session.scalar(select(RegisteredCamera.id).join(Registration).where(Registration.email == address))
    start, end = window()
    with hub.client(analyst) as c:
        r = c.post("/api/owner-requests", json={
            "registered_camera_ids": [camera_id], "window_from": start, "window_to": end,
            "purpose": "property_crime", "reason": "Burglary; the van left southbound",
            "case_number": case_number, "latitude": POINT[0], "longitude": POINT[1], "radius_m": 300})
        assert r.status_code == 201, r.text
    return upload_token(inbox.wait_for(address, 2)[-1])


def _asked_link_expired(hub, inbox, analyst: str) -> str:
    """A second request's link, past its time."""
    with hub.hub.db.session() as session:
        camera_id = session.scalar(select(RegisteredCamera.id).join(Registration)
                                   .where(Registration.email == "owner@example.org"))
    start, end = window()
    with hub.client(analyst) as c:
        r = c.post("/api/owner-requests", json={
            "registered_camera_ids": [camera_id], "window_from": start, "window_to": end, "purpose": "other",
            "reason": "Second look at the same window", "case_number": "2026-P-0002", "latitude": POINT[0],
            "longitude": POINT[1], "radius_m": 300})
        assert r.status_code == 201, r.text
    token = upload_token(inbox.wait_for("owner@example.org", 3)[-1])
    with hub.hub.db.session() as session:
        request = session.get(OwnerRequest, r.json()[0]["request_id"])
        request.link_expires_at = utcnow() - dt.timedelta(seconds=1)
    return token


def _staged_offset(hub) -> int:
    (info,) = (hub.hub.settings.uploads_dir / "owners").glob("*.info")
    return json.loads(info.read_text())["offset"]


def _several_mb_mp4(cache: Path) -> Path:
    """A real H.264 MP4 of about 6 MB (noise does not compress), made once and kept in `cache`."""
    path = cache / "owner-upload-6mb.mp4"
    if not path.exists():
        tmp = path.with_suffix(".tmp.mp4")
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                        "testsrc=size=640x360:rate=15:duration=8,noise=alls=60:allf=t", "-c:v", "libx264",
                        "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(tmp)],
                       check=True, timeout=300)
        tmp.replace(path)
    return path
