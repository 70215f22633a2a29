"""Every error the MQTT integration raises, each a ``GatehouseError``.

paho reports trouble as ``OSError``/``ssl.SSLError`` from the first connect, as reason
codes in callbacks, or as ``ValueError`` for a bad topic; ``client.py`` translates those
at the boundary (``raise ConnectError(...) from err``) so that the entry set-up and the
config flow can tell a refused login from a broker that is simply not there.
"""

from __future__ import annotations

from typing import Literal

from gatehouse.core import GatehouseError

#: Why a connect failed; the config flow turns each into a form error.
ConnectErrorKind = Literal["cannot_connect", "tls", "auth", "refused", "timeout"]


class MqttError(GatehouseError):
    """Base of the MQTT integration's errors."""


class ConnectError(MqttError):
    """The first connect failed; ``kind`` says how (see ``ConnectErrorKind``).

    ``auth``: CONNACK refused the credentials (retrying cannot help); ``tls``: the
    certificate files or the handshake; ``refused``: CONNACK refused for another
    reason; ``cannot_connect``: nobody answered, or the broker hung up before CONNACK;
    ``timeout``: no CONNACK in time.
    """

    def __init__(self, kind: ConnectErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind: ConnectErrorKind = kind


class DiscoveryError(MqttError):
    """A discovery config we cannot use; the message says why."""


class MqttUnavailable(MqttError):
    """No (matching) mqtt entry is loaded, so there is no broker to talk to."""
