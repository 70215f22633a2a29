"""``CertificateAuthority``: a small CA for one Gatehouse install, in ``<config>/pki/``.

Layout (the directory is 0700, keys 0600, written atomically)::

    pki/ca.crt        the CA certificate (give it to brokers and devices as their CA file)
    pki/ca.key        the CA key
    pki/index.json    every certificate made, revocations, the CRL number (see index.py)
    pki/crl.pem       the last CRL (rewritten by revoke and by crl_pem)
    pki/issued/<kind>-<name>-<SERIAL>.crt / .key

File names carry the serial so a renewal never overwrites the certificate a device is
still using, and the index never points at a file that now holds something else.

Every change (init, issue, revoke, CRL) holds an exclusive ``flock`` on ``pki/.lock``
and re-reads the index under it: two ``gatehouse certs`` commands at once cannot lose
each other's certificate or hand out the same CRL number twice. Reading (``list``,
``ca_cert_pem``) takes no lock (the index is replaced atomically). Everything here
blocks (key generation, fsync): call it from a worker thread in async code.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ..storage import make_private_dir, write_private_file
from ..util import slugify
from .build import LeafRequest, PrivateKey, key_pem, load_key, make_ca, make_crl, make_leaf, new_key
from .errors import (
    CaExistsError,
    CaMissingError,
    NameClashError,
    PkiIndexError,
    PkiInputError,
    UnknownSerialError,
)
from .index import Index
from .model import CertInfo, IssuedCert
from .validate import (
    check_common_name,
    check_days,
    check_device_name,
    check_hosts,
    check_uri,
)

PKI_DIR = "pki"
CA_CERT_FILE = "ca.crt"
CA_KEY_FILE = "ca.key"
INDEX_FILE = "index.json"
CRL_FILE = "crl.pem"
ISSUED_DIR = "issued"
LOCK_FILE = ".lock"

DEFAULT_CA_DAYS = 3650
DEFAULT_LEAF_DAYS = 825
"""The CA/B forum's old ceiling for TLS server certificates: renewed every two years."""
DEFAULT_CRL_DAYS = 365
"""How long a CRL is valid. OpenSSL (Mosquitto) refuses *every* client once the CRL
it was given is past its next update, so a short period turns a forgotten renewal into
an outage; the ``pki`` integration shows the CRL's days left next to the certificates."""

_CERT_MODE = 0o644


def certificate_authority(config_dir: Path) -> CertificateAuthority:
    """The CA of the config directory ``config_dir`` (which may not have one yet)."""
    return CertificateAuthority(Path(config_dir) / PKI_DIR)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _write_public(path: Path, data: bytes) -> None:
    """Atomic like the keys, then readable by others (a certificate is no secret)."""
    write_private_file(path, data)
    os.chmod(path, _CERT_MODE)


