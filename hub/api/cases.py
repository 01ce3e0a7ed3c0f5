"""The case library: cases, their requests and clips, clip downloads and manifests, retention, the court
bundle. Thin: `hub.clips.library` and `hub.clips.bundle` do the work.

    GET   /api/cases                          CaseSummary list (admins, auditors: all; analysts: their own)
    GET   /api/cases/{case_number}            CaseOut: requests per camera, decisions, clips, verification
    PATCH /api/cases/{case_number}            CaseUpdate → CaseOut (admins): keep the clips longer
    GET   /api/cases/{case_number}/bundle     the court bundle (zip, streamed; audited)
    GET   /api/clips/{clip_id}/download       the clip (video/mp4, attachment, streamed; audited)
    GET   /api/clips/{clip_id}/manifest       its signed manifest, exactly as the box wrote it
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from hub.api.boundary import Id, Moment
from hub.api.deps import AdminDep, HubDep, SessionDep, client_address, require
from hub.clips import library
from hub.clips.bundle import AuditSigner, plan_bundle, stream_bundle
from hub.clips.errors import Gone
from hub.clips.store import ClipNotFound
from hub.tables import Role, User, utcnow

router = APIRouter(tags=["cases"])
CaseReader = Annotated[User, Depends(require(Role.ADMIN, Role.AUDITOR, Role.ANALYST))]


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


@router.get("/api/clips/{clip_id}/download", response_class=StreamingResponse,
            responses={200: {"content": {"video/mp4": {}}}})
def download_clip(clip_id: Id, request: Request, session: SessionDep, hub: HubDep, user: CaseReader):
    """The verified clip as it arrived from its box; the download is on the record before a byte is sent."""
    clip = library.clip_for_download(session, user=user, clip_id=clip_id, source=client_address(request))
    try:
        chunks = hub.clip_store.stream(clip.storage_key)
    except ClipNotFound:
        raise Gone(f"clip {clip_id}'s bytes are missing from the clip store") from None
    return StreamingResponse(chunks, media_type="video/mp4", headers={
        "Content-Length": str(clip.bytes),
        "Content-Disposition": f'attachment; filename="case-{clip.case_id}-request-{clip.request_id}.mp4"'})


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
