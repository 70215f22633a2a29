"""The audit integration's errors, each a ``GatehouseError``."""

from __future__ import annotations

from gatehouse.core import GatehouseError


class AuditError(GatehouseError):
    """Base of the errors below."""


class AuditKeyError(AuditError):
    """The signing or verification key is missing, unreadable or malformed."""


class AuditLogBusy(AuditError):
    """Another process holds the log's write lock (``append_offline`` while a host runs)."""


class AuditUnavailable(AuditError):
    """No audit entry is loaded (REST: 404; WebSocket: the error's message)."""


class AuditFormatError(AuditError):
    """A record or checkpoint does not follow the documented format (says which field)."""


class VerifyFailed(AuditError):
    """The first bad place a verification found (file and line, and why)."""
