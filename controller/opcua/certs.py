"""Server certificate (made once, then kept) and the trust list for client certificates.

Why keep the certificate: the utility's SCADA trusts this server by its certificate.
A new certificate on every start, or every year, would silently break that trust,
so it is generated on the first start, valid for ten years, and reused until it is
deleted or no longer names this application. Rotating it is a deliberate act
(delete the two files, restart, hand the new certificate to the utility).

Client certificates (Sign and SignAndEncrypt channels): while the trusted folder
holds no certificate, every client certificate is accepted so commissioning can
start; once it holds one, only those certificates (or ones their CA signed) are
accepted, everything else gets BadCertificateUntrusted and a copy lands in the
rejected folder, from where the integrator moves it to trusted after checking it.
The folder is re-read when it changes, without a restart. Which user a session
acts as is still decided by its user name and password.
"""

from __future__ import annotations

import hashlib
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from asyncua import ua
from asyncua.common.utils import ServiceError
from asyncua.crypto import cert_gen
from asyncua.crypto.truststore import TrustStore
from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from controller.opcua.audit import audit
from controller.opcua.uatyped import status_code

CERT_DAYS = 3650
MAX_REJECTED_FILES = 100  # a hostile client must not fill the disk
_CERT_SUFFIXES = {".der", ".pem", ".crt", ".cer"}


@dataclass(frozen=True, slots=True)
class ServerCertificate:
    cert_path: Path
    key_path: Path
    created: bool
    thumbprint: str  # SHA-1 of the DER, as OPC UA tools show it


def pki_dirs(data_dir: Path) -> tuple[Path, Path]:
    """(own, rejected) under the data directory."""
    return data_dir / "pki" / "own", data_dir / "pki" / "rejected"


def _names_uri(cert: x509.Certificate, uri: str) -> bool:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return False
    return uri in san.value.get_values_for_type(x509.UniformResourceIdentifier)


def ensure_server_certificate(
    data_dir: Path, application_uri: str, common_name: str, hostnames: list[str] | None = None
) -> ServerCertificate:
    """Load the server certificate and key, creating them only when needed."""
    own, _ = pki_dirs(data_dir)
    own.mkdir(parents=True, exist_ok=True)
    key_path, cert_path = own / "server_key.pem", own / "server_cert.der"
    created = False
    if key_path.is_file():
        loaded = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(loaded, rsa.RSAPrivateKey):
            raise ValueError(
                f"{key_path}: not an RSA private key (OPC UA's Basic256Sha256 needs RSA); "
                "remove it and a new key and certificate are made at the next start"
            )
        key = loaded
    else:
        key = cert_gen.generate_private_key()
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(cert_gen.dump_private_key_as_pem(key))
        cert_path.unlink(missing_ok=True)  # a new key needs a new certificate
    cert: x509.Certificate | None = None
    if cert_path.is_file():
        cert = x509.load_der_x509_certificate(cert_path.read_bytes())
        now = datetime.now(UTC)
        usable = (
            _names_uri(cert, application_uri)
            and cert.not_valid_after_utc > now
            and isinstance(pub := cert.public_key(), rsa.RSAPublicKey)
            and pub.public_numbers() == key.public_key().public_numbers()
        )
        if not usable:
            audit().warning(
                "opcua.server_certificate_replaced",
                reason="expired, other key, or does not name the application URI",
                application_uri=application_uri,
            )
            cert = None
    if cert is None:
        names = hostnames or [socket.gethostname()]
        sans: list[x509.GeneralName] = [x509.UniformResourceIdentifier(application_uri)]
        sans += [x509.DNSName(h) for h in dict.fromkeys(names)]
        cert = cert_gen.generate_self_signed_app_certificate(
            key,
            common_name,
            {"organizationName": "heat-recovery"},
            sans,
            extended=[ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
            days=CERT_DAYS,
        )
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.DER))
        created = True
    der = cert_path.read_bytes()
    return ServerCertificate(cert_path, key_path, created, hashlib.sha1(der).hexdigest())


def _cert_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in _CERT_SUFFIXES)


class ClientTrust:
    """The certificate validator asyncua calls at CreateSession."""

    def __init__(self, trusted_dir: Path, rejected_dir: Path) -> None:
        self._trusted_dir = trusted_dir
        self._rejected_dir = rejected_dir
        self._signature: tuple[tuple[str, float], ...] | None = None
        self._store: TrustStore | None = None
        self._validator: CertificateValidator | None = None

    @property
    def strict(self) -> bool:
        return self._validator is not None

    async def refresh(self) -> None:
        """Re-read the trusted folder if a file was added, removed or changed."""
        files = _cert_files(self._trusted_dir)
        signature = tuple((p.name, p.stat().st_mtime) for p in files)
        if signature == self._signature:
            return
        self._signature = signature
        if not files:
            self._store = self._validator = None
            return
        store = TrustStore([self._trusted_dir], [])
        await store.load()
        self._store = store
        self._validator = CertificateValidator(
            CertificateValidatorOptions.TRUSTED_VALIDATION
            | CertificateValidatorOptions.PEER_CLIENT,
            store,
        )

    async def __call__(self, cert: x509.Certificate, app: ua.ApplicationDescription) -> None:
        await self.refresh()
        if self._validator is None:
            return
        try:
            await self._validator.validate(cert, app)
        except ServiceError as exc:
            self._reject(cert, app, exc)
            raise

    def _reject(
        self, cert: x509.Certificate, app: ua.ApplicationDescription, exc: ServiceError
    ) -> None:
        der = cert.public_bytes(serialization.Encoding.DER)
        thumb = hashlib.sha1(der).hexdigest()
        audit().warning(
            "opcua.client_certificate_refused",
            application_uri=app.ApplicationUri,
            subject=cert.subject.rfc4514_string(),
            thumbprint=thumb,
            status=status_code(exc.code).name,
        )
        self._rejected_dir.mkdir(parents=True, exist_ok=True)
        target = self._rejected_dir / f"{thumb}.der"
        if not target.exists() and len(_cert_files(self._rejected_dir)) < MAX_REJECTED_FILES:
            target.write_bytes(der)
