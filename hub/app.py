"""The hub's FastAPI application, built by `create_app(settings)`."""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from hub.api import audit_log, auth, consent, enrolment, hotlists, registry, streams
from hub.core import Hub
from hub.settings import HubSettings

log = logging.getLogger(__name__)



def page_csp(html: str) -> str:
    """A Content-Security-Policy that allows exactly this page's inline script and style (by hash), API calls to
    this origin, and nothing else: an injected script would not run."""
    def hashes(tag: str) -> str:
        found = re.findall(rf"<{tag}>(.*?)</{tag}>", html, flags=re.S)
        return " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in found)
    return (f"default-src 'none'; script-src {hashes('script')}; style-src {hashes('style')}; connect-src 'self'; "
            "media-src 'self' blob: mediastream:; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'")


def create_app(settings: HubSettings, hub: Hub | None = None) -> FastAPI:
    """The API over `hub` (built from `settings` if not given); the MQTT link starts with the app."""
    hub = hub or Hub(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        hub.start_checkpointer()
        if settings.mqtt_enabled and hub.link is None:
            from hub.link import HubLink

            hub.link = HubLink(hub)
            hub.link.start()
            hub.start_streams()
        try:
            yield
        finally:
            hub.close()

    app = FastAPI(title="Canvass hub", version="0.1.0", lifespan=lifespan,
                  description="Camera registry, appliance enrolment and the MQTT link to appliances.")
    app.state.hub = hub
    for module in (auth, registry, enrolment, hotlists, audit_log, consent, streams):
        app.include_router(module.router)

    analyst_page = (Path(__file__).parent / "web" / "analyst.html").read_text(encoding="utf-8")
    analyst_csp = page_csp(analyst_page)

    @app.get("/", include_in_schema=False)
    @app.get("/analyst", include_in_schema=False)
    def analyst() -> HTMLResponse:
        """The analyst's page: sign in, cameras near a point, Stream now (the full consoles come later)."""
        return HTMLResponse(analyst_page, headers={"Content-Security-Policy": analyst_csp, "X-Frame-Options": "DENY",
                                                  "Referrer-Policy": "no-referrer"})

    @app.get("/api/health", tags=["health"])
    def health() -> dict:
        return {"ok": True, "mqtt": bool(hub.link and hub.link.connected)}

    return app
