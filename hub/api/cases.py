"""The case library: cases, their requests and clips, clip downloads and manifests, retention, the court
bundle. Thin: `hub.clips.library` and `hub.clips.bundle` do the work.

    GET   /api/cases                          CaseSummary list (admins, auditors: all; analysts: their own)
    GET   /api/cases/{case_number}            CaseOut: requests per camera, decisions, clips, verification
    PATCH /api/cases/{case_number}            CaseUpdate → CaseOut (admins): keep the clips longer
    GET   /api/cases/{case_number}/bundle     the court bundle (zip, streamed; audited)
    GET   /api/clips/{clip_id}/download       the clip (video/mp4, attachment, streamed; audited per minute);
                                              byte ranges (206/416, `hub.api.ranges`); Bearer or ?ticket=
    POST  /api/clips/{clip_id}/play           PlayOut: the download URL with a play ticket, for a <video>
    GET   /api/clips/{clip_id}/manifest       its signed manifest, exactly as the box wrote it
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, BinaryIO

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from hub.api import ranges
from hub.api.boundary import Id, Moment
from hub.api.deps import (AdminDep, ApiSessionDep, BearerDep, HubDep, RecorderDep, SessionDep, check_role,
                          client_address, current_session, current_user, require)
from hub.clips import library, play
from hub.clips.bundle import AuditSigner, plan_bundle, stream_bundle
from hub.clips.errors import Gone
from hub.clips.store import ClipNotFound, ClipStore, read_chunks
from hub.tables import Clip, Role, User, utcnow

router = APIRouter(tags=["cases"])
CASE_READERS = (Role.ADMIN, Role.AUDITOR, Role.ANALYST)
CaseReader = Annotated[User, Depends(require(*CASE_READERS))]


@router.get("/api/cases", response_model=list[library.CaseSummary])
def list_cases(session: SessionDep, user: CaseReader, limit: Annotated[int, Query(ge=1, le=500)] = 100,
               offset: Annotated[int, Query(ge=0, le=10**9)] = 0) -> list[library.CaseSummary]:
    """The cases you may see, newest first."""
    return library.list_cases(session, user=user, limit=limit, offset=offset)


@router.get("/api/cases/{case_number}", response_model=library.CaseOut)
def get_case(case_number: str, session: SessionDep, user: CaseReader) -> library.CaseOut:
    return library.case_detail(session, user=user, case_number=case_number)


class CaseUpdate(BaseModel):
    retain_until: Moment = Field(description="Keep the case's clips until then (later than now and than set).")


@router.patch("/api/cases/{case_number}", response_model=library.CaseOut)
def extend_retention(case_number: str, body: CaseUpdate, request: Request, session: SessionDep,
                     admin: AdminDep) -> library.CaseOut:
    """Keep the case's clips longer (admins); audited. Shortening is refused (422)."""
    library.extend_retention(session, user=admin, case_number=case_number, until=body.retain_until,
                             source=client_address(request), now=utcnow())
    return library.case_detail(session, user=admin, case_number=case_number)


@dataclass(frozen=True)
class ClipReader:
    """Who downloads a clip and how they were let in ("session": the Bearer header; "play ticket")."""

    user: User
    via: str


TicketQuery = Annotated[str | None, Query(max_length=play.MAX_TICKET_CHARS, description=(
    "A play ticket from POST /api/clips/{clip_id}/play, instead of the Authorization header."))]


def clip_reader(clip_id: Id, request: Request, hub: HubDep, session: SessionDep, credentials: BearerDep,
                ticket: TicketQuery = None) -> ClipReader:
    """The user a download is for: from the play ticket if there is one (401 if it is not valid, has expired or
    its session ended; 403 if it is another clip's), else from the Bearer header."""
    if ticket is None:
        signed_in, via = current_session(hub, session, credentials), "session"
    else:
        now = utcnow()
        found = play.read_ticket(hub.settings.secret_key, ticket, clip_id=clip_id, now=now)
        signed_in, via = play.session_for_ticket(session, found, now=now), "play ticket"
    return ClipReader(check_role(current_user(request, signed_in), CASE_READERS), via)


ClipReaderDep = Annotated[ClipReader, Depends(clip_reader)]


