"""The owner's word: documents signed with the owner's passkey, and how an appliance learns an owner's key.

An owner signs a document (a consent policy, a footage approval) in the browser with a WebAuthn passkey: the
page asks the authenticator for an assertion whose challenge is the SHA-256 of the document's canonical bytes.
What travels is `OwnerSigned`: the document and the assertion (authenticatorData, clientDataJSON, signature).
`verify_assertion` is what the appliance runs, with only `cryptography`: the key must be one the appliance holds,
the client data must be a `webauthn.get` for exactly this document from an origin of the key's relying party,
the authenticator data must carry that relying party's hash and the user-presence flag, and the ES256 signature
must verify over authenticatorData ‖ SHA-256(clientDataJSON). The hub forwards these documents; without the
owner's private key it cannot make one.

An appliance learns an owner's key through `KeyEnrolment`: the key's public half (SubjectPublicKeyInfo, P-256),
its credential id and relying party, with a MAC keyed by a one-time pairing code that only the appliance shows
(`canvass-edge owners pair`, physical access to the box) and the owner types into the console. The hub carries
the enrolment but never learns the code, so it cannot enrol a key of its own. See docs/owner-keys.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Annotated, Literal
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from wire.topics import DEVICE_ID_PATTERN

B64URL = r"^[A-Za-z0-9_-]*$"
FLAG_USER_PRESENT = 0x01
PAIRING_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read off a screen, typed by a person
PAIRING_CODE_LENGTH = 12  # 60 bits from a 32-letter alphabet


class OwnerSignatureError(ValueError):
    """Raised when an owner-signed document, or a key enrolment, does not verify; the message says why."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def from_b64url(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        raise OwnerSignatureError("not base64url") from None


def challenge_for(document: str) -> str:
    """The WebAuthn challenge that signs `document`: base64url of SHA-256 of its UTF-8 bytes."""
    return b64url(hashlib.sha256(document.encode()).digest())


class Assertion(_Strict):
    """A WebAuthn assertion as the browser returns it (base64url fields)."""

    credential_id: Annotated[str, Field(min_length=1, max_length=1400, pattern=B64URL)]
    authenticator_data: Annotated[str, Field(min_length=50, max_length=4000, pattern=B64URL)]
    client_data_json: Annotated[str, Field(min_length=20, max_length=8000, pattern=B64URL)]
    signature: Annotated[str, Field(min_length=8, max_length=400, pattern=B64URL)]


class OwnerSigned(_Strict):
    """A document (canonical JSON) and the owner's passkey assertion over it."""

    document: Annotated[str, Field(min_length=2, max_length=64_000)]
    assertion: Assertion


class OwnerKey(_Strict):
    """An owner's public key as the appliance holds it."""

    credential_id: Annotated[str, Field(min_length=1, max_length=1400, pattern=B64URL)]
    public_key: Annotated[str, Field(min_length=40, max_length=400, pattern=B64URL,
                                     description="SubjectPublicKeyInfo (DER) of a P-256 key, base64url")]
    rp_id: Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.-]+$")]
    label: Annotated[str, Field(max_length=100)] = ""

    def fingerprint(self) -> str:
        """What a person compares: the first 16 hex digits of SHA-256 of the public key, in groups of four."""
        digest = hashlib.sha256(from_b64url(self.public_key)).hexdigest()[:16].upper()
        return " ".join(digest[i:i + 4] for i in range(0, 16, 4))

    def ec_key(self) -> ec.EllipticCurvePublicKey:
        try:
            key = serialization.load_der_public_key(from_b64url(self.public_key))
        except ValueError:
            raise OwnerSignatureError("the owner key is not a public key") from None
        if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
            raise OwnerSignatureError("the owner key is not a P-256 (ES256) key")
        return key


