"""Errors of the certificate authority, each a ``GatehouseError`` naming its subject.

The CLI prints them as one line and exits non-zero; the ``pki`` integration turns an
unreadable index into an entry error. Each carries what it is about (a path, a serial,
a name) as an attribute so callers need not parse the message.
"""

from __future__ import annotations

from pathlib import Path

from ..exceptions import GatehouseError


class PkiError(GatehouseError):
    """Base of every certificate authority error."""


class CaMissingError(PkiError):
    """An operation needs the CA, and ``init-ca`` has not been run for this directory."""

    def __init__(self, directory: Path) -> None:
        super().__init__(
            f"no certificate authority in {directory} yet: run 'gatehouse certs init-ca' first"
        )
        self.directory = directory


class CaExistsError(PkiError):
    """``init`` would overwrite an existing CA (and orphan every certificate it signed)."""

    def __init__(self, directory: Path, found: list[str] | None = None) -> None:
        files = f" (found {', '.join(found)})" if found else ""
        super().__init__(
            f"a certificate authority already exists in {directory}{files}; refusing to "
            "replace it (every certificate it issued would stop being trusted)"
        )
        self.directory = directory
        self.found = list(found or ())


class UnknownSerialError(PkiError):
    """No certificate with that serial number was issued by this CA."""

    def __init__(self, serial: int | str) -> None:
        shown = f"{serial:X}" if isinstance(serial, int) else serial
        super().__init__(
            f"no certificate with serial {shown} in the CA index "
            "(see 'gatehouse certs list')"
        )
        self.serial = serial


class NameClashError(PkiError):
    """A valid, unrevoked certificate already exists for this name.

    Two live device certificates for one name would be two identities a broker cannot
    tell apart (the CN is the MQTT username); renewal says so explicitly (``replace``).
    """

    def __init__(self, kind: str, name: str, serial: int) -> None:
        super().__init__(
            f"a {kind} certificate for {name!r} already exists (serial {serial:X}); "
            "revoke it first or issue with --replace"
        )
        self.kind = kind
        self.name = name
        self.serial = serial


class PkiInputError(PkiError, ValueError):
    """A name, host, URI or validity given to the CA is not acceptable (says which)."""


class PkiIndexError(PkiError):
    """The CA index (``index.json``) or a CA file is unreadable or malformed."""

    def __init__(self, path: Path, why: str) -> None:
        super().__init__(f"{path}: {why}")
        self.path = path
