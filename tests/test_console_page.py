"""The analyst's console in a real browser (Debian's chromium driven by Playwright) at 1366x768 against a real
hub on loopback: the map shows every camera at its place with its status (any status the hub sends, with a
legend), clusters when zoomed out and follows status changes; an incident from the intake appears on the map
and in the list, its canvass lists the cameras that recorded then, and footage requests sent from the page are
stored; a refusal is shown without scrolling; /docs loads without any request leaving 127.0.0.1. Screenshots of
each state go to .cache/screenshots/<test>/."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from hub.tables import AuditEntry, Camera, CameraStatusValue as Status, FootageRequest, Role
from tests.console_support import VIEWPORT, SeedCamera, WebHub, sign_in

pytestmark = pytest.mark.slow

CENTRE = (40.7128, -74.0060)


@pytest.fixture
def web_hub(tmp_path: Path):
    hub = WebHub(tmp_path).start()
    hub.add_analyst()
    yield hub
    hub.stop()


def markers(page) -> dict[str, dict]:
    """Each camera marker on the map: its label → status and where it is on screen."""
    found = {}
    for marker in page.get_by_test_id("camera-marker").all():
        box = marker.bounding_box()
        found[marker.get_attribute("aria-label").split(":")[0]] = {
            "status": marker.get_attribute("data-status"), "x": box["x"] + box["width"] / 2,
            "y": box["y"] + box["height"] / 2}
    return found


def test_the_map_shows_every_camera_at_its_place_with_its_status(web_hub: WebHub, page, screenshots: Path):
    ids = web_hub.seed(CENTRE, [
        SeedCamera("Bakery", "front", 40, 0, view_deg=180),
        SeedCamera("Bakery", "back", -40, 0, view_deg=0, status=Status.OFFLINE),
        SeedCamera("Garage", "door", 0, 60, view_deg=270, status=Status.ONLINE),
        SeedCamera("Garage", "gate", 0, -60, view_deg=90),
        SeedCamera("Pharmacy", "roof", 10, 10),
        SeedCamera("Garage", "yard", None),
    ])

    def statuses_the_hub_will_send(route):  # "paused" comes with the hub's next API; any other is shown too
        response = route.fetch()
        cameras = response.json()
        for camera in cameras:
            camera["status"] = {"gate": "paused", "roof": "maintenance"}.get(camera["name"], camera["status"])
        route.fulfill(response=response, body=json.dumps(cameras))

    page.route("**/api/cameras", statuses_the_hub_will_send)
    sign_in(page, web_hub.url)
    page.screenshot(path=screenshots / "1-signed-in-map.png")

    shown = markers(page)
    assert {label: m["status"] for label, m in shown.items()} == {
        "Bakery · front": "recording", "Bakery · back": "offline", "Garage · door": "online",
        "Garage · gate": "paused", "Pharmacy · roof": "maintenance"}  # business · camera, never a device id
    assert shown["Bakery · front"]["y"] < shown["Pharmacy · roof"]["y"] < shown["Bakery · back"]["y"]  # north up
    assert shown["Garage · gate"]["x"] < shown["Pharmacy · roof"]["x"] < shown["Garage · door"]["x"]  # east right
    legend = page.get_by_test_id("map-legend").inner_text()
    assert "Paused by the owner (1)" in legend and "maintenance (1)" in legend and "Offline (1)" in legend
    assert page.get_by_test_id("camera-list").get_by_text("no place on the map").count() == 1
    assert page.locator("[data-testid=camera-marker] path.cone").count() == 4  # the cameras with a direction

    page.unroute("**/api/cameras")
    with web_hub.hub.db.session() as session:
        session.get(Camera, ids["back"]).status = Status.RECORDING
    page.locator("[data-testid=camera-marker][data-camera-id='%d'][data-status=recording]" % ids["back"]).wait_for(
        timeout=5_000)

    for _ in range(4):
        page.locator(".leaflet-control-zoom-out").click()
        page.wait_for_timeout(350)
    cluster = page.get_by_test_id("camera-cluster").first
    cluster.wait_for(timeout=5_000)
    assert int(cluster.get_attribute("data-count")) >= 2
    page.screenshot(path=screenshots / "2-zoomed-out-clusters.png")
    assert page.errors == []


def test_an_incident_from_the_intake_is_canvassed_and_footage_is_requested_from_the_page(
        web_hub: WebHub, page, screenshots: Path):
    ids = web_hub.seed(CENTRE, [
        SeedCamera("Bakery", "front", 40, 0, view_deg=180),
        SeedCamera("Garage", "door", 0, 90, view_deg=270),
        SeedCamera("Garage", "yard", -80, -20, view_deg=0),
        SeedCamera("Pharmacy", "roof", 30, 30, recorded_hours=0),  # recorded nothing then
        SeedCamera("Depot", "far", 5000, 0),  # outside any canvass
    ])
    sign_in(page, web_hub.url)
    page.get_by_text("No open incidents.").wait_for()

    web_hub.add_user("cad", "dispatch-password-1", Role.DISPATCH)
    reported = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=20)
    with web_hub.client(web_hub.login("cad", "dispatch-password-1")) as c:
        r = c.post("/api/incidents", json={
            "external_id": "CAD-2026-0042", "type": "Armed robbery", "priority": 1, "latitude": CENTRE[0],
            "longitude": CENTRE[1], "address": "1 Main St", "reported_at": reported.isoformat(),
            "description": "two suspects fled east"})
        assert r.status_code == 201, r.text
        incident_id = r.json()["id"]
    listed = page.get_by_test_id("incident-list").get_by_text("Armed robbery")
    listed.wait_for(timeout=10_000)  # the list is read every 5 s
    assert page.get_by_test_id("incident-marker").count() == 1
    page.screenshot(path=screenshots / "1-incident-arrived.png")

    listed.click()
    rows = page.get_by_test_id("canvass-camera")
    rows.first.wait_for(timeout=10_000)
    assert [r.get_attribute("data-camera-id") for r in rows.all()] == [str(ids[n]) for n in ("front", "yard", "door")]
    assert page.locator("#not-recording-count").inner_text() == "1"
    assert page.get_by_test_id("ask-purpose").input_value() == "violent_crime"
    assert page.get_by_test_id("ask-case").input_value() == "CAD-2026-0042"
    assert "Armed robbery at 1 Main St" in page.get_by_test_id("ask-reason").input_value()
    assert page.locator(".camera-marker.canvassed").count() == 3
    page.screenshot(path=screenshots / "2-canvass.png")

    page.get_by_role("checkbox", name="Ask yard at Garage").uncheck()
    page.get_by_role("checkbox", name="Ask door at Garage").check()
    page.get_by_test_id("ask-case").fill("2026-004242")
    page.get_by_test_id("send-requests").click()
    page.get_by_test_id("ask-result").filter(has_text="2 pending").wait_for(timeout=10_000)
    page.get_by_test_id("incident-request").nth(1).wait_for(timeout=10_000)
    assert "pending" in page.get_by_test_id("request-state").first.inner_text()
    page.get_by_test_id("ask-result").scroll_into_view_if_needed()
    page.screenshot(path=screenshots / "3-requests-sent.png")

    with web_hub.hub.db.session() as session:
        stored = session.scalars(select(FootageRequest).order_by(FootageRequest.camera_id)).all()
        assert sorted(r.camera_id for r in stored) == sorted([ids["front"], ids["door"]])
        assert {(r.incident_id, r.case_number, r.status, r.purpose, r.analyst) for r in stored} == {
            (incident_id, "2026-004242", "pending", "violent_crime", "ana")}
        assert all(r.window_from <= reported <= r.window_to for r in stored)
        asked = session.scalars(select(AuditEntry).where(AuditEntry.action.like("footage.%"))).all()
        assert len(asked) >= 2 and {e.actor for e in asked} == {"ana"}
    assert page.errors == []


def test_a_refused_stream_says_why_without_scrolling(web_hub: WebHub, page, screenshots: Path):
    web_hub.seed(CENTRE, [SeedCamera("Bakery", "front", 40, 0, view_deg=180)])
    sign_in(page, web_hub.url)
    page.get_by_test_id("reason").fill("armed robbery reported at the corner store")
    page.get_by_test_id("case-number").fill("2026-004799")
    page.get_by_test_id("camera-marker").click()
    page.get_by_test_id("map-stream-now").click()
    error = page.get_by_test_id("stream-error")
    error.filter(has_text="streaming is not running on this hub").wait_for(timeout=10_000)
    box = error.bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= VIEWPORT["height"]
    assert page.get_by_test_id("plate-hits").inner_text().count("No hits yet") == 1
    page.screenshot(path=screenshots / "1-stream-refused.png")


def test_the_api_docs_load_with_no_request_leaving_the_hub(web_hub: WebHub, page, screenshots: Path):
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(web_hub.url + "/docs")
    page.locator(".opblock-tag").first.wait_for(timeout=20_000)
    page.get_by_text("/api/cameras").first.wait_for()
    page.screenshot(path=screenshots / "1-docs.png")
    assert requested and all(url.startswith(web_hub.url + "/") for url in requested), requested
    assert any(url.endswith("/openapi.json") for url in requested)
    assert page.errors == []
