"""Owners' passkeys over HTTP: register one (py_webauthn verifies it), list them, and offer one to a box with
the pairing code the box showed. The box decides; the hub only carries the offer (see docs/owner-keys.md)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from hub import audit
from hub import owner_keys as keys
from hub.access.errors import AccessRefused, ApplianceUnreachable
from hub.api.deps import HubDep, SessionDep, client_address, require
from hub.tables import Appliance, ApplianceOwnerKey, OwnerPasskey, Role, User
from wire import messages as m
from wire import owner as wo

router = APIRouter(prefix="/api", tags=["owner keys"])
Owner = Annotated[User, Depends(require(Role.OWNER))]


class PasskeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    credential: Annotated[dict[str, Any], Field(description="The browser's RegistrationResponseJSON.")]
    label: Annotated[str, Field(max_length=100, description="What the owner calls it (\"my phone\").")] = ""


class PasskeyOut(BaseModel):
    id: int
    credential_id: str
    label: str
    public_key: str = Field(description="SubjectPublicKeyInfo (DER) of the P-256 key, base64url.")
    fingerprint: str
    created_at: dt.datetime
    boxes: list[str] = Field(description="Device ids of the boxes that said they hold this key.")


def _passkey_out(session, hub, row: OwnerPasskey) -> PasskeyOut:
    boxes = session.scalars(select(Appliance.device_id).join(ApplianceOwnerKey).where(
        ApplianceOwnerKey.passkey_id == row.id).order_by(Appliance.device_id))
    return PasskeyOut(id=row.id, credential_id=row.credential_id, label=row.label, created_at=row.created_at,
                      public_key=row.public_key,
                      fingerprint=keys.as_owner_key(hub.settings, row).fingerprint(), boxes=list(boxes))


@router.post("/owner/passkeys/options")
def passkey_options(session: SessionDep, hub: HubDep, owner: Owner) -> dict[str, Any]:
    """Options for `navigator.credentials.create` (the challenge is good for five minutes)."""
    return json.loads(keys.registration_options(session, hub.settings, owner))


@router.post("/owner/passkeys", response_model=PasskeyOut, status_code=201,
             responses={409: {"description": "Registered already"},
                        422: {"description": "The registration does not verify (the reason says why)"}})
def register_passkey(body: PasskeyIn, request: Request, session: SessionDep, hub: HubDep,
                     owner: Owner) -> PasskeyOut:
    row = keys.register(session, hub.settings, owner, body.credential, body.label)
    audit.append(session, actor=owner.username, action="owner.passkey_registered", outcome=audit.Outcome.SUCCESS,
                 object=f"user:{owner.id}", source=client_address(request), credential_id=row.credential_id)
    return _passkey_out(session, hub, row)


@router.get("/owner/passkeys", response_model=list[PasskeyOut])
def list_passkeys(session: SessionDep, hub: HubDep, owner: Owner) -> list[PasskeyOut]:
    rows = session.scalars(select(OwnerPasskey).where(OwnerPasskey.user_id == owner.id).order_by(OwnerPasskey.id))
    return [_passkey_out(session, hub, row) for row in rows]


class BoxAnswerOut(BaseModel):
    accepted: bool
    reason: str
    fingerprint: str


@router.post("/appliances/{device_id}/owner-keys", response_model=BoxAnswerOut,
             responses={422: {"description": "The box refused the key (the reason says why)"},
                        503: {"description": "The box is not reachable now"}})
def offer_key(device_id: Annotated[str, Path(max_length=32)], offer: wo.KeyOffer, request: Request, hub: HubDep,
              owner: Owner) -> BoxAnswerOut:
    """Offer one of your passkeys to your box, MAC'd with the code the box showed (`canvass-edge owners pair`)."""
    with hub.db.session() as session:
        appliance = session.scalar(select(Appliance).where(Appliance.device_id == device_id))
        if appliance is None or appliance.business_id != owner.business_id:
            raise AccessRefused("no such appliance", 404)
        enrolment = _enrolment(offer)
        passkey = session.scalar(select(OwnerPasskey).where(
            OwnerPasskey.user_id == owner.id, OwnerPasskey.credential_id == enrolment.key.credential_id))
        if passkey is None or enrolment.device_id != appliance.device_id:
            raise AccessRefused("the offer names a passkey of yours for this box: register the passkey first", 422)
        appliance_id, passkey_id = appliance.id, passkey.id
    answer = _ask_box(hub, device_id, offer)
    with hub.db.session() as session:
        audit.append(session, actor=owner.username, action="owner.key_offered",
                     outcome=audit.Outcome.SUCCESS if answer.accepted else audit.Outcome.DENIED,
                     object=f"appliance:{device_id}", source=client_address(request), reason=answer.reason,
                     credential_id=enrolment.key.credential_id)
        if answer.accepted and session.scalar(select(ApplianceOwnerKey).where(
                ApplianceOwnerKey.appliance_id == appliance_id, ApplianceOwnerKey.passkey_id == passkey_id)) is None:
            session.add(ApplianceOwnerKey(appliance_id=appliance_id, passkey_id=passkey_id,
                                          fingerprint=answer.fingerprint))
    if not answer.accepted:
        raise AccessRefused(f"the box refused the key: {answer.reason}", 422)
    return BoxAnswerOut(accepted=True, reason=answer.reason, fingerprint=answer.fingerprint)


def _enrolment(offer: wo.KeyOffer) -> wo.KeyEnrolment:
    try:
        return wo.KeyEnrolment.model_validate_json(offer.enrolment)
    except ValueError:
        raise AccessRefused("the enrolment is not a key enrolment document", 422) from None


def _ask_box(hub, device_id: str, offer: wo.KeyOffer) -> m.OwnerKeyTaken:
    if hub.link is None:
        raise ApplianceUnreachable("the hub is not connected to the broker")
    reply = hub.link.request(device_id, m.OwnerKeyOffer(offer=offer), timeout_s=10)
    if reply is None:
        raise ApplianceUnreachable("the box did not answer: is it online?")
    try:
        return m.result_of(reply, m.OwnerKeyTaken)
    except m.WireError as exc:
        return m.OwnerKeyTaken(accepted=False, reason=(reply.error if not reply.ok else str(exc))[:500])
