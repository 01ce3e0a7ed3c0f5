"""A fresh still of a camera for its owner to draw privacy masks over.

`GET /api/owner/cameras/{camera_id}/snapshot` asks the camera's box (`SnapshotRequest` over the MQTT link) for its
newest keyframe as a JPEG and passes the picture straight through: only to the camera's owner (an analyst,
admin or auditor gets 403 — the hub's staff see a camera only under a grant the box checks), audited as the
owner viewing their own camera once the box has answered (a failure with its reason when there was no
picture), and never stored at the hub (no row, no file; `Cache-Control: no-store` so the
browser and any proxy keep no copy either).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from hub import audit
from hub.access.errors import AccessRefused, ApplianceUnreachable
from hub.api.boundary import Id
from hub.api.consent import camera_of_owner
from hub.api.deps import HubDep, UserDep, client_address
from wire import messages as m

router = APIRouter(prefix="/api/owner", tags=["owner"])

#: How long the hub waits for the box's picture (decoding one keyframe takes a fraction of a second).
SNAPSHOT_TIMEOUT_S = 8.0
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@router.get("/cameras/{camera_id}/snapshot", response_class=Response,
            responses={200: {"content": {"image/jpeg": {}}, "description": "The camera's newest keyframe (JPEG)"},
                       403: {"description": "Not the camera's owner"},
                       422: {"description": "The box has no picture of this camera now (the reason says why)"},
                       503: {"description": "The box did not answer"}})
def camera_snapshot(camera_id: Id, request: Request, hub: HubDep, user: UserDep) -> Response:
    """The camera's newest picture, from its box, for its owner only; not stored at the hub. Audited once the box
    has answered (before the picture is handed over): success, or failure with why the owner got none."""
    with hub.db.session() as session:
        camera = camera_of_owner(session, user, camera_id)
        device_id, name = camera.appliance.device_id, camera.name
    try:
        taken = _ask_the_box(hub, device_id, name)
    except (ApplianceUnreachable, AccessRefused) as exc:
        _audit(hub, user.username, camera_id, request, audit.Outcome.FAILURE, reason=str(exc)[:500])
        raise
    _audit(hub, user.username, camera_id, request, audit.Outcome.SUCCESS)
    headers = {**NO_STORE, "X-Snapshot-Taken-At": taken.taken_at.isoformat(),
               "X-Snapshot-Size": f"{taken.width}x{taken.height}"}
    return Response(taken.jpeg_bytes(), media_type="image/jpeg", headers=headers)


def _ask_the_box(hub, device_id: str, name: str) -> m.SnapshotTaken:
    if hub.link is None:
        raise ApplianceUnreachable("the hub is not connected to the broker")
    reply = hub.link.request(device_id, m.SnapshotRequest(camera=name), timeout_s=SNAPSHOT_TIMEOUT_S)
    if reply is None:
        raise ApplianceUnreachable("the box did not answer: it may be offline")
    if not reply.ok:
        raise AccessRefused(f"the box has no picture of this camera now: {reply.error}", 422)
    try:
        return m.result_of(reply, m.SnapshotTaken)
    except m.WireError as exc:
        raise ApplianceUnreachable(str(exc)) from None


def _audit(hub, actor: str, camera_id: int, request: Request, outcome: audit.Outcome, reason: str = "") -> None:
    with hub.db.session() as session:
        audit.append(session, actor=actor, action="camera.snapshot", outcome=outcome, object=f"camera:{camera_id}",
                     source=client_address(request), viewer="owner", reason=reason)
