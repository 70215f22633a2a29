"""Our application instance certificate and the server certificates we trust.

Layout below the config directory (one client identity per Gatehouse install, as OPC
UA intends: the certificate identifies the application, not a connection)::

    opcua/client_cert.der   generated on first use (RSA 2048, self-signed)
    opcua/client_key.pem    its private key, mode 0600
    opcua/trusted/          server certificates we accept (DER or PEM, any file name)
    opcua/rejected/         certificates we refused, ready to be copied to trusted/

Trust is by exact certificate (the usual OPC UA practice for self-signed server
certificates), never by "any certificate": an untrusted server fails with an error that
names the file to copy. Trust on first use is opt-in and pins the first certificate
seen for the endpoint; a later, different certificate is refused.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

import anyio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gatehouse.core.helpers import slugify, write_private_file

from .const import CLIENT_CERT_FILE, CLIENT_KEY_FILE, PKI_DIR, REJECTED_DIR, TRUSTED_DIR
from .errors import OpcuaCertificateChangedError, OpcuaSecurityError, OpcuaUntrustedCertificateError

_LOGGER = logging.getLogger(__name__)

CERT_VALIDITY = datetime.timedelta(days=5 * 365)
_GENERATE_LOCK = threading.Lock()
"""Entries set up concurrently must not generate two different key pairs."""


@dataclass(frozen=True, slots=True)
class PkiPaths:
    """Where the OPC UA files of one config directory live."""

    root: Path

    @classmethod
    def of(cls, config_dir: Path) -> PkiPaths:
        return cls(Path(config_dir) / PKI_DIR)

    @property
    def client_cert(self) -> Path:
        return self.root / CLIENT_CERT_FILE

    @property
    def client_key(self) -> Path:
        return self.root / CLIENT_KEY_FILE

    @property
    def trusted(self) -> Path:
        return self.root / TRUSTED_DIR

    @property
    def rejected(self) -> Path:
        return self.root / REJECTED_DIR


@dataclass(frozen=True, slots=True)
class ClientIdentity:
    """Our certificate and key (DER and PEM bytes) and the application URI inside it.

    The URI must equal the one the client announces, so it is read from the
    certificate rather than recomputed (the host name may have changed since).
    """

    cert_der: bytes
    key_pem: bytes
    application_uri: str


async def load_client_identity(paths: PkiPaths) -> ClientIdentity:
    """Load our certificate, generating it (and the key) on first use."""
    try:
        return await anyio.to_thread.run_sync(_load_or_create, paths)
    except (OSError, ValueError) as err:
        raise OpcuaSecurityError(
            f"cannot load or create the client certificate in {paths.root}: {err}"
        ) from err


def _load_or_create(paths: PkiPaths) -> ClientIdentity:
    with _GENERATE_LOCK:
        paths.root.mkdir(parents=True, exist_ok=True)
        if paths.client_key.exists():
            key_pem = paths.client_key.read_bytes()
            key = serialization.load_pem_private_key(key_pem, password=None)
            if not isinstance(key, rsa.RSAPrivateKey):
                raise ValueError(f"{paths.client_key} is not an RSA key")
        else:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            key_pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            write_private_file(paths.client_key, key_pem)
            paths.client_cert.unlink(missing_ok=True)  # a new key needs a new certificate
        if paths.client_cert.exists():
            cert = x509.load_der_x509_certificate(paths.client_cert.read_bytes())
        else:
            cert = _self_signed(key)
            paths.client_cert.write_bytes(cert.public_bytes(serialization.Encoding.DER))
            _LOGGER.info("Created the OPC UA client certificate %s", paths.client_cert)
        return ClientIdentity(
            cert.public_bytes(serialization.Encoding.DER), key_pem, _application_uri(cert)
        )


def _self_signed(key: rsa.RSAPrivateKey) -> x509.Certificate:
    """An application instance certificate as OPC UA Part 6 §6.2.2 describes it."""
    host = socket.gethostname()
    uri = f"urn:{host}:gatehouse:opcua-client"
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "Gatehouse OPC UA client"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Gatehouse"),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + CERT_VALIDITY)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.UniformResourceIdentifier(uri), x509.DNSName(host)]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=True,
                data_encipherment=True,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )


def _application_uri(cert: x509.Certificate) -> str:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = None
    uris = san.get_values_for_type(x509.UniformResourceIdentifier) if san else []
    if not uris:
        raise ValueError("the client certificate has no application URI (SubjectAltName URI)")
    return str(uris[0])


# -- server certificate trust ---------------------------------------------------------


def describe(der: bytes) -> str:
    """``CN=..., SHA-256 ab12...`` for messages and file names."""
    try:
        cert = x509.load_der_x509_certificate(der)
        subject = cert.subject.rfc4514_string()
    except ValueError:
        subject = "unparsable certificate"
    return f"{subject}, SHA-256 {thumbprint(der)[:16]}"


def thumbprint(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


async def check_server_certificate(
    paths: PkiPaths, endpoint: str, der: bytes, *, trust_on_first_use: bool
) -> None:
    """Return if ``der`` is trusted for ``endpoint``; raise why not otherwise."""
    await anyio.to_thread.run_sync(_check, paths, endpoint, der, trust_on_first_use)


def _check(paths: PkiPaths, endpoint: str, der: bytes, tofu: bool) -> None:
    paths.trusted.mkdir(parents=True, exist_ok=True)
    if der in _trusted(paths.trusted):
        return
    pin = paths.trusted / f"tofu_{slugify(endpoint)}.der"
    if tofu:
        if pin.exists():
            raise OpcuaCertificateChangedError(
                f"the server certificate of {endpoint} changed ({describe(der)}); trust on "
                f"first use pinned {pin}. If the change is expected, delete that file"
            )
        pin.write_bytes(der)
        _LOGGER.warning(
            "Trusting the server certificate of %s on first use (%s), pinned in %s",
            endpoint, describe(der), pin,
        )
        return
    paths.rejected.mkdir(parents=True, exist_ok=True)
    cert_name = _common_name(der) or "server"
    rejected = paths.rejected / f"{slugify(cert_name)}_{thumbprint(der)[:12]}.der"
    rejected.write_bytes(der)
    raise OpcuaUntrustedCertificateError(endpoint, describe(der), rejected, paths.trusted)


def _trusted(folder: Path) -> set[bytes]:
    """DER bytes of every certificate in the trusted folder (DER or PEM files)."""
    found: set[bytes] = set()
    for path in sorted(folder.iterdir()):
        if not path.is_file():
            continue
        data = path.read_bytes()
        try:
            if b"-----BEGIN CERTIFICATE-----" in data:
                cert = x509.load_pem_x509_certificate(data)
            else:
                cert = x509.load_der_x509_certificate(data)
        except ValueError:
            _LOGGER.warning("Ignoring %s in the trusted folder: not a certificate", path)
            continue
        found.add(cert.public_bytes(serialization.Encoding.DER))
    return found


def _common_name(der: bytes) -> str | None:
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return None
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else None
