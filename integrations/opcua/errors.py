"""The integration's own exceptions: asyncua's never leave ``client.py``.

Callers (set-up, services, the config flow) decide by type: a connection problem is
retried, an authentication or trust problem needs a human, a bad value is the caller's
fault. Each is raised ``from`` the asyncua error that caused it, so logs keep the cause.
"""

from __future__ import annotations

from pathlib import Path

from gatehouse.core import GatehouseError


class OpcuaError(GatehouseError):
    """Base of every OPC UA integration error."""


class OpcuaConnectionError(OpcuaError):
    """The server cannot be reached or the session broke (worth retrying)."""


class OpcuaAuthError(OpcuaError):
    """The server refused our user identity (wrong password, unknown certificate)."""


class OpcuaSecurityError(OpcuaError):
    """Security negotiation failed: no matching endpoint, our certificate refused..."""


class OpcuaUntrustedCertificateError(OpcuaSecurityError):
    """The server's certificate is not in the trusted folder.

    ``rejected`` is where we saved it; copying it into ``trusted_dir`` trusts it.
    """

    def __init__(self, endpoint: str, subject: str, rejected: Path, trusted_dir: Path) -> None:
        self.endpoint = endpoint
        self.subject = subject
        self.rejected = rejected
        self.trusted_dir = trusted_dir
        super().__init__(
            f"the server certificate of {endpoint} ({subject}) is not trusted; if you trust "
            f"this server, copy {rejected} into {trusted_dir}/ and reload the entry"
        )


class OpcuaCertificateChangedError(OpcuaSecurityError):
    """Trust on first use pinned another certificate for this endpoint."""


class OpcuaNodeError(OpcuaError):
    """A node id is malformed, its namespace is unknown, or the node does not exist."""


class OpcuaValueError(OpcuaError, ValueError):
    """A value cannot be converted to the node's data type."""


class OpcuaStatusError(OpcuaError):
    """The server answered a read or write with a Bad status code."""

    def __init__(self, message: str, status: str) -> None:
        super().__init__(f"{message}: {status}")
        self.status = status
