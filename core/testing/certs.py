"""Throw-away PKI generated at test time.

Generating the CA and leaf certificates per run (instead of committing PEM files) means
nothing expires in the repository and no private key is ever checked in. EC P-256 keys
keep generation to a few milliseconds.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_CLIENT = "gatehouse-client"
_VALIDITY = datetime.timedelta(days=2)
_CLOCK_SKEW = datetime.timedelta(minutes=5)


@dataclass(frozen=True)
class ClientCert:
    """A client certificate and its key as PEM files; ``common_name`` is the identity
    brokers see (mosquitto's ``use_identity_as_username`` turns it into the username)."""

    common_name: str
    cert: Path
    key: Path


@dataclass(frozen=True)
class Pki:
    """Paths of a generated test PKI.

    ``clients`` maps common name to client certificate; more can be issued later with
    :func:`issue_client_cert`, which is why the CA key is kept on disk too.
    """

    directory: Path
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    clients: tuple[ClientCert, ...]

    def client(self, common_name: str = DEFAULT_CLIENT) -> ClientCert:
        """Return the client certificate issued for ``common_name``."""
        for cert in self.clients:
            if cert.common_name == common_name:
                return cert
        raise KeyError(f"no client certificate for {common_name!r}; use issue_client_cert()")


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _write_cert(cert: x509.Certificate, path: Path) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Gatehouse tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _leaf_builder(
    subject: str, public_key: ec.EllipticCurvePublicKey, ca_cert: x509.Certificate
) -> x509.CertificateBuilder:
    ca_public_key = ca_cert.public_key()
    if not isinstance(ca_public_key, ec.EllipticCurvePublicKey):
        raise TypeError("test CA key is not an EC key")
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CLOCK_SKEW)
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_public_key),
            critical=False,
        )
    )


def _load_ca(pki: Pki) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    ca_cert = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    ca_key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise TypeError("test CA key is not an EC key")
    return ca_cert, ca_key


def _issue_client(
    directory: Path,
    common_name: str,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
) -> ClientCert:
    key = _new_key()
    cert = (
        _leaf_builder(common_name, key.public_key(), ca_cert)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in common_name)
    cert_path = directory / f"client-{safe}.crt"
    key_path = directory / f"client-{safe}.key"
    _write_cert(cert, cert_path)
    _write_key(key, key_path)
    return ClientCert(common_name=common_name, cert=cert_path, key=key_path)


def issue_client_cert(pki: Pki, common_name: str) -> ClientCert:
    """Issue one more client certificate from ``pki``'s CA (for per-test identities)."""
    ca_cert, ca_key = _load_ca(pki)
    return _issue_client(pki.directory, common_name, ca_cert, ca_key)


def make_pki(
    directory: Path,
    client_names: tuple[str, ...] = (DEFAULT_CLIENT,),
    server_hostnames: tuple[str, ...] = ("localhost",),
    server_ips: tuple[str, ...] = ("127.0.0.1", "::1"),
) -> Pki:
    """Create a CA, a server certificate valid for loopback and client certificates.

    The server certificate carries both DNS and IP SANs because clients connect to
    ``127.0.0.1`` (needs an IP SAN; CN matching is not used by modern TLS stacks) while
    some code paths use ``localhost``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)

    ca_key = _new_key()
    ca_name = _name("Gatehouse Test CA")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CLOCK_SKEW)
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    server_key = _new_key()
    sans: list[x509.GeneralName] = [x509.DNSName(name) for name in server_hostnames]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in server_ips]
    server_cert = (
        _leaf_builder(
            server_hostnames[0] if server_hostnames else "server",
            server_key.public_key(),
            ca_cert,
        )
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    paths = {
        "ca_cert": directory / "ca.crt",
        "ca_key": directory / "ca.key",
        "server_cert": directory / "server.crt",
        "server_key": directory / "server.key",
    }
    _write_cert(ca_cert, paths["ca_cert"])
    _write_key(ca_key, paths["ca_key"])
    _write_cert(server_cert, paths["server_cert"])
    _write_key(server_key, paths["server_key"])

    clients = tuple(_issue_client(directory, name, ca_cert, ca_key) for name in client_names)
    return Pki(directory=directory, clients=clients, **paths)
