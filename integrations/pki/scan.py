"""What to watch, read from disk: the CA index, its CRL and the configured PEM files.

Blocking (file reads): the runtime calls ``scan`` and ``signature`` from a worker
thread. ``signature`` is a stat of each file (no read), cheap enough to run every
``poll_interval`` so that ``gatehouse certs issue-device`` in a shell shows up as a
sensor within seconds; ``scan`` reads and parses only when a signature changed (or once
a day, for the days left).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

from gatehouse.core.helpers import (
    PkiError,
    certificate_authority,
    read_certificate_expiry,
    read_crl_expiry,
    slugify,
)

KIND_LABELS = {"ca": "CA", "server": "server", "device": "device", "crl": "CRL",
               "file": "file"}


@dataclass(frozen=True, slots=True)
class Tracked:
    """One thing with an expiry date: a CA-issued certificate, the CRL, a watched file.

    ``not_after`` is None when a watched file could not be read (``error`` says why):
    its sensor is then unavailable, rather than the file silently dropped.
    """

    key: str
    kind: str
    common_name: str
    path: Path
    not_after: dt.datetime | None
    serial: int | None = None
    error: str | None = None

    def days_left(self, now: dt.datetime) -> float | None:
        if self.not_after is None:
            return None
        return (self.not_after - now).total_seconds() / 86400.0


@dataclass(frozen=True, slots=True)
class ScanResult:
    tracked: list[Tracked]
    errors: list[str]
    #: Every certificate of the CA index, revoked ones too: serial -> (kind, CN, revoked).
    index: dict[int, tuple[str, str, bool]] = field(default_factory=dict)


def watch_paths(config_dir: Path, watch: list[str]) -> list[Path]:
    """Configured paths, relative ones taken from the config directory."""
    return [p if p.is_absolute() else config_dir / p for p in (Path(w) for w in watch)]


def scan(config_dir: Path, watch: list[Path]) -> ScanResult:
    """Every unrevoked certificate in the CA index, the CA's CRL, and each watched file."""
    tracked: list[Tracked] = []
    errors: list[str] = []
    index: dict[int, tuple[str, str, bool]] = {}
    ca = certificate_authority(config_dir)
    if ca.exists():
        try:
            current: dict[str, Tracked] = {}
            for info in ca.list():
                index[info.serial] = (info.kind, info.common_name, info.revoked)
                if info.revoked:
                    continue
                # Keyed by kind and name, not serial: a renewed certificate keeps its
                # sensor (and entity id); of two live ones the later-expiring counts.
                key = f"{info.kind}_{slugify(info.common_name)}"
                seen = current.get(key)
                if seen is None or (seen.not_after or info.not_after) <= info.not_after:
                    current[key] = Tracked(key, info.kind, info.common_name, info.path,
                                           info.not_after, info.serial)
            tracked.extend(current.values())
        except PkiError as err:
            errors.append(str(err))
        if ca.crl_path.exists():
            try:
                crl = read_crl_expiry(ca.crl_path)
                tracked.append(Tracked("crl", "crl", crl.common_name, crl.path, crl.not_after))
            except PkiError as err:
                errors.append(str(err))
    for path in watch:
        key = f"file_{slugify(str(path))}"
        try:
            found = read_certificate_expiry(path)
        except PkiError as err:
            errors.append(str(err))
            tracked.append(Tracked(key, "file", path.name, path, None, error=str(err)))
            continue
        tracked.append(Tracked(key, "file", found.common_name, path, found.not_after,
                               found.serial))
    return ScanResult(tracked, errors, index)


Signature = tuple[tuple[str, int, int, int] | None, ...]


def signature(config_dir: Path, watch: list[Path]) -> Signature:
    """(path, mtime_ns, size, inode) of every file ``scan`` reads; None for a missing one.

    The inode is in it because ``write_private_file`` replaces files by rename: a new
    file may have the same size and, on coarse-clock filesystems, the same mtime.
    """
    ca = certificate_authority(config_dir)
    out: list[tuple[str, int, int, int] | None] = []
    for path in (ca.index_path, ca.crl_path, ca.ca_cert_path, *watch):
        try:
            st = os.stat(path)
        except OSError:
            out.append(None)
            continue
        out.append((str(path), st.st_mtime_ns, st.st_size, st.st_ino))
    return tuple(out)
