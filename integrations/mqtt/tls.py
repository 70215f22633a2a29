"""The client's TLS context, built from an entry's connection settings.

Kept apart from ``client.py`` because it is the one blocking part of set-up (it reads
certificate files, so it runs in a worker thread) and the one that fails for reasons
only the operator can fix: a missing or unreadable file is ``ConfigEntryError``, not
something to retry.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

from gatehouse.core.helpers import TrackingContext

from .errors import ConnectError

if TYPE_CHECKING:
    from .config import ConnectionSettings


def build_tls_context(settings: ConnectionSettings) -> ssl.SSLContext | None:
    """The client's TLS context: verification on, TLS 1.2 minimum (1.3 negotiated when
    the broker offers it). Blocking: reads certificate files. Raises ``ConnectError``
    (kind ``tls``) for unreadable or invalid files, naming the file."""
    if not settings.tls:
        return None
    context = TrackingContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED + check_hostname
    context.minimum_version = (
        ssl.TLSVersion.TLSv1_3 if settings.tls_version == "1.3" else ssl.TLSVersion.TLSv1_2
    )
    try:
        if settings.ca_certs:
            context.load_verify_locations(cafile=settings.ca_certs)
        else:
            context.load_default_certs()
    except (OSError, ssl.SSLError) as err:
        raise ConnectError("tls", f"cannot load ca_certs {settings.ca_certs}: {err}") from err
    if settings.client_cert:
        try:
            context.load_cert_chain(settings.client_cert, settings.client_key or None)
        except (OSError, ssl.SSLError) as err:
            raise ConnectError(
                "tls", f"cannot load client certificate {settings.client_cert}: {err}"
            ) from err
    if settings.tls_insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
