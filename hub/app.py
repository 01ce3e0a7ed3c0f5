"""The hub's FastAPI application, built by `create_app(settings)`."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI

from hub.api import audit_log, auth, consent, enrolment, hotlists, registry, streams
from hub.core import Hub
from hub.settings import HubSettings

log = logging.getLogger(__name__)


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

    @app.get("/api/health", tags=["health"])
    def health() -> dict:
        return {"ok": True, "mqtt": bool(hub.link and hub.link.connected)}

    return app
