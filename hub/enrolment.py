"""Claim codes, appliance enrolment, key rotation and revocation (the hub's side).

A business owner makes a one-time claim code that expires; the appliance
sends it with a CSR for a key it generated itself; the hub picks the device
id, has its CA sign the key under that id, and hands back everything the box
needs to join the MQTT link. Re-enrolment proves possession of the current
key and rotates it (the old certificate is revoked). Revocation puts the
certificate in the CRL and removes the device from the broker's ACL.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub import audit
from hub.tables import Appliance, ApplianceState, Business, ClaimCode, RevokedCertificate, Site, User, utcnow
from hub.security import keyed_hash
from hub.ca import CAError, CertificateAuthority
from wire.enrolment import rotation_message


class EnrolmentError(ValueError):
    """Refused: the message says why, in words fit for the installer."""


class BadCsr(EnrolmentError):
    """The request's CSR is unusable (the claim code stays unused)."""


def new_device_id() -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "dev-" + "".join(secrets.choice(alphabet) for _ in range(12))


def format_code(raw: bytes) -> str:
    text = base64.b32encode(raw).decode().rstrip("=")
    return "-".join(text[i:i + 5] for i in range(0, 20, 5))


def normalise_code(code: str) -> str:
    return code.strip().upper().replace(" ", "").replace("-", "")


def create_claim_code(session: Session, *, secret: str, business: Business, site: Site | None, user: User,
                      ttl_s: int, source: str) -> tuple[str, ClaimCode]:
    code = format_code(secrets.token_bytes(13))  # 100 bits
    row = ClaimCode(code_hash=keyed_hash(secret, normalise_code(code)), business_id=business.id,
                    site_id=site.id if site else None, created_by=user.id,
                    expires_at=utcnow() + dt.timedelta(seconds=ttl_s))
    session.add(row)
    session.flush()
    audit.append(session, actor=user.username, action="claim_code.create", outcome=audit.Outcome.SUCCESS,
                 object=f"business:{business.id}", source=source, claim_code_id=row.id,
                 expires_at=row.expires_at.isoformat())
    return code, row


@dataclass(frozen=True)
class Enrolled:
    appliance: Appliance
    certificate_pem: str


def _claim(session: Session, secret: str, code: str) -> ClaimCode:
    row = session.scalar(select(ClaimCode).where(ClaimCode.code_hash == keyed_hash(secret, normalise_code(code))))
    problem = None
    if row is None:
        problem = "unknown claim code"
    elif row.used_at is not None:
        problem = "claim code already used"
    elif row.expires_at <= utcnow():
        problem = "claim code expired"
    else:
        # Single use even under concurrent enrolments: only one UPDATE finds it unused.
        claimed = session.execute(update(ClaimCode).where(ClaimCode.id == row.id, ClaimCode.used_at.is_(None))
                                  .values(used_at=utcnow()))
        if claimed.rowcount != 1:
            problem = "claim code already used"
    if problem:
        raise EnrolmentError(problem)
    return row


def enroll(session: Session, *, ca: CertificateAuthority, secret: str, code: str, csr_pem: str, name: str,
           source: str) -> Enrolled:
    claim = _claim(session, secret, code)
    device_id = new_device_id()
    try:
        issued = ca.issue_client(device_id, csr_pem.encode())
    except CAError as exc:
        raise BadCsr(str(exc)) from None  # the caller's rollback leaves the code unused
    claim.used_by_device = device_id
    appliance = Appliance(device_id=device_id, business_id=claim.business_id, site_id=claim.site_id, name=name,
                          cert_serial=str(issued.serial), certificate_pem=issued.pem.decode())
    session.add(appliance)
    session.flush()
    audit.append(session, actor=f"appliance:{device_id}", action="appliance.enroll", outcome=audit.Outcome.SUCCESS,
                 object=f"business:{claim.business_id}", source=source, claim_code_id=claim.id,
                 cert_serial=str(issued.serial))
    return Enrolled(appliance, issued.pem.decode())


def rotate(session: Session, *, ca: CertificateAuthority, device_id: str, csr_pem: str, proof: bytes,
           source: str) -> Enrolled:
    appliance = session.scalar(select(Appliance).where(Appliance.device_id == device_id))
    if appliance is None or appliance.state != ApplianceState.ACTIVE:
        raise EnrolmentError("unknown or revoked appliance")
    current = x509.load_pem_x509_certificate(appliance.certificate_pem.encode()).public_key()
    try:
        current.verify(proof, rotation_message(csr_pem), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise EnrolmentError("proof of possession of the current key does not verify") from None
    try:
        issued = ca.issue_client(device_id, csr_pem.encode())
    except CAError as exc:
        raise BadCsr(str(exc)) from None
    session.add(RevokedCertificate(serial=appliance.cert_serial, device_id=device_id))
    old_serial = appliance.cert_serial
    appliance.cert_serial = str(issued.serial)
    appliance.certificate_pem = issued.pem.decode()
    audit.append(session, actor=f"appliance:{device_id}", action="appliance.rotate_key",
                 outcome=audit.Outcome.SUCCESS, object=f"appliance:{device_id}", source=source,
                 old_serial=old_serial, new_serial=str(issued.serial))
    return Enrolled(appliance, issued.pem.decode())


def revoke(session: Session, *, appliance: Appliance, actor: str, source: str, reason: str) -> None:
    if appliance.state == ApplianceState.REVOKED:
        return
    appliance.state = ApplianceState.REVOKED
    appliance.online = False
    session.add(RevokedCertificate(serial=appliance.cert_serial, device_id=appliance.device_id))
    audit.append(session, actor=actor, action="appliance.revoke", outcome=audit.Outcome.SUCCESS,
                 object=f"appliance:{appliance.device_id}", source=source, reason=reason,
                 cert_serial=appliance.cert_serial)


def broker_access(session: Session) -> tuple[list[str], list[int]]:
    """(active device ids, revoked certificate serials): what the broker's ACL and CRL say."""
    active = list(session.scalars(select(Appliance.device_id).where(Appliance.state == ApplianceState.ACTIVE)))
    revoked = [int(s) for s in session.scalars(select(RevokedCertificate.serial))]
    return active, revoked
