"""Who may upload a clip: the upload token a box got in its clip order names one approved request (the hub
keeps only the token's SHA-256), and the manifest the box signs must be that box's and answer that request.

`find_ticket` turns a token into a `Ticket` (or says exactly why not); `manifest_problems` is the pure check of
a manifest against a ticket.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from cryptography import x509
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.clips.errors import AlreadyDelivered, NotAllowed
from hub.clips.staging import upload_id
from hub.tables import Appliance, ApplianceState, Camera, Case, Clip, FootageRequest, RequestStatus
from wire.evidence import Manifest


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Ticket:
    """An approved clip request a token lets its box upload for, with what the manifest must agree with."""

    request_id: int
    case_id: int
    case_number: str
    camera_id: int
    camera: str
    device_id: str
    certificate_pem: str
    approved_from: dt.datetime
    approved_to: dt.datetime
    token_hash: str

    @property
    def upload_id(self) -> str:
        return upload_id(self.token_hash)

    @property
    def actor(self) -> str:
        return f"appliance:{self.device_id}"


def find_ticket(session: Session, token: str) -> Ticket:
    """The ticket `token` is for; NotAllowed or AlreadyDelivered saying why there is none."""
    digest = token_hash(token)
    row = session.execute(
        select(FootageRequest, Camera, Appliance, Case).join(Camera, Camera.id == FootageRequest.camera_id)
        .join(Appliance, Appliance.id == Camera.appliance_id).join(Case, Case.id == FootageRequest.case_id)
        .where(FootageRequest.upload_token_hash == digest, FootageRequest.mode == "clip")).first()
    if row is None:
        delivered = session.scalar(select(Clip.request_id).where(Clip.upload_token_hash == digest))
        if delivered is not None:
            raise AlreadyDelivered(f"request {delivered} already has its clip at the hub; its upload token was "
                                   "single-use")
        raise NotAllowed("the upload token is not valid (never issued, or already used)")
    request, camera, appliance, case = row
    _check_open(session, request, appliance)
    return Ticket(request_id=request.id, case_id=case.id, case_number=case.case_number, camera_id=camera.id,
                  camera=camera.name, device_id=appliance.device_id, certificate_pem=appliance.certificate_pem,
                  approved_from=request.approved_from or request.window_from,
                  approved_to=request.approved_to or request.window_to, token_hash=digest)


def _check_open(session: Session, request: FootageRequest, appliance: Appliance) -> None:
    if request.status == RequestStatus.DELIVERED.value:
        raise AlreadyDelivered(f"request {request.id} already has its clip at the hub")
    if request.status != RequestStatus.APPROVED.value:
        raise NotAllowed(f"request {request.id} is {request.status}, not approved: nothing may be uploaded for it")
    if appliance.state != ApplianceState.ACTIVE:
        raise NotAllowed(f"appliance {appliance.device_id} is revoked")
    if session.scalar(select(Clip.id).where(Clip.request_id == request.id)) is not None:
        raise AlreadyDelivered(f"request {request.id} already has an upload at the hub (it did not verify and is "
                               "kept apart); ask for the footage again with a new request")


def _same_certificate(a: str, b: str) -> bool:
    try:
        return x509.load_pem_x509_certificate(a.encode()) == x509.load_pem_x509_certificate(b.encode())
    except ValueError:
        return False


def identity_problems(manifest: Manifest, ticket: Ticket) -> list[str]:
    """Whether the manifest is the ticket's box's: its certificate must be the one the hub issued to it."""
    if _same_certificate(manifest.certificate_pem, ticket.certificate_pem):
        return []
    return [f"the manifest carries a certificate other than the one the hub issued to {ticket.device_id}"]


#: A clip starts at the keyframe at or before the approved start (no transcode can start it elsewhere): at most
#: one camera GOP earlier — cameras are asked for 1–2 s GOPs; this allows up to 10 s.
KEYFRAME_LEAD = dt.timedelta(seconds=10)
#: The last frame's display time may end a little after the window's end.
LAST_FRAME_OVERRUN = dt.timedelta(seconds=1)


def manifest_problems(manifest: Manifest, ticket: Ticket) -> list[str]:
    """Every way the manifest fails to answer the ticket's request (device, camera, request, window)."""
    problems = []
    if manifest.device_id != ticket.device_id:
        problems.append(f"the manifest names device {manifest.device_id}; request {ticket.request_id} is for "
                        f"{ticket.device_id}")
    if manifest.camera != ticket.camera:
        problems.append(f"the manifest names camera {manifest.camera}; request {ticket.request_id} is for "
                        f"{ticket.camera}")
    if manifest.request_id != ticket.request_id:
        problems.append(f"the manifest answers request {manifest.request_id}, not {ticket.request_id}")
    if (manifest.requested_from, manifest.requested_to) != (ticket.approved_from, ticket.approved_to):
        problems.append(f"the manifest answers the window {_when(manifest.requested_from)} – "
                        f"{_when(manifest.requested_to)}, not the approved {_when(ticket.approved_from)} – "
                        f"{_when(ticket.approved_to)}")
    if (manifest.actual_from < ticket.approved_from - KEYFRAME_LEAD
            or manifest.actual_to > ticket.approved_to + LAST_FRAME_OVERRUN):
        problems.append(f"the clip's window {_when(manifest.actual_from)} – {_when(manifest.actual_to)} is outside "
                        f"the approved window {_when(ticket.approved_from)} – {_when(ticket.approved_to)}")
    return problems


def _when(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat()
