"""A hub for the web console's tests and its load benchmark: the real app under uvicorn on loopback, without a
broker (the page's map, incidents, canvass and requests need none), seeded with businesses, sites, appliances,
cameras at places, their consent and what they recorded; and a Chromium page at the size of an RTCC screen."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from dataclasses import dataclass
from pathlib import Path

from hub.cli import write_secret
from hub.coverage import ReportedSpan, record_coverage
from hub.services import HubServices
from hub.settings import HubSettings
from hub.tables import Appliance, Business, Camera, CameraStatusValue, ConsentVersion, Role, Site
from tests.browser_support import VIEWPORT  # noqa: F401 (re-exported)
from tests.hub_support import ApiHelpers, HubServer
from wire import consent as c

WEB_DIST = Path(__file__).resolve().parents[1] / "hub" / "web" / "dist"
M_PER_DEG = 6_371_008.8 * math.pi / 180
ANALYST = ("ana", "correct-horse-battery")
CENTRE_OF_TESTS = (40.7128, -74.0060)


def offset(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    """The point `north_m` north and `east_m` east of (lat, lon)."""
    return lat + north_m / M_PER_DEG, lon + east_m / (M_PER_DEG * math.cos(math.radians(lat)))


@dataclass(frozen=True)
class SeedCamera:
    business: str
    name: str
    north_m: float | None  # None: no place on the map
    east_m: float = 0
    view_deg: float | None = None
    status: CameraStatusValue = CameraStatusValue.RECORDING
    sharing: str = "request_only"
    recorded_hours: float = 2  # recorded continuously until now for this long (0: nothing)


class WebHub(ApiHelpers):
    """The hub's app served on 127.0.0.1 (no MQTT), with the built web front end."""

    def __init__(self, root: Path, **settings):
        write_secret(root / "hub")
        self.settings = HubSettings(data_dir=root / "hub", mqtt_enabled=False, **settings)
        self.hub = HubServices(self.settings)
        self.server = HubServer(self.hub)
        self.url = self.server.url

    def start(self) -> "WebHub":
        if not (self.settings.web_dist / "index.html").exists():
            raise RuntimeError(f"no web build in {self.settings.web_dist}: run scripts/setup.sh")
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def client(self, token: str | None = None):
        import httpx

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def add_analyst(self) -> str:
        self.add_user(*ANALYST, Role.ANALYST, unit="Robbery")
        return self.login(*ANALYST)

    def seed(self, centre: tuple[float, float], cameras: list[SeedCamera]) -> dict[str, int]:
        """Businesses (one site each, at the centre), one appliance per business, the cameras: name → id."""
        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        ids: dict[str, int] = {}
        with self.hub.db.session() as session:
            businesses: dict[str, tuple[Business, Appliance]] = {}
            for seed in cameras:
                if seed.business not in businesses:
                    businesses[seed.business] = self._business(session, seed.business, centre)
                _, appliance = businesses[seed.business]
                lat, lon = offset(*centre, seed.north_m, seed.east_m) if seed.north_m is not None else (None, None)
                camera = Camera(appliance_id=appliance.id, name=seed.name, latitude=lat, longitude=lon,
                                view_direction_deg=seed.view_deg, status=seed.status, last_seen=now)
                session.add(camera)
                session.flush()
                session.add(ConsentVersion(camera_id=camera.id, version=1, created_by="owner",
                                           policy=c.Policy(sharing=seed.sharing, modes=["live", "playback", "clip"])
                                           .model_dump(mode="json")))
                if seed.recorded_hours:
                    span = ReportedSpan(camera.id, now - dt.timedelta(hours=seed.recorded_hours), now, True, "")
                    record_coverage(session, span=span, keep_since=now - dt.timedelta(days=30))
                ids[seed.name] = camera.id
        return ids

    @staticmethod
    def _business(session, name: str, centre: tuple[float, float]) -> tuple[Business, Appliance]:
        business = Business(name=name)
        session.add(business)
        session.flush()
        site = Site(business_id=business.id, name=f"{name} shop", address=f"{name} street 1",
                    latitude=centre[0], longitude=centre[1])
        session.add(site)
        session.flush()
        appliance = Appliance(device_id=f"dev-{uuid.uuid4().hex[:12]}", business_id=business.id, site_id=site.id,
                              cert_serial="1", certificate_pem="", online=True)
        session.add(appliance)
        session.flush()
        return business, appliance


def sign_in(page, url: str, username: str = ANALYST[0], password: str = ANALYST[1]) -> None:
    page.goto(url + "/")
    page.get_by_test_id("username").fill(username)
    page.get_by_test_id("password").fill(password)
    page.get_by_test_id("sign-in").click()
    page.locator("[data-testid=map][data-ready=true]").wait_for(timeout=15_000)
