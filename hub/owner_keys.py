"""Owners' passkeys at the hub: registration (py_webauthn), and checking an owner-signed document before it is
stored and forwarded.

The hub's check is its own (role, the right owner, the right document); the box's check is the one that
counts, against the keys the box holds (wire.owner, edge.consent.owners). Registration challenges are
stateless: eight bytes of time and a MAC under the hub's secret, good for `CHALLENGE_SECONDS`, so any hub
process behind a load balancer can finish a registration another began.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import struct
import time
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session
from webauthn import (
    generate_registration_options,
    options_to_json,
    verify_registration_response,
)
from webauthn.helpers import (
    decode_credential_public_key,
    decoded_public_key_to_cryptography,
)
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from hub.access.errors import AccessRefused
from hub.settings import HubSettings
from hub.tables import OwnerPasskey, Role, User
from wire import consent as c
from wire import owner as wo

CHALLENGE_SECONDS = 300
RP_NAME = "Canvass"


def relying_party(settings: HubSettings) -> tuple[str, str]:
    """(rp_id, origin) of the owner console: the host of the hub's public URL, and its origin."""
    parts = urlsplit(settings.public_url)
    return parts.hostname or "", f"{parts.scheme}://{parts.netloc}"


def _challenge(settings: HubSettings, user: User, at: int) -> bytes:
    stamp = struct.pack(">Q", at)
    mac = hmac.new(settings.secret_key.encode(), b"passkey-registration:%d:" % user.id + stamp, hashlib.sha256)
    return stamp + mac.digest()[:24]


def _challenge_ok(settings: HubSettings, user: User, challenge: bytes, now: float) -> bool:
    if len(challenge) != 32:
        return False
    at = struct.unpack(">Q", challenge[:8])[0]
    return 0 <= now - at <= CHALLENGE_SECONDS and hmac.compare_digest(_challenge(settings, user, at), challenge)


def registration_options(session: Session, settings: HubSettings, user: User) -> str:
    """`navigator.credentials.create` options (JSON) for a new passkey of `user`: ES256 only (what the boxes
    verify), a discoverable credential preferred, the user's existing passkeys excluded."""
    rp_id, _ = relying_party(settings)
    existing = session.scalars(select(OwnerPasskey.credential_id).where(OwnerPasskey.user_id == user.id))
    options = generate_registration_options(
        rp_id=rp_id, rp_name=RP_NAME, user_name=user.username, user_id=b"canvass-user:%d" % user.id,
        challenge=_challenge(settings, user, int(time.time())),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED, user_verification=UserVerificationRequirement.PREFERRED),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=wo.from_b64url(c)) for c in existing],
        supported_pub_key_algs=[COSEAlgorithmIdentifier.ECDSA_SHA_256])
    return options_to_json(options)


def register(session: Session, settings: HubSettings, user: User, credential: dict, label: str) -> OwnerPasskey:
    """Verify the browser's registration response (py_webauthn) and keep the passkey; AccessRefused (422)
    with the reason if it does not verify."""
    rp_id, origin = relying_party(settings)
    try:
        client = wo.from_b64url(str(credential.get("response", {}).get("clientDataJSON", "")))
        challenge = wo.from_b64url(str(json.loads(client).get("challenge", "")))
    except (ValueError, AttributeError, TypeError):
        raise AccessRefused("the passkey registration is malformed", 422) from None
    if not _challenge_ok(settings, user, challenge, time.time()):
        raise AccessRefused("the registration challenge is not this hub's, or is older than five minutes", 422)
    try:
        verified = verify_registration_response(
            credential=credential, expected_challenge=challenge, expected_rp_id=rp_id, expected_origin=origin,
            supported_pub_key_algs=[COSEAlgorithmIdentifier.ECDSA_SHA_256])
        public = decoded_public_key_to_cryptography(decode_credential_public_key(verified.credential_public_key))
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise AccessRefused(f"the passkey registration does not verify: {str(exc)[:200]}", 422) from None
    spki = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    credential_id = wo.b64url(verified.credential_id)
    if session.scalar(select(OwnerPasskey).where(OwnerPasskey.credential_id == credential_id)) is not None:
        raise AccessRefused("this passkey is registered already", 409)
    row = OwnerPasskey(user_id=user.id, credential_id=credential_id, public_key=wo.b64url(spki), label=label)
    session.add(row)
    session.flush()
    return row


def as_owner_key(settings: HubSettings, row: OwnerPasskey) -> wo.OwnerKey:
    return wo.OwnerKey(credential_id=row.credential_id, public_key=row.public_key,
                       rp_id=relying_party(settings)[0], label=row.label)


def passkeys_of(session: Session, settings: HubSettings, user: User) -> dict[str, wo.OwnerKey]:
    rows = session.scalars(select(OwnerPasskey).where(OwnerPasskey.user_id == user.id))
    return {row.credential_id: as_owner_key(settings, row) for row in rows}


def signing_options(session: Session, settings: HubSettings, user: User, document: str) -> dict:
    """`navigator.credentials.get` options (JSON-ready) that sign `document` with one of the user's passkeys."""
    rp_id, _ = relying_party(settings)
    return {"challenge": wo.challenge_for(document), "rpId": rp_id, "timeout": 120_000,
            "userVerification": "preferred",
            "allowCredentials": [{"id": c, "type": "public-key"} for c in passkeys_of(session, settings, user)]}


def open_signed(session: Session, settings: HubSettings, user: User, signed: wo.OwnerSigned,
                model: type[BaseModel]):
    """The document inside `signed` if one of `user`'s passkeys signed it; AccessRefused (422) with why not."""
    try:
        return wo.open_owner_signed(signed, passkeys_of(session, settings, user), model)
    except wo.OwnerSignatureError as exc:
        raise AccessRefused(f"not signed with your passkey: {exc}", 422) from None


def approval_document(*, device_id: str, camera: str, request_id: int, mode: str, case_number: str,
                      window: tuple, issued_at) -> str:
    """The canonical approval the owner signs for one request and (maybe trimmed) window."""
    return wo.canonical(c.ApprovalDocument(device_id=device_id, camera=camera, request_id=request_id, mode=mode,
                                           case_number=case_number, window_from=window[0], window_to=window[1],
                                           issued_at=issued_at))


def open_approval(session: Session, settings: HubSettings, user: User, signed: wo.OwnerSigned | None, *,
                  device_id: str, camera: str, request_id: int, mode: str, case_number: str,
                  window: tuple) -> str:
    """The owner's signed approval (as stored: OwnerSigned JSON) if `user` signed exactly this request and
    window with a passkey; AccessRefused otherwise. Only an owner approves: an admin's word is not the owner's."""
    if user.role != Role.OWNER:
        raise AccessRefused("only the camera's owner approves, signed with their passkey: the box accepts no "
                            "other approval", 403)
    if signed is None:
        raise AccessRefused("an approval is signed with your passkey (signed_approval is missing)", 422)
    approval = open_signed(session, settings, user, signed, c.ApprovalDocument)
    if ((approval.device_id, approval.camera, approval.request_id, approval.mode, approval.case_number)
            != (device_id, camera, request_id, mode, case_number)):
        raise AccessRefused("the signed approval is for another request", 422)
    if (approval.window_from, approval.window_to) != tuple(window):
        raise AccessRefused("the signed approval names another window than the one approved", 422)
    return signed.model_dump_json()
