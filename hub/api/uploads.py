"""Clip uploads from the boxes: the signed manifest first, then the clip over tus (resumable), both under
`/api/uploads` and both authorised by the upload token of the clip order (`Authorization: Bearer …`).

    PUT  /api/uploads/{request_id}/manifest   the box's signed manifest (its file's bytes, ≤ 4 MB) → ManifestOut
    POST /api/uploads                         tus creation: Upload-Length = the manifest's clip_bytes,
                                              Upload-Metadata request_id, filename, filetype
    HEAD /api/uploads/{upload}                tus: where to resume (Upload-Offset)
    PATCH /api/uploads/{upload}               tus: the next bytes; the last one verifies and stores the clip
    DELETE /api/uploads/{upload}              tus termination: the box gives up

Each call presents the token; `current_ticket` finds its approved request (`hub.clips.tickets`) in a worker
thread, and a call that names an upload must name the token's own. tuspyserver resolves the PATCH body writer
before its `auth` dependency, so the token is checked through `file_dep`, which the writer depends on: nothing
is written for a caller without a valid token. Uploads are written by tuspyserver's `LocalFileStorage`, whose
disk I/O runs in worker threads (its default inline storage writes and fsyncs on the event loop); it holds each
PATCH body in memory until the PATCH ends, so PATCH bodies are bounded (`clip_upload_max_chunk_bytes`).
"""

from __future__ import annotations

import math
from typing import Annotated, Callable

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from tuspyserver import create_tus_router
from tuspyserver.storage.local import LocalFileStorage

from hub.api.boundary import Id
from hub.api.deps import client_address
from hub.clips.errors import ManifestRefused, NoToken, NotAllowed, TooLarge
from hub.clips.intake import ClipIntake
from hub.clips.tickets import Ticket
from hub.services import HubServices

PREFIX = "/api/uploads"

router = APIRouter(prefix=PREFIX, tags=["uploads"])


def _intake(request: Request) -> ClipIntake:
    return request.app.state.hub.clip_intake


def _bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NoToken("present the upload token of the clip order (Authorization: Bearer …)")
    return token.strip()


async def current_ticket(request: Request) -> Ticket:
    """The approved request the call's upload token is for (and, for a call naming an upload, its own)."""
    intake = _intake(request)
    ticket = await run_in_threadpool(intake.ticket, _bearer(request))
    request.state.actor = ticket.actor
    upload = request.path_params.get("uuid")
    if upload is not None and upload != ticket.upload_id:
        raise NotAllowed("this upload belongs to another upload token")
    if request.method == "PATCH":
        await _check_room(request, intake, ticket)
    return ticket


async def _check_room(request: Request, intake: ClipIntake, ticket: Ticket) -> None:
    """413 for a PATCH whose bytes would go past the length the upload declared (the manifest's)."""
    offset, length = request.headers.get("upload-offset", ""), request.headers.get("content-length", "")
    if not (offset.isdigit() and length.isdigit()):
        return  # tuspyserver answers a missing or bad offset; a chunked body is bounded by its length check
    declared = await run_in_threadpool(intake.staging.declared_length, ticket.upload_id)
    if declared is not None and int(offset) + int(length) > declared:
        raise TooLarge(f"{int(offset) + int(length)} bytes would exceed the {declared} the manifest says")


TicketDep = Annotated[Ticket, Depends(current_ticket)]


class ManifestOut(BaseModel):
    request_id: int = Field(description="The request the clip answers.")
    clip_bytes: int = Field(description="The Upload-Length the tus upload must declare.")
    resumes: bool = Field(description="An upload of this clip is under way: continue it (HEAD for the offset).")
    upload_url: str = Field(description="Where to create the tus upload.")


@router.put("/{request_id}/manifest", response_model=ManifestOut)
async def put_manifest(request_id: Id, request: Request, ticket: TicketDep) -> ManifestOut:
    """The box's signed manifest for the clip it is about to upload; checked at once (403: not this box's;
    422: does not answer the request; 413: too large; 409: the request already has its clip)."""
    if request_id != ticket.request_id:
        raise NotAllowed(f"the upload token is for request {ticket.request_id}, not {request_id}")
    data = await request.body()
    staged = await run_in_threadpool(_intake(request).accept_manifest, ticket, data, client_address(request))
    return ManifestOut(request_id=ticket.request_id, clip_bytes=staged.clip_bytes, resumes=staged.resumes,
                       upload_url=PREFIX)


async def _upload_file(ticket: TicketDep) -> Callable[[dict], dict]:
    """tuspyserver's file_dep: the upload's id comes from its token (and the token is checked here, before
    any body is written)."""
    return lambda metadata: {"uid": ticket.upload_id}


async def _creation(request: Request, ticket: TicketDep) -> Callable:
    async def check(metadata: dict, info: dict) -> None:
        await run_in_threadpool(_intake(request).check_creation, ticket, metadata, info.get("size"))
    return check


async def _completion(request: Request, ticket: TicketDep) -> Callable:
    async def complete(path: str, metadata: dict) -> None:
        arrival = await run_in_threadpool(_intake(request).complete, ticket, client_address(request))
        if arrival.verified:  # the box may let its hold go: the case's retention keeps the clip now
            await run_in_threadpool(request.app.state.footage.delivered, ticket.request_id)
        else:
            raise ManifestRefused("the clip arrived but does not verify against its manifest (kept apart, not "
                                  "evidence): " + "; ".join(arrival.problems))
    return complete


def tus_router(hub: HubServices) -> APIRouter:
    """tuspyserver's router at PREFIX, bound to the hub's clip intake."""
    settings = hub.settings
    directory = str(settings.uploads_dir)
    return create_tus_router(prefix=PREFIX, files_dir=directory, max_size=settings.clip_max_bytes,
                             auth=current_ticket, days_to_keep=max(1, math.ceil(settings.clip_upload_abandoned_s
                                                                                / 86400)),
                             upload_complete_dep=_completion, pre_create_dep=_creation, file_dep=_upload_file,
                             tags=["uploads"], strict_offset_validation=True,
                             storage=LocalFileStorage(directory))
