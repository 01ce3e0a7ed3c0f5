"""Which API calls the audit log records besides the ones routers record themselves: reads of people's data
and of the log (users, audit entries and exports, cameras, requests, consent), and every failed access attempt
(401, 403, 404 on /api/), through `hub.audit.recorder.AccessRecorder` (repeats aggregated).

The actor is the signed-in user when authentication got that far (`current_user` leaves it in the request's
state), else "unauthenticated"; a read's object is the path read, a failure's the route's template
(`/api/cameras/{camera_id}`), so a probe of many ids is aggregated as one."""

from __future__ import annotations

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.audit.recorder import AccessRecorder

FAILED = {401: "request.unauthenticated", 403: "request.forbidden", 404: "request.not_found"}
#: GET routes (templates) whose successful reads are on the record, and the action they are recorded as.
READS = {
    "/api/users": "read.users",
    "/api/audit/entries": "read.audit_entries",
    "/api/audit/export": "read.audit_export",
    "/api/audit/search": "read.audit_search",
    "/api/owner/activity": "read.owner_activity",
    "/api/cameras": "read.cameras",
    "/api/cameras/{camera_id}": "read.camera",
    "/api/cameras/{camera_id}/consent": "read.consent",
    "/api/cameras/{camera_id}/consent/history": "read.consent_history",
    "/api/requests": "read.requests",
    "/api/cases": "read.cases",
    "/api/cases/{case_number}": "read.case",
    "/api/clips/{clip_id}/manifest": "read.clip_manifest",
    "/api/incidents": "read.incidents",
    "/api/incidents/{incident_id}": "read.incident",
    "/api/hits": "read.hits",
    "/api/hits/stream": "read.hits_stream",
    "/api/reads/{read_id}/thumbnail": "read.plate_thumbnail",
}  # a canvass and a plate search are audited by their routers, with what they looked for
NOT_RECORDED = {"/api/auth/login"}  # sign-in failures are audited (and throttled) by the sign-in itself


class AccessAudit:
    """ASGI middleware: after each /api/ call, record it if it is a read above or a failed attempt."""

    def __init__(self, app: ASGIApp, recorder: AccessRecorder):
        self.app, self.recorder = app, recorder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope.get("path", "").startswith("/api/"):
            await self.app(scope, receive, send)
            return
        status: list[int] = []

        async def noting(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        await self.app(scope, receive, noting)
        if status:  # after the response: the database write runs in a worker thread, never on the event loop
            await anyio.to_thread.run_sync(self._record, scope, status[0])

    def _record(self, scope: Scope, status: int) -> None:
        self.recorder.tick()
        template = getattr(scope.get("route"), "path", None) or "(no such route)"
        if template in NOT_RECORDED:
            return
        action = FAILED.get(status)
        if action is None and scope.get("method") == "GET" and 200 <= status < 300:
            action = READS.get(template)
        if action is None:
            return
        state = scope.get("state") or {}
        client = scope.get("client")
        # A read names what was read; a failure names the route only, so a probe of many ids is one spell.
        obj = f"{scope['method']} {scope['path'] if action.startswith('read.') else template}"[:300]
        self.recorder.record(actor=state.get("actor", "unauthenticated"), action=action, object=obj,
                             outcome="success" if action.startswith("read.") else "denied",
                             source=client[0] if client else "")
