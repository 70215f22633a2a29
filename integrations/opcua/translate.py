"""asyncua's vocabulary translated into ours: exceptions, status codes, readings.

Only ``client.py``, ``monitor.py`` and ``browse.py`` talk to asyncua; they wrap every
call in ``translate_errors`` so that callers only ever see ``errors.py`` types, each
raised ``from`` the asyncua or socket error behind it. A status code decides the type:
a refused identity needs new credentials, a security failure needs a human, a broken
connection is worth retrying, anything else is reported with its status name.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asyncua import ua
from asyncua.ua.status_codes import StatusCodes
from asyncua.ua.uaerrors import UaError, UaStatusCodeError

from .errors import (
    OpcuaAuthError,
    OpcuaConnectionError,
    OpcuaError,
    OpcuaSecurityError,
    OpcuaStatusError,
)

_SC = StatusCodes
_AUTH_CODES = frozenset(
    {
        _SC.BadUserAccessDenied,
        _SC.BadIdentityTokenInvalid,
        _SC.BadIdentityTokenRejected,
        _SC.BadUserSignatureInvalid,
    }
)
_SECURITY_CODES = frozenset(
    {
        _SC.BadSecurityChecksFailed,
        _SC.BadSecurityPolicyRejected,
        _SC.BadSecurityModeRejected,
        _SC.BadCertificateInvalid,
        _SC.BadCertificateUntrusted,
        _SC.BadCertificateTimeInvalid,
        _SC.BadCertificateUriInvalid,
        _SC.BadCertificateUseNotAllowed,
        _SC.BadCertificateRevoked,
        _SC.BadNoValidCertificates,
        _SC.BadApplicationSignatureInvalid,
    }
)
_CONNECTION_CODES = frozenset(
    {
        _SC.BadTimeout,
        _SC.BadConnectionClosed,
        _SC.BadConnectionRejected,
        _SC.BadCommunicationError,
        _SC.BadSecureChannelClosed,
        _SC.BadSecureChannelIdInvalid,
        _SC.BadSessionIdInvalid,
        _SC.BadSessionClosed,
        _SC.BadSessionNotActivated,
        _SC.BadServerHalted,
        _SC.BadShutdown,
        _SC.BadServerNotConnected,
        _SC.BadTooManySessions,
        _SC.BadRequestTimeout,
    }
)


def status_name(code: ua.StatusCode | int | None) -> str:
    """``"Good"``, ``"UncertainLastUsableValue"``... (``None`` means Good in a DataValue)."""
    if code is None:
        return "Good"
    status = code if isinstance(code, ua.StatusCode) else ua.StatusCode(ua.UInt32(code))
    try:
        return str(status.name)
    except (KeyError, AttributeError):
        return f"0x{status.value:08X}"


@contextmanager
def translate_errors(action: str) -> Iterator[None]:
    """Re-raise asyncua and socket errors met while doing ``action`` as ours."""
    try:
        yield
    except UaStatusCodeError as err:
        code = err.code
        name = status_name(code)
        if code in _AUTH_CODES:
            raise OpcuaAuthError(f"{action}: the server refused our identity ({name})") from err
        if code in _SECURITY_CODES:
            raise OpcuaSecurityError(f"{action}: security check failed ({name})") from err
        if code in _CONNECTION_CODES:
            raise OpcuaConnectionError(f"{action}: {name}") from err
        raise OpcuaStatusError(action, name) from err
    except (OSError, TimeoutError) as err:
        raise OpcuaConnectionError(f"{action}: {err or type(err).__name__}") from err
    except UaError as err:
        raise OpcuaError(f"{action}: {err}") from err


@dataclass(frozen=True, slots=True)
class Reading:
    """One value of a node as the server reported it."""

    value: Any
    status: str
    quality: str  # "good", "uncertain" or "bad"
    source_timestamp: datetime | None = None
    server_timestamp: datetime | None = None

    @classmethod
    def of(cls, dv: ua.DataValue) -> Reading:
        code = dv.StatusCode if dv.StatusCode is not None else ua.StatusCode()
        if code.is_good():
            quality = "good"
        elif code.is_uncertain():
            quality = "uncertain"
        else:
            quality = "bad"
        value = dv.Value.Value if dv.Value is not None else None
        return cls(value, status_name(code), quality, dv.SourceTimestamp, dv.ServerTimestamp)
