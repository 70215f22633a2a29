"""Reading expiry dates back from PEM files: certificates and CRLs anyone gave us.

For the ``pki`` integration's watched files (a broker certificate from another CA, a
cloud client certificate) and for the CRL the CA wrote. Only the first certificate of
a PEM bundle counts: in a chain file that is the leaf, whose expiry matters first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from .errors import PkiIndexError

MAX_FILE_SIZE = 1 << 20
"""A certificate chain or CRL of our size is a few KiB; a watched path that is bigger
(a wrong path, a device file such as /dev/zero) is refused rather than read whole."""


def _read(path: Path) -> bytes:
    try:
        with Path(path).open("rb") as file:
            data = file.read(MAX_FILE_SIZE + 1)
    except OSError as err:
        raise PkiIndexError(Path(path), f"cannot read: {err.strerror or err}") from err
    if len(data) > MAX_FILE_SIZE:
        raise PkiIndexError(Path(path), f"larger than {MAX_FILE_SIZE} bytes: not a "
                                        "certificate or CRL file")
    return data


@dataclass(frozen=True, slots=True)
class CertExpiry:
    """When a certificate (or a CRL, ``kind="crl"``) in a file stops being valid."""

    path: Path
    common_name: str
    not_after: dt.datetime
    kind: str = "certificate"
    serial: int | None = None


def read_certificate_expiry(path: Path) -> CertExpiry:
    """The CN and ``notAfter`` of the first certificate in a PEM (or DER) file.

    Raises ``PkiIndexError`` naming the file when it is missing or not a certificate.
    Blocking (file read): call it from a worker thread in async code.
    """
    data = _read(path)
    try:
        cert = (x509.load_pem_x509_certificates(data)[0] if b"-----BEGIN" in data
                else x509.load_der_x509_certificate(data))
    except ValueError as err:
        raise PkiIndexError(Path(path), f"not a certificate: {err}") from err
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    common_name = str(names[0].value) if names else Path(path).name
    return CertExpiry(Path(path), common_name, cert.not_valid_after_utc,
                      serial=cert.serial_number)


def read_crl_expiry(path: Path) -> CertExpiry:
    """The next update of a PEM CRL (``common_name``: its issuer): past it, OpenSSL-based
    peers refuse every client."""
    data = _read(path)
    try:
        crl = x509.load_pem_x509_crl(data)
    except ValueError as err:
        raise PkiIndexError(Path(path), f"not a PEM CRL: {err}") from err
    next_update = crl.next_update_utc
    if next_update is None:
        raise PkiIndexError(Path(path), "the CRL has no next update")
    names = crl.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
    issuer = str(names[0].value) if names else "CA"
    return CertExpiry(Path(path), issuer, next_update, kind="crl")
