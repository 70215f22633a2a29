"""TLS for clients on paho-mqtt: closing the sockets it abandons.

paho (2.x) does not close the TLS socket when the handshake fails (a server the CA does
not trust, a refused client certificate), so it lingers until garbage collection, once
per reconnect attempt (and shows up as a ``ResourceWarning``). Every paho-based
integration builds its context as a ``TrackingContext`` and calls ``close_failed`` when
an attempt fails.
"""

from __future__ import annotations

import contextlib
import ssl
from typing import Any

__all__ = ["TrackingContext"]


class TrackingContext(ssl.SSLContext):
    """An SSL context that remembers the last socket it wrapped (see the module
    docstring)."""

    last_socket: ssl.SSLSocket | None = None
    #: Sockets wrapped so far: a failed attempt that wrapped one failed in TLS, not TCP.
    wrapped = 0

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        sock = super().wrap_socket(*args, **kwargs)
        self.last_socket = sock
        self.wrapped += 1
        return sock

    def close_failed(self, current: object) -> None:
        """Close the last socket if it is not ``current`` (paho's live one)."""
        sock = self.last_socket
        if sock is not None and sock is not current:
            self.last_socket = None
            with contextlib.suppress(OSError):
                sock.close()
