"""An owner's single-use upload link, over HTTP: what the page shows, the owner's files over tus (resumable),
done and decline. Every call presents the link's token (`Authorization: Bearer …`); an unknown token is 404,
a closed link (expired, done, declined) 410 with its state.

    GET    /api/upload-link                 what the link's page shows (any state) → LinkOut
    POST   /api/upload-link/done            the owner finished (optional statement); the link closes
    POST   /api/upload-link/decline         the owner declines in one click; the link closes
    POST   /api/owner-uploads               tus creation: Upload-Length, Upload-Metadata filename (≤ caps)
    HEAD   /api/owner-uploads/{upload}      tus: where to resume
    PATCH  /api/owner-uploads/{upload}      tus: the next bytes; the last one probes, hashes and stores the file
    DELETE /api/owner-uploads/{upload}      tus termination

The token is checked through tuspyserver's `auth` and `file_dep` dependencies before a byte is written (as in
`hub.api.uploads`), and an upload's id must carry the link's prefix. Bytes go to disk through tuspyserver's
`LocalFileStorage` in worker threads; each PATCH body is bounded (`clip_upload_max_chunk_bytes`), so the hub
never holds a file in memory.
"""

from __future__ import annotations

import math
from typing import Annotated, Callable

from fastapi import APIRouter, Depends, Request, Response, status
from starlette.concurrency import run_in_threadpool
from tuspyserver import create_tus_router
from tuspyserver.storage.local import LocalFileStorage

from hub.api.deps import client_address
from hub.api.registrations import link_token
from hub.registrations.errors import LinkNotValid
from hub.registrations.forms import LinkOut, StatementIn
from hub.registrations.intake import OwnerIntake
from hub.registrations.requests import LinkTicket, OwnerRequests
from hub.registrations.tokens import digest
from hub.services import HubServices

PREFIX = "/api/owner-uploads"

router = APIRouter(prefix="/api/upload-link", tags=["upload links"])


def _requests(request: Request) -> OwnerRequests:
    return request.app.state.owner_requests


def _intake(request: Request) -> OwnerIntake:
    return request.app.state.owner_intake


Token = Annotated[str, Depends(link_token)]


@router.get("", response_model=LinkOut)
async def link(request: Request, token: Token) -> LinkOut:
    """The request behind the link: window, case reference, agency, limits, files so far, and its state."""
    return await run_in_threadpool(_requests(request).view, token)


@router.post("/done", status_code=status.HTTP_204_NO_CONTENT)
async def done(body: StatementIn, request: Request, token: Token) -> Response:
    """The owner is done uploading (at least one file); the link is used up."""
    await run_in_threadpool(_requests(request).finish, token, body.statement, client_address(request))
    await _discard_unfinished(request, token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/decline", status_code=status.HTTP_204_NO_CONTENT)
async def decline(body: StatementIn, request: Request, token: Token) -> Response:
    """The owner declines; the link is used up."""
    await run_in_threadpool(_requests(request).decline, token, body.statement, client_address(request))
    await _discard_unfinished(request, token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _discard_unfinished(request: Request, token: str) -> None:
    await run_in_threadpool(_intake(request).discard_link, digest(token)[:12])


# ---------------------------------------------------------------- tus


async def current_link(request: Request) -> LinkTicket:
    """The open link the call's token proves; a call naming an upload must name one of the link's own."""
    ticket = await run_in_threadpool(_requests(request).ticket, link_token(request))
    request.state.actor = "registered-owner"
    upload = request.path_params.get("uuid")
    if upload is not None and not upload.startswith(ticket.upload_prefix):
        raise LinkNotValid("no such upload for this link")
    if request.method == "PATCH" and upload is not None:
        offset, length = request.headers.get("upload-offset", ""), request.headers.get("content-length", "")
        if offset.isdigit() and length.isdigit():
            await run_in_threadpool(_intake(request).room_for, upload, int(offset), int(length))
    return ticket


LinkDep = Annotated[LinkTicket, Depends(current_link)]


async def _upload_file(ticket: LinkDep) -> Callable[[dict], dict]:
    """tuspyserver's file_dep: a new upload's id carries the link's prefix (checked before any body is
    written)."""
    return lambda metadata: {"uid": OwnerIntake.new_upload_id(ticket)}


async def _creation(request: Request, ticket: LinkDep) -> Callable:
    async def check(metadata: dict, info: dict) -> None:
        await run_in_threadpool(_intake(request).check_creation, ticket, metadata, info.get("size"))
    return check


async def _completion(request: Request, ticket: LinkDep) -> Callable:
    async def complete(path: str, metadata: dict) -> None:
        upload = request.path_params.get("uuid") or path.rsplit("/", 1)[-1]
        await run_in_threadpool(_intake(request).complete, ticket, upload, metadata, client_address(request))
    return complete


def tus_router(hub: HubServices, intake: OwnerIntake) -> APIRouter:
    """tuspyserver's router at PREFIX, writing to the owners' staging folder."""
    settings = hub.settings
    directory = str(intake.directory)
    return create_tus_router(prefix=PREFIX, files_dir=directory, max_size=settings.owner_upload_max_file_bytes,
                             auth=current_link, days_to_keep=max(1, math.ceil(settings.upload_link_ttl_h / 24)),
                             upload_complete_dep=_completion, pre_create_dep=_creation, file_dep=_upload_file,
                             tags=["upload links"], strict_offset_validation=True,
                             storage=LocalFileStorage(directory))
