"""A software owner authenticator for tests: a P-256 passkey that answers exactly as a browser's WebAuthn API
does (a `none`-attestation registration, assertions over authenticatorData ‖ SHA-256(clientDataJSON)), so the
hub's py_webauthn and the box's verifier check real WebAuthn-format signatures. TEST FIXTURE: each key is
made fresh in memory and never leaves the test.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import struct

import cbor2
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from wire import owner as wo

ORIGIN = "http://127.0.0.1:8000"  # the hub's public_url in tests unless a test sets its own
RP_ID = "127.0.0.1"


class SoftwareAuthenticator:
    """One owner passkey. `user_present=False` plays an authenticator that signs without a touch."""

    def __init__(self, *, rp_id: str = RP_ID, origin: str = ORIGIN, user_present: bool = True):
        self.rp_id, self.origin, self.user_present = rp_id, origin, user_present
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = wo.b64url(os.urandom(32))
        self.counter = 0

    # -- what the box and the hub hold ------------------------------------------------------

    @property
    def spki(self) -> str:
        return wo.b64url(self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))

    def owner_key(self, label: str = "test passkey") -> wo.OwnerKey:
        return wo.OwnerKey(credential_id=self.credential_id, public_key=self.spki, rp_id=self.rp_id, label=label)

    def offer(self, device_id: str, code: str, label: str = "test passkey") -> wo.KeyOffer:
        """What the console sends for "add this box": the enrolment and its MAC keyed by the box's code."""
        enrolment = wo.canonical(wo.KeyEnrolment(device_id=device_id, key=self.owner_key(label),
                                                 issued_at=dt.datetime.now(dt.timezone.utc)))
        return wo.KeyOffer(enrolment=enrolment, mac=wo.offer_mac(enrolment, code))

    # -- WebAuthn ceremonies -----------------------------------------------------------------

    def _authenticator_data(self, flags: int, attested: bytes = b"") -> bytes:
        self.counter += 1
        return hashlib.sha256(self.rp_id.encode()).digest() + bytes([flags]) + struct.pack(">I", self.counter) \
            + attested

    def registration(self, options: dict) -> dict:
        """The browser's answer to `navigator.credentials.create(options)` as JSON (RegistrationResponseJSON)."""
        numbers = self.private_key.public_key().public_numbers()
        cose = cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})
        raw_id = wo.from_b64url(self.credential_id)
        attested = bytes(16) + struct.pack(">H", len(raw_id)) + raw_id + cose
        data = self._authenticator_data(0x45 if self.user_present else 0x44, attested)
        client = json.dumps({"type": "webauthn.create", "challenge": options["challenge"], "origin": self.origin,
                             "crossOrigin": False}).encode()
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": data})
        return {"id": self.credential_id, "rawId": self.credential_id, "type": "public-key",
                "clientExtensionResults": {}, "authenticatorAttachment": "platform",
                "response": {"clientDataJSON": wo.b64url(client), "attestationObject": wo.b64url(attestation),
                             "transports": ["internal"]}}

    def sign(self, document: str, *, origin: str | None = None) -> wo.OwnerSigned:
        """`navigator.credentials.get` with the document's hash as the challenge, packed as the console does."""
        client = json.dumps({"type": "webauthn.get", "challenge": wo.challenge_for(document),
                             "origin": origin or self.origin, "crossOrigin": False}).encode()
        data = self._authenticator_data(0x05 if self.user_present else 0x04)
        signature = self.private_key.sign(data + hashlib.sha256(client).digest(), ec.ECDSA(hashes.SHA256()))
        return wo.OwnerSigned(document=document, assertion=wo.Assertion(
            credential_id=self.credential_id, authenticator_data=wo.b64url(data),
            client_data_json=wo.b64url(client), signature=wo.b64url(signature)))


