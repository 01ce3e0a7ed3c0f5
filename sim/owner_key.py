"""A software owner passkey: a P-256 key that answers exactly as a browser's WebAuthn API does (a
`none`-attestation registration, assertions over authenticatorData ‖ SHA-256(clientDataJSON)), so the hub's
py_webauthn and the box's verifier check real WebAuthn-format signatures.

For the demo and the tests only: the demo's simulated owner uses one to share the demo cameras at start (a real
owner's key lives in their authenticator, never in software the hub runs); each key is made fresh in memory.
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