class KeyEnrolment(_Strict):
    """An owner's key for one appliance: what the MAC keyed by the box's pairing code covers."""

    kind: Literal["owner_key"] = "owner_key"
    device_id: Annotated[str, Field(pattern=f"^{DEVICE_ID_PATTERN}$")]
    key: OwnerKey
    issued_at: AwareDatetime


class KeyOffer(_Strict):
    """An enrolment (its canonical text) and its MAC: hex HMAC-SHA256 keyed by the pairing code's UTF-8 bytes."""

    enrolment: Annotated[str, Field(min_length=2, max_length=4000)]
    mac: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


def canonical(model: BaseModel) -> str:
    return json.dumps(model.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def normalise_code(code: str) -> str:
    """A pairing code as typed (any case, spaces or dashes between groups) in its one canonical form."""
    return "".join(ch for ch in code.upper() if ch not in " -")


def offer_mac(enrolment_text: str, code: str) -> str:
    return hmac.new(normalise_code(code).encode(), enrolment_text.encode(), hashlib.sha256).hexdigest()


def open_offer(offer: KeyOffer, code: str) -> KeyEnrolment | None:
    """The enrolment if `code` keyed its MAC, else None (compared in constant time)."""
    if not hmac.compare_digest(offer_mac(offer.enrolment, code), offer.mac):
        return None
    try:
        enrolment = KeyEnrolment.model_validate_json(offer.enrolment)
    except ValidationError as exc:
        raise OwnerSignatureError(f"the enrolment is malformed: {exc.errors()[0]['msg']}") from None
    enrolment.key.ec_key()  # refuses anything but a P-256 public key
    return enrolment


def _origin_problem(origin: object, rp_id: str) -> str | None:
    host = urlsplit(origin).hostname if isinstance(origin, str) else None
    if host is None or not (host == rp_id or host.endswith("." + rp_id)):
        return f"signed on a page of another site ({str(origin)[:100]!r})"
    if urlsplit(origin).scheme != "https" and host not in ("localhost", "127.0.0.1", "::1"):
        return "signed on a page not served over https"
    return None


def verify_assertion(signed: OwnerSigned, keys: dict[str, OwnerKey]) -> OwnerKey:
    """The key (of `keys`, by credential id) whose owner signed `signed.document`; OwnerSignatureError if none."""
    assertion = signed.assertion
    key = keys.get(assertion.credential_id)
    if key is None:
        raise OwnerSignatureError("signed by a key that is not one of the owner keys held here")
    data, client_json = from_b64url(assertion.authenticator_data), from_b64url(assertion.client_data_json)
    try:
        client = json.loads(client_json)
    except ValueError:
        client = None
    if not isinstance(client, dict) or client.get("type") != "webauthn.get":
        raise OwnerSignatureError("the client data is not a WebAuthn assertion")
    if client.get("challenge") != challenge_for(signed.document):
        raise OwnerSignatureError("the owner's signature is over another document")
    if problem := _origin_problem(client.get("origin"), key.rp_id):
        raise OwnerSignatureError(problem)
    if len(data) < 37 or data[:32] != hashlib.sha256(key.rp_id.encode()).digest():
        raise OwnerSignatureError("the authenticator data names another relying party")
    if not data[32] & FLAG_USER_PRESENT:
        raise OwnerSignatureError("the owner was not present when it was signed (user-presence flag unset)")
    try:
        key.ec_key().verify(from_b64url(assertion.signature), data + hashlib.sha256(client_json).digest(),
                            ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise OwnerSignatureError("the owner's signature does not verify") from None
    return key


def open_owner_signed(signed: OwnerSigned, keys: dict[str, OwnerKey], model: type[BaseModel]):
    """The document inside `signed`, parsed as `model`, if an owner key of `keys` signed it (nothing read before)."""
    verify_assertion(signed, keys)
    try:
        return model.model_validate_json(signed.document)
    except ValidationError as exc:
        raise OwnerSignatureError(
            f"signed document is not a valid {model.__name__}: {exc.errors()[0]['msg']}") from None