class OwnerAtHub:
    """An owner with a passkey, working through the hub's API as the owner console does."""

    def __init__(self, client, authenticator: SoftwareAuthenticator | None = None):
        self.client, self.authenticator = client, authenticator or SoftwareAuthenticator()

    def register(self, label: str = "test passkey") -> dict:
        options = self.client.post("/api/owner/passkeys/options").json()
        rp_id = options["rp"]["id"]
        if rp_id != self.authenticator.rp_id:  # a hub with a public URL of its own (https, as in production)
            self.authenticator.rp_id, self.authenticator.origin = rp_id, f"https://{rp_id}"
        r = self.client.post("/api/owner/passkeys", json={"credential": self.authenticator.registration(options),
                                                           "label": label})
        assert r.status_code == 201, r.text
        return r.json()

    def pair(self, guard, label: str = "test passkey") -> None:
        """Register the passkey at the hub if needed, then pair it with the box whose consent guard is `guard`:
        the code the box shows (as `canvass-edge owners pair` does), offered through the hub."""
        if not any(p["credential_id"] == self.authenticator.credential_id
                   for p in self.client.get("/api/owner/passkeys").json()):
            self.register(label)
        r = self.pair_box(guard.device_id, guard.open_pairing(), label)
        assert r.status_code == 200 and r.json()["accepted"], r.text

    def pair_box(self, device_id: str, code: str, label: str = "test passkey"):
        """Offer this passkey to the box (through the hub) with the code the box showed; the hub's response."""
        offer = self.authenticator.offer(device_id, code, label)
        return self.client.post(f"/api/appliances/{device_id}/owner-keys", json=offer.model_dump())

    def put_consent(self, camera_id: int, policy: dict):
        """Sign `policy` as the camera's next version and save it (the hub pushes it to the box)."""
        r = self.client.post(f"/api/cameras/{camera_id}/consent/document", json=policy)
        if r.status_code != 200:
            return r
        signed = self.authenticator.sign(r.json()["document"])
        return self.client.put(f"/api/cameras/{camera_id}/consent", json=signed.model_dump())

    def decide(self, request_id: int, *, approve: bool, note: str = "", window: tuple[str, str] | None = None,
               path: str = "footage-requests"):
        """Approve (signing the approval, maybe for a trimmed window) or deny a request."""
        body: dict = {"approve": approve, "note": note}
        if approve:
            ask = {"window_from": window[0], "window_to": window[1]} if window else {}
            r = self.client.post(f"/api/{path}/{request_id}/approval-document", json=ask)
            if r.status_code != 200:
                return r
            body["signed_approval"] = self.authenticator.sign(r.json()["document"]).model_dump()
            body.update(ask)
        return self.client.post(f"/api/{path}/{request_id}/decision", json=body)


# -- at the box, without a hub: the pairing step and signed documents -------------------------------


def pair_at_box(guard, authenticator: SoftwareAuthenticator, label: str = "test passkey") -> wo.OwnerKey:
    """What an owner at the box does: `canvass-edge owners pair` shows a code, the console MACs the key with it."""
    code = guard.open_pairing()
    return guard.enrol_owner_key(authenticator.offer(guard.device_id, code, label))


def signed_policy(authenticator: SoftwareAuthenticator, *, device_id: str, camera: str, version: int,
                  policy, issued_at: dt.datetime | None = None) -> wo.OwnerSigned:
    from wire import consent as c

    document = c.PolicyDocument(device_id=device_id, camera=camera, version=version, policy=policy,
                                issued_at=issued_at or dt.datetime.now(dt.timezone.utc))
    return authenticator.sign(c.canonical(document))


def signed_approval(authenticator: SoftwareAuthenticator, *, device_id: str, camera: str, request_id: int,
                    mode: str, case_number: str, window: tuple[dt.datetime, dt.datetime]) -> str:
    """An owner-signed approval as the hub stores it (OwnerSigned JSON), for `issue_grant(owner_approval=…)`."""
    from wire import consent as c

    document = c.ApprovalDocument(device_id=device_id, camera=camera, request_id=request_id, mode=mode,
                                  case_number=case_number, window_from=window[0], window_to=window[1],
                                  issued_at=dt.datetime.now(dt.timezone.utc))
    return authenticator.sign(c.canonical(document)).model_dump_json()


# -- one passkey per owner session, for tests that only need the owner to sign ------------------------

_PASSKEYS: dict[str, OwnerAtHub] = {}


def passkey_of(client) -> OwnerAtHub:
    """The test passkey of the owner signed in on `client` (registered at the hub on first use)."""
    token = client.headers.get("authorization", "")
    owner = _PASSKEYS.get(token)
    if owner is None:
        owner = _PASSKEYS[token] = OwnerAtHub(client)
        owner.register()
    owner.client = client
    return owner


def put_consent(client, camera_id: int, policy: dict):
    """`PUT /api/cameras/{id}/consent` as the owner console does it: the next version, signed with the passkey."""
    return passkey_of(client).put_consent(camera_id, policy)


def pair_box(client, device_id: str, consent) -> None:
    """Pair the owner's passkey with a running box, `consent` its consent guard or the path of its consent
    database: open a code there (what `canvass-edge owners pair` does at the box) and offer the key through
    the hub."""
    from edge.consent.guard import ConsentGuard

    if isinstance(consent, ConsentGuard):
        code = consent.open_pairing()
    else:
        guard = ConsentGuard(consent, device_id=device_id)
        try:
            code = guard.open_pairing()
        finally:
            guard.close()
    r = passkey_of(client).pair_box(device_id, code)
    assert r.status_code == 200 and r.json()["accepted"], r.text


def decide(client, request_id: int, *, approve: bool, note: str = "", window: tuple[str, str] | None = None,
           path: str = "footage-requests"):
    """An owner's decision as the console sends it (an approval signed with the passkey)."""
    return passkey_of(client).decide(request_id, approve=approve, note=note, window=window, path=path)
