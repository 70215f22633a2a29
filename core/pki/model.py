"""What the certificate authority hands out: ``IssuedCert`` and ``CertInfo``.

Frozen dataclasses, so a caller can keep one without it changing under it; the index
(``index.py``) is the only mutable record.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

CertKind = Literal["ca", "server", "device"]
KINDS: tuple[CertKind, ...] = ("ca", "server", "device")


@dataclass(frozen=True, slots=True)
class IssuedCert:
    """A certificate just issued, with its key (PEM) and where both were written."""

    serial: int
    common_name: str
    kind: CertKind
    cert_pem: bytes
    key_pem: bytes = field(repr=False)
    cert_path: Path
    key_path: Path
    not_after: dt.datetime


@dataclass(frozen=True, slots=True)
class CertInfo:
    """One line of the CA index: a certificate the CA made (the CA's own included)."""

    serial: int
    common_name: str
    kind: CertKind
    not_before: dt.datetime
    not_after: dt.datetime
    revoked: bool
    path: Path
    key_path: Path | None = None
    revoked_at: dt.datetime | None = None
    sans: tuple[str, ...] = ()

    @property
    def serial_hex(self) -> str:
        """The serial as ``list`` prints it and ``revoke`` takes it (upper-case hex)."""
        return f"{self.serial:X}"

    def days_left(self, now: dt.datetime) -> float:
        """Days until ``not_after`` (negative once expired)."""
        return (self.not_after - now).total_seconds() / 86400.0

    @property
    def cn(self) -> str:
        """Short alias of ``common_name``."""
        return self.common_name
