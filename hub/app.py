"""The hub's FastAPI application, built by `create_app(settings)`: the services, then the MQTT link and the
stream service at start-up (`start_link`), the routers, the web pages (`hub.web_serving`)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import re
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from hub import web_serving
from hub.access.errors import AccessError
from hub.access.service import AccessService
from hub.address_limits import AddressLimiter
from hub.api import footage as footage_api
from hub.api import registrations as registrations_api
from hub.api import upload_links
from hub.api import (
    audit_log,
    auditor,
    auth,
    boundary,
    cases,
    canvass,
    consent,
    enrolment,
    hits,
    hotlists,
    incidents,
    owner_activity,
    owner_keys,
    owner_snapshot,
    owner_status,
    plates,
    registry,
    streams,
    uploads,
)
from hub.api.access_audit import AccessAudit
from hub.audit.recorder import AccessRecorder
from hub.footage.service import FootageService
from hub.hit_feed import HitAnnouncer, HitFeed
from hub.clips.errors import ClipError
from hub.link import HubLink
from hub.registrations.errors import RegistrationError
from hub.registrations.intake import OwnerIntake
from hub.registrations.requests import OwnerRequests
from hub.periodic import Every
from hub.registrations.upkeep import registrations_upkeep
from hub.registrations.service import Registrations
from hub.services import HubServices
from hub.settings import HubSettings
from hub.stream_media import MediaError
from hub.streams import StreamService, media_path
from hub.transparency import ReportCache
from wire.evidence import MAX_MANIFEST_BYTES

log = logging.getLogger(__name__)



def page_csp(html: str) -> str:
    """A Content-Security-Policy that allows exactly this page's inline script and style (by hash), API calls to
    this origin, and nothing else: an injected script would not run. For pages made outside the build (tests);
    the built pages have no inline code and get `hub.web_serving.page_policy`."""
    def hashes(tag: str) -> str:
        found = re.findall(rf"<{tag}>(.*?)</{tag}>", html, flags=re.S)
        return " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in found)
    return (f"default-src 'none'; script-src {hashes('script')}; style-src {hashes('style')}; connect-src 'self'; "
            "media-src 'self' blob: mediastream:; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'")


class HealthOut(BaseModel):
    ok: bool = Field(description="The API answers.")
    mqtt: bool = Field(description="The hub is connected to the MQTT broker (appliances can be reached).")


def start_link(services: HubServices, footage: FootageService | None = None, hit_feed: HitFeed | None = None) -> None:
    """Build and start the MQTT link to the appliances and the stream service that rides on it; the hot-list hits
    it stores go to `hit_feed`."""
    settings = services.settings
    services.link = HubLink(services)
    if hit_feed is not None:
        services.link.hit_listeners.append(HitAnnouncer(services.db, hit_feed))
    services.link.start()
    try:
        media = media_path(settings)
    except MediaError as exc:
        log.warning("streaming is off: %s", exc)
    else:
        services.streams = StreamService(services, media)
        services.link.stream_ended_listeners.append(services.streams.closed_by_appliance)
    if footage is not None:
        footage.listen(services.link)


def _access_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AccessError)
    return JSONResponse({"detail": str(exc)}, status_code=exc.status)


def _clip_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ClipError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return JSONResponse({"detail": str(exc)}, status_code=exc.status, headers=headers)


def install_registrations(app: FastAPI, hub: HubServices) -> None:
    """Registered cameras without an appliance: their services on `app.state`, their errors, their routes (the
    public registration, the analysts' requests, the owners' upload links and tus endpoint)."""
    settings = hub.settings
    app.state.registrations = Registrations(hub.db, settings, hub.mailer)
    app.state.registration_limits = registrations_api.RegistrationLimits(
        settings.registrations_per_address_per_hour, settings.registrations_per_email_per_day)
    app.state.owner_requests = OwnerRequests(hub.db, settings, hub.mailer)
    app.state.owner_intake = OwnerIntake(hub.db, hub.clip_store, settings)
    app.add_exception_handler(RegistrationError, registrations_api.registration_error)
    app.include_router(registrations_api.router)
    app.include_router(upload_links.router)
    app.include_router(upload_links.tus_router(hub, app.state.owner_intake))


def create_app(settings: HubSettings, hub: HubServices | None = None) -> FastAPI:
    """The API over `hub` (built from `settings` if not given); the checkpointer, the maintenance pass and the
    MQTT link start with the app and everything stops with it, in reverse."""
    hub = hub or HubServices(settings)

    recorder = AccessRecorder(hub.db)

    footage = FootageService(hub, hub.mailer)
    hit_feed = HitFeed(queue_size=settings.hit_stream_queue, max_clients=settings.hit_stream_max_clients)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        hub.checkpointer.start()
        hub.maintenance.start()
        hub.owner_alerts.start()
        if settings.mqtt_enabled and hub.link is None:
            start_link(hub, footage, hit_feed)
        expiry = Every("footage request expiry", settings.request_expiry_check_s, footage.expire_due)
        upkeep = registrations_upkeep(app.state.registrations, app.state.owner_requests, app.state.owner_intake,
                                      settings.request_expiry_check_s, settings.clip_upload_abandoned_s)
        expiry.start()
        upkeep.start()
        try:
            yield
        finally:
            hit_feed.close()
            await asyncio.to_thread(expiry.stop)
            await asyncio.to_thread(upkeep.stop)
            footage.close()
            recorder.flush()
            hub.close()

    app = FastAPI(title="Canvass hub", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Camera registry, appliance enrolment and the MQTT link to appliances.")
    app.state.hub = hub
    app.state.access = AccessService(hub)
    app.state.footage = footage
    app.state.hit_feed = hit_feed
    app.state.address_limiter = AddressLimiter(settings.signed_out_attempts_per_minute, 60)
    app.state.access_recorder = recorder
    app.state.transparency = ReportCache()
    app.add_exception_handler(AccessError, _access_error)
    app.add_exception_handler(ClipError, _clip_error)
    app.add_middleware(AccessAudit, recorder=recorder)  # inside the boundary: sees only what passed it
    upload_bodies = max(settings.clip_upload_max_chunk_bytes, MAX_MANIFEST_BYTES)
    boundary.install(app, max_body_bytes=settings.max_body_bytes, larger_bodies={
        uploads.PREFIX + "/": upload_bodies, upload_links.PREFIX + "/": settings.clip_upload_max_chunk_bytes})
    for module in (auth, registry, enrolment, hotlists, audit_log, auditor, consent, owner_keys, streams, footage_api,
                   uploads, cases, incidents, canvass, hits, plates, owner_activity, owner_snapshot, owner_status):
        app.include_router(module.router)
    app.include_router(uploads.tus_router(hub))
    install_registrations(app, hub)

    web_serving.install(app, settings)  # the pages, their assets, /docs offline

    @app.get("/api/health", tags=["health"], response_model=HealthOut)
    def health() -> HealthOut:
        return HealthOut(ok=True, mqtt=bool(hub.link and hub.link.connected))

    return app
