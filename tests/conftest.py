"""Shared fixtures: real simulated RTSP cameras, a real edge agent process, hubs, databases, a folder for screenshots."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sim.process import CameraProcess

from tests.edge_support import EdgeProcess

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def sim_cache() -> Path:
    """Encoded camera clips, shared by every test (and kept between runs)."""
    path = REPO / ".cache" / "sim"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def screenshots(request) -> Path:
    """Where a browser test saves its screenshots for a person to look at: .cache/screenshots/<test>/ (kept
    after the run, out of git; emptied when the test starts)."""
    path = REPO / ".cache" / "screenshots" / re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


@pytest.fixture
def cameras(sim_cache: Path, tmp_path: Path) -> Iterator[Callable[..., CameraProcess]]:
    """Start simulated cameras: `cameras(count=4, params_in_sdp=False)`."""
    started: list[CameraProcess] = []

    def start(count: int = 1, *, params_in_sdp: bool = False) -> CameraProcess:
        log = tmp_path / f"sim-{len(started)}.log"
        process = CameraProcess(count=count, params_in_sdp=params_in_sdp, cache_dir=sim_cache, log_path=log)
        started.append(process)
        return process.start()

    yield start
    for process in started:
        process.close()


@pytest.fixture
def edge(tmp_path: Path) -> Iterator[Callable[..., EdgeProcess]]:
    """Run `canvass-edge run` on a generated config: `edge(urls, segment_seconds=10, ...)`."""
    started: list[EdgeProcess] = []

    def start(urls: list[str], *, data_dir: Path | None = None, **settings) -> EdgeProcess:
        process = EdgeProcess(tmp_path / f"edge{len(started)}", urls, data_dir=data_dir, **settings)
        started.append(process)
        return process.start()

    yield start
    for process in started:
        process.terminate()


@pytest.fixture
def inbox():
    """A real SMTP server on loopback that keeps what the hub sends (`tests.mail_support.Inbox`)."""
    from tests.mail_support import Inbox

    box = Inbox()
    box.controller.start()
    yield box
    box.controller.stop()


@pytest.fixture
def hub_stack(tmp_path: Path, request):
    """A running hub (API on uvicorn, MQTT link) and its own real mosquitto, with generated certificates.

    On SQLite, or on PostgreSQL for a test that also asks for `database_url`."""
    from tests.hub_support import HubStack

    url = request.getfixturevalue("database_url") if "database_url" in request.fixturenames else None
    stack = HubStack(tmp_path, url).start()
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def postgres():
    """One real PostgreSQL server for the session (Debian's, on loopback); each test gets its own database."""
    from tests.pg_support import PostgresServer

    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request) -> str | None:
    """Runs a hub test on SQLite (the default: None) and on PostgreSQL."""
    if request.param == "sqlite":
        return None
    import uuid

    return request.getfixturevalue("postgres").create_database("t" + uuid.uuid4().hex[:12])


@pytest.fixture
def hub_api(tmp_path: Path, database_url: str | None):
    """The hub's API in-process, on both database backends."""
    from tests.hub_support import HubApi

    api = HubApi(tmp_path, database_url)
    yield api
    api.close()


@pytest.fixture
def browser():
    """Debian's chromium, headless, for one test (a test fails, not skips, when setup did not install it)."""
    from tests.browser_support import ARGS, CHROMIUM

    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: run scripts/setup.sh (it installs Debian's chromium)")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser):
    """A page at an RTCC screen's size; the page's errors (CSP violations included) are collected in
    `page.errors`."""
    from tests.browser_support import VIEWPORT

    page = browser.new_page(viewport=VIEWPORT)
    page.errors = []
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    yield page
    page.close()

