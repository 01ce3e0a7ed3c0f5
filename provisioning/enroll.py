"""The appliance's side of enrolment: key on the box, CSR to the hub, identity saved.

`enroll` trades a one-time claim code for a certificate; `rotate` proves
possession of the current key and gets a certificate for a new one. The
private key is generated here and never sent anywhere.
"""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import ValidationError

from provisioning.keys import key_pem, make_csr, new_key
from provisioning.identity import Identity, IdentityError
from wire.enrolment import EnrollIn, EnrollOut, RotateIn, rotation_message


class EnrolmentFailed(RuntimeError):
    pass


def _post(hub_url: str, path: str, body: EnrollIn | RotateIn, timeout_s: float) -> EnrollOut:
    url = hub_url.rstrip("/") + path
    try:
        response = httpx.post(url, json=body.model_dump(mode="json"), timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise EnrolmentFailed(f"cannot reach the hub at {hub_url}: {exc}") from None
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        raise EnrolmentFailed(f"the hub refused ({response.status_code}): {detail}")
    try:
        return EnrollOut.model_validate_json(response.content)
    except ValidationError as exc:
        raise EnrolmentFailed(f"the hub's answer is not an enrolment: {exc.errors()[0]['msg']}") from None


def _body(model: type[EnrollIn] | type[RotateIn], **fields) -> EnrollIn | RotateIn:
    try:
        return model(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise EnrolmentFailed(f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from None


def _save(directory: Path, hub_url: str, key, reply: EnrollOut) -> Identity:
    identity = Identity(directory=directory, device_id=reply.device_id, hub_url=hub_url,
                        broker_host=reply.broker.host, broker_port=reply.broker.port,
                        grant_public_key_pem=reply.grant_public_key_pem,
                        audit_public_key_pem=reply.audit_public_key_pem, audit_origin=reply.audit_origin)
    identity.save(key_pem(key), reply.certificate_pem.encode(), reply.ca_chain_pem.encode())
    return identity


def enroll(hub_url: str, code: str, directory: Path, *, name: str = "", replace: bool = False,
           timeout_s: float = 30) -> Identity:
    if Identity.exists(directory) and not replace:
        raise EnrolmentFailed(f"{directory} already holds an identity; use `rotate` (or --replace to start over)")
    key = new_key()
    body = _body(EnrollIn, code=code, csr_pem=make_csr(key).decode(), name=name)
    reply = _post(hub_url, "/api/enroll", body, timeout_s)
    return _save(directory, hub_url, key, reply)


def rotate(directory: Path, *, hub_url: str | None = None, timeout_s: float = 30) -> Identity:
    try:
        current = Identity.load(directory)
    except IdentityError as exc:
        raise EnrolmentFailed(str(exc)) from None
    old_key = serialization.load_pem_private_key(current.key.read_bytes(), None)
    key = new_key()
    csr = make_csr(key).decode()
    proof = old_key.sign(rotation_message(csr), ec.ECDSA(hashes.SHA256()))
    url = hub_url or current.hub_url
    body = _body(RotateIn, device_id=current.device_id, csr_pem=csr, proof_b64=base64.b64encode(proof).decode())
    reply = _post(url, "/api/enroll/rotate", body, timeout_s)
    return _save(directory, url, key, reply)
