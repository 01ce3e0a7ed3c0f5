"""The hub serves its built web front end (`hub/web/`, built into `hub/web/dist` by `scripts/setup.sh`).

- `/` and `/analyst` — the analyst's console; `/hotlists` — the hot-list page; `/owner` — the owner's console; `/docs` — the API docs (Swagger
  UI from the `swagger-ui-dist` package, copied into the build: nothing from a CDN); `/auditor` — the auditor's
  console; `/transparency` — the public transparency report (no sign-in); `/owner/activity` — the owner's
  access log and e-mail alerts.
- `/register` — the public camera registration; `/registration/<token>` — a registrant's private page;
  `/upload/<token>` — an owner's single-use upload page (public, no account).
- `/assets/...` — the build's scripts, styles and images (hashed names: cached for a year).
- `GET /api/console/config` — what the pages need to know of the deployment (the map's tile server).

Every page gets a strict Content-Security-Policy: scripts and styles only from this origin (the build has no
inline script or style), API calls to this origin, images from here (and from the configured tile server),
video from WebRTC streams and this origin. Without a build, each page is a plain page saying how to make one
(503), never an error trace.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, FastAPI, HTTPException, Request, status
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse
from pydantic import BaseModel, Field

from hub.api.deps import UserDep
from hub.settings import HubSettings

#: Path → the built page that answers it.
PAGES = {"/": "index.html", "/analyst": "index.html", "/hotlists": "hotlists.html", "/docs": "docs.html", "/owner": "owner.html",
         "/auditor": "auditor.html", "/transparency": "transparency.html", "/owner/activity": "owner-activity.html",
         "/register": "register.html"}
#: Public pages reached through a private link (the token is in the path; the page reads it and never sends
#: it anywhere but this hub's API; Referrer-Policy keeps it from other sites).
LINK_PAGES = {"/registration/{token}": "registration.html", "/upload/{token}": "upload.html"}
SECURITY_HEADERS = {"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"}
NOT_BUILT = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Canvass hub: web pages not built</title></head><body><h1>The hub's web pages are not built</h1>
<p>This hub has no built front end in <code>{dist}</code>. Build it with the project's set-up:</p>
<pre>bash scripts/setup.sh</pre>
<p>or, with Node.js 18 or later, by hand:</p>
<pre>cd hub/web &amp;&amp; npm ci &amp;&amp; npm run build</pre>
<p>The API itself works; its schema is at <a href="/openapi.json">/openapi.json</a>.</p></body></html>
"""


def page_policy(settings: HubSettings) -> str:
    """The Content-Security-Policy of every built page."""
    images = " ".join(filter(None, ["'self' data: blob:", settings.map_tile_origin]))
    return ("default-src 'none'; script-src 'self'; style-src 'self'; font-src 'self'; "
            f"img-src {images}; connect-src 'self'; media-src 'self' blob: mediastream:; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


class ConsoleConfig(BaseModel):
    tile_url: str | None = Field(description="The map's base tiles (a Leaflet URL template); none: no base map.")
    tile_attribution: str = Field(description="Attribution for the tiles (plain text).")
    tile_max_zoom: int = Field(description="Deepest zoom of the tile server.")
    footage_max_window_s: int = Field(description="Longest footage window of one request or playback session.")
    canvass_max_radius_m: float = Field(description="Largest canvass radius an analyst may search.")
    plate_hits: bool = Field(description="This hub lists and streams hot-list hits (GET /api/hits, /api/hits/stream).")
    plate_search: bool = Field(description="This hub searches plate reads (POST /api/plates/search).")
    hotlist_import: bool = Field(description="This hub imports hot lists from CSV (POST /api/hotlist/import).")


router = APIRouter(prefix="/api/console", tags=["console"])


@router.get("/config", response_model=ConsoleConfig)
def console_config(request: Request, user: UserDep) -> ConsoleConfig:
    """The deployment's settings the console needs (signed-in users only: it names the city's tile server)."""
    settings: HubSettings = request.app.state.hub.settings
    paths = request.app.openapi()["paths"]  # built once by FastAPI: which of the console's APIs this hub has
    return ConsoleConfig(tile_url=settings.map_tile_url, tile_attribution=settings.map_tile_attribution,
                         tile_max_zoom=settings.map_tile_max_zoom,
                         footage_max_window_s=settings.footage_max_window_s,
                         canvass_max_radius_m=min(settings.canvass_max_radius_m, 2000),
                         plate_hits="/api/hits/stream" in paths, plate_search="/api/plates/search" in paths,
                         hotlist_import="/api/hotlist/import" in paths)


def asset_path(dist: Path, name: str) -> Path | None:
    """The file `name` under dist/assets, or None if there is none (or `name` tries to leave the folder)."""
    root = (dist / "assets").resolve()
    path = (root / name).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


def install(app: FastAPI, settings: HubSettings) -> None:
    """Serve the built pages, their assets and the console's config on `app` (whose own docs must be off)."""
    dist = settings.web_dist
    policy = page_policy(settings)
    app.include_router(router)

    def page(request: Request) -> HTMLResponse:
        return serve(PAGES[request.url.path])

    def serve(name: str) -> HTMLResponse:
        built = dist / name
        headers = {"Content-Security-Policy": policy, "Cache-Control": "no-cache", **SECURITY_HEADERS}
        try:
            return HTMLResponse(built.read_text(encoding="utf-8"), headers=headers)
        except FileNotFoundError:
            return HTMLResponse(NOT_BUILT.format(dist=html.escape(str(dist))), status.HTTP_503_SERVICE_UNAVAILABLE,
                                headers={**headers, "Content-Security-Policy": "default-src 'none'"})

    for path in PAGES:
        app.add_api_route(path, page, methods=["GET"], include_in_schema=False, response_class=HTMLResponse)
    for path, name in LINK_PAGES.items():
        app.add_api_route(path, lambda token, name=name: serve(name), methods=["GET"], include_in_schema=False,
                          response_class=HTMLResponse)

    @app.get("/assets/{name:path}", include_in_schema=False)
    def asset(name: Annotated[str, PathParam(max_length=300)]) -> FileResponse:
        found = asset_path(dist, name)
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such asset")
        return FileResponse(found, headers={"Cache-Control": "public, max-age=31536000, immutable",
                                            **SECURITY_HEADERS})
