"""The CA index, ``<config>/pki/index.json``: every certificate the CA made.

Why a JSON index rather than reading the PEM files back: revocation is a fact about a
certificate that the certificate itself cannot hold, the CRL number must only grow,
and ``list`` and the ``pki`` integration want the whole picture in one read. The
format is versioned so a later Gatehouse can migrate it, and an index written by a
newer one is refused rather than half understood::

    {"version": 1,
     "crl_number": 4,                       # last CRL number issued
     "certificates": [
       {"serial": "C0FFEE...",              # upper-case hex, as 'certs list' prints
        "kind": "ca" | "server" | "device",
        "common_name": "plc-01",
        "not_before": "2026-12-04T14:00:00+00:00",
        "not_after": "2029-03-09T14:05:00+00:00",
        "cert": "issued/device-plc_01-C0FFEE....crt",   # relative to pki/
        "key": "issued/device-plc_01-C0FFEE....key" | null,
        "sans": ["DNS:gw.local", "IP:10.0.0.2", "URI:urn:..."],
        "revoked_at": null | "2026-12-05T09:00:00+00:00"}]}

Written atomically (``write_private_file``), so a crash leaves the old or the new
index, never half of one.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..storage import write_private_file
from .errors import PkiIndexError
from .model import KINDS, CertInfo, CertKind

INDEX_VERSION = 1


@dataclass
class Index:
    """The index in memory: certificates in issue order and the last CRL number."""

    path: Path
    certificates: list[CertInfo] = field(default_factory=list)
    crl_number: int = 0

    def find(self, serial: int) -> CertInfo | None:
        for info in self.certificates:
            if info.serial == serial:
                return info
        return None

    def active(self, kind: CertKind, common_name: str, now: dt.datetime) -> CertInfo | None:
        """The unrevoked, unexpired certificate of this kind and name, if any."""
        for info in reversed(self.certificates):
            if (info.kind == kind and info.common_name == common_name
                    and not info.revoked and info.not_after > now):
                return info
        return None

    def mark_revoked(self, serial: int, when: dt.datetime) -> CertInfo:
        for position, info in enumerate(self.certificates):
            if info.serial == serial:
                updated = replace(info, revoked=True, revoked_at=when)
                self.certificates[position] = updated
                return updated
        raise KeyError(serial)

    # -- disk ---------------------------------------------------------------------------

    def save(self) -> None:
        root = self.path.parent
        data = {
            "version": INDEX_VERSION,
            "crl_number": self.crl_number,
            "certificates": [_encode(info, root) for info in self.certificates],
        }
        write_private_file(self.path, (json.dumps(data, indent=2) + "\n").encode())

    @classmethod
    def load(cls, path: Path) -> Index:
        try:
            data = json.loads(path.read_bytes())
        except FileNotFoundError:
            raise PkiIndexError(path, "missing (the CA files are there, its index is not)") \
                from None
        except (OSError, ValueError) as err:
            raise PkiIndexError(path, f"unreadable: {err}") from err
        if not isinstance(data, dict):
            raise PkiIndexError(path, "not a JSON object")
        version = data.get("version")
        if version != INDEX_VERSION:
            if isinstance(version, int) and version > INDEX_VERSION:
                raise PkiIndexError(path, f"version {version} was written by a newer "
                                          f"Gatehouse (this one reads {INDEX_VERSION})")
            raise PkiIndexError(path, f"unknown version {version!r}")
        raw = data.get("certificates")
        number = data.get("crl_number", 0)
        if not isinstance(raw, list) or not isinstance(number, int):
            raise PkiIndexError(path, "'certificates' must be a list, 'crl_number' a number")
        certs = []
        for position, item in enumerate(raw):
            try:
                certs.append(_decode(item, path.parent))
            except (KeyError, TypeError, ValueError) as err:
                raise PkiIndexError(path, f"certificates[{position}]: {err!r}") from err
        return cls(path, certs, number)


def _stamp(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _time(value: Any) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        raise ValueError(f"time {value!r} has no UTC offset")
    return parsed


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _encode(info: CertInfo, root: Path) -> dict[str, Any]:
    return {
        "serial": info.serial_hex,
        "kind": info.kind,
        "common_name": info.common_name,
        "not_before": _stamp(info.not_before),
        "not_after": _stamp(info.not_after),
        "cert": _relative(info.path, root),
        "key": None if info.key_path is None else _relative(info.key_path, root),
        "sans": list(info.sans),
        "revoked_at": _stamp(info.revoked_at),
    }


def _decode(item: Any, root: Path) -> CertInfo:
    if not isinstance(item, dict):
        raise TypeError("not an object")
    kind = item["kind"]
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    revoked_at = item.get("revoked_at")
    key = item.get("key")
    return CertInfo(
        serial=int(str(item["serial"]), 16),
        common_name=str(item["common_name"]),
        kind=kind,
        not_before=_time(item["not_before"]),
        not_after=_time(item["not_after"]),
        revoked=revoked_at is not None,
        path=root / str(item["cert"]),
        key_path=None if key is None else root / str(key),
        revoked_at=None if revoked_at is None else _time(revoked_at),
        sans=tuple(str(s) for s in item.get("sans", ())),
    )
