"""Keys, certificates and CRLs as X.509 objects (``cryptography``), no files.

Kept apart from the file and index handling in ``authority.py`` so the profile of what
we sign can be read in one place:

* keys: ECDSA P-256 by default (small, fast, accepted by Mosquitto and every current
  TLS stack), RSA 3072 on request (128-bit strength, for peers without ECDSA, e.g. OPC
  UA's RSA-only security policies); signatures SHA-256 either way;
* CA: ``basicConstraints CA:TRUE, pathlen:0`` (it signs leaves only), key usage
  ``keyCertSign, cRLSign``;
* server: SANs (DNS names and IP addresses; modern clients ignore the CN), EKU
  ``serverAuth``; device: CN = device name (Mosquitto's ``use_identity_as_username``
  takes it), EKU ``clientAuth``, an optional SAN URI (the OPC UA application URI);
* serials: 64 random bits with the top bit set (positive, fixed length, unguessable,
  as RFC 5280 and the CA/B forum ask), so no serial counter has to survive crashes;
* ``notBefore`` five minutes in the past, for peers whose clocks run slightly behind.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import secrets
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .model import CertKind

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
RSA_BITS = 3072
CLOCK_SKEW = dt.timedelta(minutes=5)


def new_key(*, rsa_key: bool = False) -> PrivateKey:
    """A fresh private key: ECDSA P-256, or RSA 3072 when ``rsa_key``."""
    if rsa_key:
        return rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: PrivateKey) -> bytes:
    """Unencrypted PKCS#8 PEM: the file mode (0600) protects it, as brokers expect."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_key(pem: bytes) -> PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValueError(f"unsupported CA key type {type(key).__name__}")
    return key


def new_serial() -> int:
    return secrets.randbits(64) | (1 << 63)


def _name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Gatehouse"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def make_ca(key: PrivateKey, common_name: str, days: int, now: dt.datetime) -> x509.Certificate:
    """A self-signed CA certificate valid for ``days`` from ``now``."""
    name = _name(common_name)
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(new_serial())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )


@dataclass(frozen=True, slots=True)
class LeafRequest:
    """What a leaf certificate says: its kind, CN, SANs and validity."""

    kind: CertKind
    common_name: str
    dns: tuple[str, ...] = ()
    ips: tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...] = ()
    uris: tuple[str, ...] = ()
    days: int = 825


def _key_usage(key: PrivateKey, kind: CertKind, for_opcua: bool) -> x509.KeyUsage:
    is_rsa = isinstance(key, rsa.RSAPrivateKey)
    return x509.KeyUsage(
        digital_signature=True,
        # OPC UA application instance certificates must allow non-repudiation and data
        # encipherment (Part 6, 6.2.2); RSA TLS 1.2 key exchange needs key encipherment.
        content_commitment=for_opcua,
        key_encipherment=is_rsa,
        data_encipherment=for_opcua and is_rsa,
        key_agreement=False, key_cert_sign=False, crl_sign=False,
        encipher_only=False, decipher_only=False,
    )


def make_leaf(
    request: LeafRequest, key: PrivateKey, ca_cert: x509.Certificate, ca_key: PrivateKey,
    now: dt.datetime,
) -> x509.Certificate:
    """A leaf certificate for ``key``, signed by the CA."""
    eku = ExtendedKeyUsageOID.SERVER_AUTH if request.kind == "server" \
        else ExtendedKeyUsageOID.CLIENT_AUTH
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in request.dns]
    sans += [x509.IPAddress(ip) for ip in request.ips]
    sans += [x509.UniformResourceIdentifier(u) for u in request.uris]
    public = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(request.common_name))
        .issuer_name(ca_cert.subject)
        .public_key(public)
        .serial_number(new_serial())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + dt.timedelta(days=request.days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(key, request.kind, bool(request.uris)), critical=True)
        .add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if sans:
        # A server's SANs are what clients check: critical only when the subject is
        # empty (RFC 5280), which ours never is.
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def make_crl(
    ca_cert: x509.Certificate, ca_key: PrivateKey, revoked: list[tuple[int, dt.datetime]],
    now: dt.datetime, next_update: dt.timedelta, number: int,
) -> x509.CertificateRevocationList:
    """A CRL listing ``(serial, revoked_at)``; ``next_update`` after ``now``."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now - CLOCK_SKEW)
        .next_update(now + next_update)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    for serial, when in sorted(revoked):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build()
        )
    return builder.sign(ca_key, hashes.SHA256())
