"""The hub's certificate authority for appliance and broker identities.

A small, file-backed CA built on `cryptography`: an EC P-256 root whose key
stays in the hub's data directory (0600), leaf certificates for the broker
(server) and for the hub and each appliance (MQTT clients, the device id as
common name), and a CRL of revoked serials that the broker reloads.

The CA never sees an appliance's private key: appliances send a CSR, the CA
checks its signature and issues a certificate whose subject is the device id
the hub chose — the CSR's own subject is ignored.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from provisioning.keys import key_pem, new_key, subject_name, write_private

CA_LIFETIME = dt.timedelta(days=3650)
LEAF_LIFETIME = dt.timedelta(days=397)
_BACKDATE = dt.timedelta(minutes=5)


class CAError(ValueError):
    pass


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class Issued:
    certificate: x509.Certificate

    @property
    def serial(self) -> int:
        return self.certificate.serial_number

    @property
    def pem(self) -> bytes:
        return cert_pem(self.certificate)


class CertificateAuthority:
    """Root key and certificate under `directory` (ca.key 0600, ca.pem)."""

    def __init__(self, directory: Path, key: ec.EllipticCurvePrivateKey, certificate: x509.Certificate):
        self.directory = directory
        self._key = key
        self.certificate = certificate

    @classmethod
    def load_or_create(cls, directory: Path, name: str = "Canvass hub CA") -> "CertificateAuthority":
        directory.mkdir(parents=True, exist_ok=True)
        key_path, cert_path = directory / "ca.key", directory / "ca.pem"
        if key_path.exists() and cert_path.exists():
            if key_path.stat().st_mode & 0o077:
                raise CAError(f"{key_path} is readable by others; chmod 600 it")
            key = serialization.load_pem_private_key(key_path.read_bytes(), None)
            return cls(directory, key, x509.load_pem_x509_certificate(cert_path.read_bytes()))
        if key_path.exists() or cert_path.exists():
            raise CAError(f"{directory} holds half a CA (ca.key or ca.pem missing); refusing to replace it")
        key = new_key()
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject_name(name)).issuer_name(subject_name(name))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE).not_valid_after(now + CA_LIFETIME)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        write_private(key_path, key_pem(key))
        cert_path.write_bytes(cert_pem(cert))
        return cls(directory, key, cert)

    @property
    def pem(self) -> bytes:
        return cert_pem(self.certificate)

    def _leaf(self, common_name: str, public_key, usage, sans: list[x509.GeneralName] | None = None) -> Issued:
        now = _now()
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject_name(common_name)).issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE).not_valid_after(now + LEAF_LIFETIME)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False)
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return Issued(builder.sign(self._key, hashes.SHA256()))

    def issue_client(self, common_name: str, csr_pem: bytes) -> Issued:
        """A client certificate for `common_name` over the key in `csr_pem` (its signature checked)."""
        try:
            csr = x509.load_pem_x509_csr(csr_pem)
        except ValueError as exc:
            raise CAError(f"not a PEM certificate signing request: {exc}") from None
        if not csr.is_signature_valid:
            raise CAError("the CSR's signature does not match its key")
        public_key = csr.public_key()
        if not isinstance(public_key, ec.EllipticCurvePublicKey) or public_key.curve.name != "secp256r1":
            raise CAError("device keys must be EC P-256")
        return self._leaf(common_name, public_key, ExtendedKeyUsageOID.CLIENT_AUTH)

    def issue_client_with_new_key(self, common_name: str) -> tuple[Issued, bytes]:
        """A client certificate and its new key, for the hub's own MQTT identity."""
        key = new_key()
        return self._leaf(common_name, key.public_key(), ExtendedKeyUsageOID.CLIENT_AUTH), key_pem(key)

    def issue_server(self, hosts: list[str]) -> tuple[Issued, bytes]:
        """A server certificate (and new key) for the broker, valid for `hosts` (names or addresses)."""
        sans: list[x509.GeneralName] = []
        for host in hosts:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                sans.append(x509.DNSName(host))
        key = new_key()
        return self._leaf(hosts[0], key.public_key(), ExtendedKeyUsageOID.SERVER_AUTH, sans), key_pem(key)

    def crl_pem(self, revoked_serials: list[int]) -> bytes:
        """A CRL listing `revoked_serials`, valid for a year (re-issued at every revocation)."""
        now = _now()
        builder = (x509.CertificateRevocationListBuilder().issuer_name(self.certificate.subject)
                   .last_update(now - _BACKDATE).next_update(now + dt.timedelta(days=365)))
        for serial in sorted(set(revoked_serials)):
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now).build())
        return builder.sign(self._key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)
