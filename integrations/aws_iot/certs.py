"""Checks of the certificate and key files, before anything connects.

A TLS handshake that fails says little ("certificate unknown", "alert 42") and says it
only once the endpoint is reachable; a wrong file is a configuration error that can be
named at check-config time: which file is missing, which key does not belong to which
certificate, which certificate expired (or is not valid yet) and when. Uses
``cryptography``; blocking (reads files), so the integration calls it off the loop.
Key contents are never put in a message: only paths.
"""

from __future__ import annotations

import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from .errors import CertificateProblem


def _read(path: str, field: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise CertificateProblem(f"{field}: file {path} does not exist") from None
    except OSError as err:
        raise CertificateProblem(f"{field}: cannot read {path}: {err.strerror}") from None


def load_certificate(path: str, field: str) -> x509.Certificate:
    data = _read(path, field)
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError:
        raise CertificateProblem(f"{field}: {path} is not a PEM certificate") from None


def load_key(path: str, field: str) -> PrivateKeyTypes:
    data = _read(path, field)
    try:
        return serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        # Never the error text: it may quote bytes of the key.
        raise CertificateProblem(
            f"{field}: {path} is not an unencrypted PEM private key"
        ) from None


def check_validity(cert: x509.Certificate, path: str, field: str,
                   now: datetime.datetime | None = None) -> None:
    now = now or datetime.datetime.now(datetime.UTC)
    if now < cert.not_valid_before_utc:
        raise CertificateProblem(
            f"{field}: {path} is not valid yet "
            f"(from {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC)"
        )
    if now > cert.not_valid_after_utc:
        raise CertificateProblem(
            f"{field}: {path} expired on {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC"
        )


def _public(key: object) -> bytes:
    public_bytes = key.public_bytes  # type: ignore[attr-defined]
    result: bytes = public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return result


def check_pair(cert_path: str, key_path: str, cert_field: str, key_field: str) -> None:
    """The certificate is readable, valid now, and ``key_path`` is its private key."""
    cert = load_certificate(cert_path, cert_field)
    check_validity(cert, cert_path, cert_field)
    key = load_key(key_path, key_field)
    if _public(key.public_key()) != _public(cert.public_key()):
        raise CertificateProblem(
            f"{key_field}: {key_path} is not the private key of {cert_field} {cert_path}"
        )


def check_root_ca(path: str, field: str) -> None:
    """The CA bundle exists and holds at least one valid certificate."""
    data = _read(path, field)
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise CertificateProblem(f"{field}: {path} holds no PEM certificate") from None
    now = datetime.datetime.now(datetime.UTC)
    if not any(c.not_valid_before_utc <= now <= c.not_valid_after_utc for c in certs):
        raise CertificateProblem(f"{field}: no certificate in {path} is valid now")
