"""The hub serves its built web front end: every page under a strict Content-Security-Policy (scripts and styles
from the hub only, no inline code in the build), assets from the build only, /docs from the hub (FastAPI's CDN
pages off), the console's config with the configured tile server, a plain page saying how to build when there
is no build, and the OpenAPI schema exported without a running hub."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hub.openapi import schema
from hub.tables import Role
from hub.web_serving import page_policy
from hub.settings import HubSettings
from tests.console_support import WEB_DIST
from tests.hub_support import HubApi

TILES = "https://{s}.gis.example.org/tiles/{z}/{x}/{y}.png"


@pytest.fixture
def web_api(tmp_path: Path):
    if not (WEB_DIST / "index.html").exists():
        pytest.fail(f"no web build in {WEB_DIST}: run scripts/setup.sh (it runs npm ci and npm run build)")
    api = HubApi(tmp_path, map_tile_url=TILES, map_tile_attribution="© City GIS")
    yield api
    api.close()


def test_every_page_is_served_with_a_policy_that_allows_only_the_hubs_own_scripts_and_styles(web_api: HubApi):
    with web_api.client() as c:
        pages = [("/", "analyst"), ("/analyst", "analyst"), ("/hotlists", "hot lists"), ("/docs", "API docs")]
        for path, title in pages:
            r = c.get(path)
            assert r.status_code == 200 and title in r.text
            policy = r.headers["content-security-policy"]
            assert "script-src 'self';" in policy and "style-src 'self';" in policy
            assert "unsafe" not in policy and "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
            assert "img-src 'self' data: blob: https://*.gis.example.org;" in policy  # the configured tiles only
            assert r.headers["x-frame-options"] == "DENY"


def test_the_build_has_no_inline_script_style_or_outside_address():
    for page in WEB_DIST.glob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), f"inline script in {page.name}"
        assert "<style" not in text and " style=" not in text, f"inline style in {page.name}"
        assert not re.search(r"(src|href)=\"(https?:)?//", text), f"outside address in {page.name}"


def test_assets_come_from_the_build_only(web_api: HubApi):
    built = sorted((WEB_DIST / "assets").glob("index-*.js"))[0].name
    with web_api.client() as c:
        r = c.get(f"/assets/{built}")
        assert r.status_code == 200 and "immutable" in r.headers["cache-control"]
        assert r.headers["content-type"].startswith(("text/javascript", "application/javascript"))
        for escape in ("../index.html", "..%2F..%2Fsettings.py", "%2e%2e/%2e%2e/app.py", "nothing.js"):
            assert c.get(f"/assets/{escape}").status_code == 404


def test_fastapis_own_docs_pages_are_off_and_docs_is_the_hubs(web_api: HubApi):
    with web_api.client() as c:
        assert c.get("/redoc").status_code == 404
        docs = c.get("/docs").text
        assert "cdn" not in docs.lower() and "swagger-ui" in docs


def test_the_console_config_names_the_tile_server_to_signed_in_users_only(web_api: HubApi):
    web_api.add_user("ana", "correct-horse-battery", Role.ANALYST)
    with web_api.client() as c:
        assert c.get("/api/console/config").status_code == 401
    with web_api.client(web_api.login("ana", "correct-horse-battery")) as c:
        config = c.get("/api/console/config").json()
    assert config["tile_url"] == TILES and config["tile_attribution"] == "© City GIS"


def test_without_tiles_the_policy_allows_no_other_image_origin(tmp_path: Path):
    settings = HubSettings(environment="development", data_dir=tmp_path)
    assert "img-src 'self' data: blob:;" in page_policy(settings)
    with pytest.raises(ValueError):
        HubSettings(environment="development", data_dir=tmp_path, map_tile_url="https://x.org;script-src */{z}")


def test_without_a_build_each_page_says_how_to_build_it(tmp_path: Path):
    api = HubApi(tmp_path, web_dist_dir=tmp_path / "no-build")
    try:
        with api.client() as c:
            for path in ("/", "/docs", "/hotlists"):
                r = c.get(path)
                assert r.status_code == 503 and "npm ci" in r.text and "scripts/setup.sh" in r.text
            assert c.get("/assets/index.js").status_code == 404
            assert c.get("/api/health").json()["ok"]
    finally:
        api.close()


def test_the_schema_is_exported_without_a_running_hub():
    exported = schema()
    assert "/api/console/config" in exported["paths"] and "/api/cameras" in exported["paths"]
    assert "/docs" not in exported["paths"] and "/" not in exported["paths"]