@router.get("/api/clips/{clip_id}/download", response_class=StreamingResponse, responses={
    200: {"content": {"video/mp4": {}}, "description": "The whole clip."},
    206: {"content": {"video/mp4": {}}, "description": "The one byte range asked for (`Range: bytes=…`)."},
    416: {"description": "The range asked for is past the clip's end (`Content-Range: bytes */size`)."}})
def download_clip(clip_id: Id, request: Request, session: SessionDep, hub: HubDep, reader: ClipReaderDep,
                  recorder: RecorderDep) -> Response:
    """The verified clip as it arrived from its box, whole or one byte range (so a video can seek; more than one
    range, or a malformed one, gets the whole clip); on the record before a byte is sent, once a minute per
    user and clip (`library.record_download`)."""
    clip, case = library.downloadable_clip(session, user=reader.user, clip_id=clip_id)
    etag = f'"{clip.sha256}"'
    wanted = ranges.answer(request.headers.get("range"), size=clip.bytes, if_range=request.headers.get("if-range"),
                           etag=etag)
    headers = {**wanted.headers(), "ETag": etag, "Cache-Control": "private, no-store"}
    if isinstance(wanted, ranges.Unsatisfiable):
        return Response(status_code=wanted.status, headers=headers)
    source = _open_clip(hub.clip_store, clip, wanted)
    try:
        library.record_download(recorder, user=reader.user, clip=clip, case=case, source=client_address(request),
                                via=reader.via, served=headers.get("Content-Range", "whole"))
    except BaseException:
        source.close()
        raise
    headers["Content-Disposition"] = f'attachment; filename="case-{clip.case_id}-request-{clip.request_id}.mp4"'
    return StreamingResponse(read_chunks(source), status_code=wanted.status, media_type="video/mp4", headers=headers)


def _open_clip(store: ClipStore, clip: Clip, wanted: ranges.Whole | ranges.Part) -> BinaryIO:
    try:
        if isinstance(wanted, ranges.Part):
            return store.open_range(clip.storage_key, wanted.first, wanted.last)
        return store.open(clip.storage_key)
    except ClipNotFound:
        raise Gone(f"clip {clip.id}'s bytes are missing from the clip store") from None


class PlayOut(BaseModel):
    url: str = Field(description="The clip's download URL with a play ticket: a <video src> plays it without "
                                 "the Authorization header (this clip only, this user, while the sign-in lasts).")
    expires_at: dt.datetime = Field(description="When the ticket stops opening the clip; a page that plays longer "
                                                "asks for a new one.")


@router.post("/api/clips/{clip_id}/play", response_model=PlayOut)
def play_clip(clip_id: Id, request: Request, session: SessionDep, hub: HubDep, signed_in: ApiSessionDep,
              user: CaseReader) -> PlayOut:
    """A short-lived URL for playing the clip in the browser (issuing it is audited)."""
    ticket, expires_at = library.issue_play_ticket(session, signed_in=signed_in, clip_id=clip_id,
                                                   secret=hub.settings.secret_key,
                                                   ttl_s=hub.settings.clip_play_ticket_ttl_s,
                                                   source=client_address(request), now=utcnow())
    return PlayOut(url=f"/api/clips/{clip_id}/download?ticket={ticket}", expires_at=expires_at)


@router.get("/api/clips/{clip_id}/manifest", responses={200: {"content": {"application/json": {}}}})
def clip_manifest(clip_id: Id, session: SessionDep, user: CaseReader) -> Response:
    """The clip's manifest, signed by its box, byte for byte as the box sent it."""
    clip, _ = library.visible_clip(session, user=user, clip_id=clip_id)
    return Response(clip.manifest, media_type="application/json")


@router.get("/api/cases/{case_number}/bundle", response_class=StreamingResponse,
            responses={200: {"content": {"application/zip": {}}}})
def court_bundle(case_number: str, request: Request, hub: HubDep, user: CaseReader):
    """The case's court bundle: clips, manifests, certificates, audit entries with proofs, a signed
    checkpoint and a README; verify with `canvass-audit verify-bundle`."""
    signer = AuditSigner(hub.checkpoint, hub.audit_key.public_key(), hub.settings.audit_origin)
    plan = plan_bundle(hub.db, hub.clip_store, signer, hub.ca.pem, user=user, case_number=case_number,
                       source=client_address(request))
    return StreamingResponse(stream_bundle(plan, hub.clip_store), media_type="application/zip",
                             headers={"Content-Disposition": f'attachment; filename="{plan.filename}"'})