class CertificateAuthority:
    """The CA in ``directory``; see the module docstring for files and locking."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.ca_cert_path = self.directory / CA_CERT_FILE
        self.ca_key_path = self.directory / CA_KEY_FILE
        self.index_path = self.directory / INDEX_FILE
        self.crl_path = self.directory / CRL_FILE
        self.issued_dir = self.directory / ISSUED_DIR

    def __repr__(self) -> str:
        return f"<CertificateAuthority {self.directory} exists={self.exists()}>"

    # -- reading ------------------------------------------------------------------------

    def exists(self) -> bool:
        """Whether ``init`` has made this CA (its certificate and key are there; a lost
        index is then a ``PkiIndexError`` naming it, not "no CA")."""
        return self.ca_cert_path.exists() and self.ca_key_path.exists()

    def ca_cert_pem(self) -> bytes:
        """The CA certificate, PEM: what brokers and devices trust."""
        self._require()
        return self.ca_cert_path.read_bytes()

    def list(self) -> list[CertInfo]:
        """Every certificate the CA made, the CA's own first, then in issue order."""
        self._require()
        return list(Index.load(self.index_path).certificates)

    def find(self, serial: int) -> CertInfo:
        """The index line of ``serial``; ``UnknownSerialError`` if the CA never made it."""
        info = Index.load(self.index_path).find(serial) if self.exists() else None
        if info is None:
            self._require()
            raise UnknownSerialError(serial)
        return info

    # -- changing -----------------------------------------------------------------------

    def init(
        self, common_name: str = "Gatehouse CA", *, rsa: bool = False,
        days: int = DEFAULT_CA_DAYS,
    ) -> CertInfo:
        """Make the CA key (0600), its self-signed certificate, the index and a first CRL.

        Refuses (``CaExistsError``) when any CA file is already there: replacing a CA
        silently would un-trust every certificate it issued.
        """
        check_common_name(common_name, "CA common name")
        check_days(days)
        make_private_dir(self.directory)
        with self._locked():
            found = [p.name for p in (self.ca_cert_path, self.ca_key_path, self.index_path)
                     if p.exists()]
            if found:
                raise CaExistsError(self.directory, found)
            now = _now()
            key = new_key(rsa_key=rsa)
            cert = make_ca(key, common_name, days, now)
            write_private_file(self.ca_key_path, key_pem(key))
            _write_public(self.ca_cert_path, _pem(cert))
            info = CertInfo(
                serial=cert.serial_number, common_name=common_name, kind="ca",
                not_before=cert.not_valid_before_utc, not_after=cert.not_valid_after_utc,
                revoked=False, path=self.ca_cert_path, key_path=self.ca_key_path,
            )
            index = Index(self.index_path, [info])
            self._write_crl(index, cert, key, now, DEFAULT_CRL_DAYS)
            return info

    def issue_server(
        self, hosts: Sequence[str], *, days: int = DEFAULT_LEAF_DAYS, rsa: bool = False,
        replace: bool = False,
    ) -> IssuedCert:
        """A TLS server certificate for ``hosts`` (DNS names and IP addresses, all in the
        SAN; the first is also the CN), EKU serverAuth."""
        parsed = check_hosts(list(hosts))
        request = LeafRequest(
            kind="server", common_name=str(parsed[0]),
            dns=tuple(p for p in parsed if isinstance(p, str)),
            ips=tuple(p for p in parsed if not isinstance(p, str)),
            days=check_days(days),
        )
        return self._issue(request, rsa=rsa, replace=replace)

    def issue_device(
        self, name: str, *, days: int = DEFAULT_LEAF_DAYS, rsa: bool = False,
        uri: str | None = None, replace: bool = False,
    ) -> IssuedCert:
        """A client certificate with CN = ``name``, EKU clientAuth; ``uri`` goes in the SAN
        (an OPC UA application URI: use ``rsa=True`` for OPC UA's RSA security policies)."""
        request = LeafRequest(
            kind="device", common_name=check_device_name(name),
            uris=() if uri is None else (check_uri(uri),), days=check_days(days),
        )
        return self._issue(request, rsa=rsa, replace=replace)

    def revoke(self, serial: int) -> CertInfo:
        """Mark ``serial`` revoked and rewrite ``crl.pem``. Revoking twice is a no-op
        (the first revocation time stays): a "revoke" button may be pressed again."""
        self._require()
        with self._locked():
            index = Index.load(self.index_path)
            info = index.find(serial)
            if info is None:
                raise UnknownSerialError(serial)
            if info.kind == "ca":
                raise PkiInputError(
                    f"serial {serial:X} is the CA itself; a CA cannot revoke its own "
                    "certificate (make a new CA in a new config directory instead)"
                )
            if info.revoked:
                return info
            now = _now()
            updated = index.mark_revoked(serial, now)
            ca_cert, ca_key = self._load_ca()
            self._write_crl(index, ca_cert, ca_key, now, DEFAULT_CRL_DAYS)
            return updated

    def crl_pem(self, *, days: int = DEFAULT_CRL_DAYS) -> bytes:
        """A fresh signed CRL (PEM) of every revoked certificate, next update in ``days``;
        also written to ``pki/crl.pem`` (where a broker's ``crlfile`` can point)."""
        self._require()
        check_days(days, "CRL days")
        with self._locked():
            index = Index.load(self.index_path)
            ca_cert, ca_key = self._load_ca()
            return self._write_crl(index, ca_cert, ca_key, _now(), days)

    # -- internals ----------------------------------------------------------------------

    def _require(self) -> None:
        if not self.exists():
            raise CaMissingError(self.directory)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        make_private_dir(self.directory)
        fd = os.open(self.directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _load_ca(self) -> tuple[x509.Certificate, PrivateKey]:
        try:
            cert = x509.load_pem_x509_certificate(self.ca_cert_path.read_bytes())
        except (OSError, ValueError) as err:
            raise PkiIndexError(self.ca_cert_path, f"unreadable CA certificate: {err}") from err
        try:
            key = load_key(self.ca_key_path.read_bytes())
        except (OSError, ValueError, TypeError) as err:
            raise PkiIndexError(self.ca_key_path, f"unreadable CA key: {err}") from err
        return cert, key

    def _issue(self, request: LeafRequest, *, rsa: bool, replace: bool) -> IssuedCert:
        self._require()
        with self._locked():
            index = Index.load(self.index_path)
            now = _now()
            clash = index.active(request.kind, request.common_name, now)
            if clash is not None and not replace:
                raise NameClashError(request.kind, request.common_name, clash.serial)
            ca_cert, ca_key = self._load_ca()
            if now + dt.timedelta(days=request.days) > ca_cert.not_valid_after_utc:
                raise PkiInputError(
                    f"{request.days} days would outlive the CA, which expires "
                    f"{ca_cert.not_valid_after_utc:%Y-%m-%d}: ask for fewer days"
                )
            key = new_key(rsa_key=rsa)
            cert = make_leaf(request, key, ca_cert, ca_key, now)
            while index.find(cert.serial_number) is not None:  # 2^-63; still, never reuse
                cert = make_leaf(request, key, ca_cert, ca_key, now)
            stem = f"{request.kind}-{slugify(request.common_name)}-{cert.serial_number:X}"
            make_private_dir(self.issued_dir)
            key_path = self.issued_dir / f"{stem}.key"
            cert_path = self.issued_dir / f"{stem}.crt"
            private = key_pem(key)
            write_private_file(key_path, private)
            cert_pem = _pem(cert)
            _write_public(cert_path, cert_pem)
            info = CertInfo(
                serial=cert.serial_number, common_name=request.common_name,
                kind=request.kind, not_before=cert.not_valid_before_utc,
                not_after=cert.not_valid_after_utc, revoked=False, path=cert_path,
                key_path=key_path, sans=_sans(request),
            )
            index.certificates.append(info)
            if clash is not None:
                # Renewal: the old certificate is superseded, and says so in the CRL.
                index.mark_revoked(clash.serial, now)
                self._write_crl(index, ca_cert, ca_key, now, DEFAULT_CRL_DAYS)
            else:
                index.save()
            return IssuedCert(
                serial=info.serial, common_name=info.common_name, kind=info.kind,
                cert_pem=cert_pem, key_pem=private, cert_path=cert_path,
                key_path=key_path, not_after=info.not_after,
            )

    def _write_crl(
        self, index: Index, ca_cert: x509.Certificate, ca_key: PrivateKey,
        now: dt.datetime, days: int,
    ) -> bytes:
        """Sign the next CRL, then save the index (with the new number) and ``crl.pem``."""
        index.crl_number += 1
        revoked = [(i.serial, i.revoked_at or now) for i in index.certificates if i.revoked]
        crl = make_crl(ca_cert, ca_key, revoked, now, dt.timedelta(days=days),
                       index.crl_number)
        pem = crl.public_bytes(serialization.Encoding.PEM)
        index.save()
        _write_public(self.crl_path, pem)
        return pem


def _sans(request: LeafRequest) -> tuple[str, ...]:
    return (
        tuple(f"DNS:{d}" for d in request.dns)
        + tuple(f"IP:{ip}" for ip in request.ips)
        + tuple(f"URI:{u}" for u in request.uris)
    )

