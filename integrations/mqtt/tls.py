"""Connection settings from an entry's data, and the client's TLS context."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .const import (
    CONF_BIRTH,
    CONF_BROKER,
    CONF_CA_CERTS,
    CONF_CLEAN_SESSION,
    CONF_CLIENT_CERT,
    CONF_CLIENT_ID,
    CONF_CLIENT_KEY,
    CONF_CONNECT_TIMEOUT,
    CONF_KEEPALIVE,
    CONF_PASSWORD,
    CONF_PAYLOAD,
    CONF_PORT,
    CONF_PROTOCOL,
    CONF_QOS,
    CONF_RETAIN,
    CONF_SESSION_EXPIRY,
    CONF_TLS,
    CONF_TLS_INSECURE,
    CONF_TLS_VERSION,
    CONF_TOPIC,
    CONF_USERNAME,
    CONF_WILL,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_KEEPALIVE,
    DEFAULT_PORT,
    PROTOCOL_5,
)


class ConnectError(Exception):
    """The first connect failed; ``kind`` is ``cannot_connect``, ``tls``, ``auth``,
    ``refused`` or ``timeout`` (the config flow maps it to a form error)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class Message:
    """A birth or will message."""

    topic: str
    payload: str
    qos: int
    retain: bool

    @classmethod
    def from_config(cls, raw: Mapping[str, Any] | None) -> Message | None:
        if not raw:
            return None
        return cls(raw[CONF_TOPIC], raw[CONF_PAYLOAD], int(raw[CONF_QOS]), bool(raw[CONF_RETAIN]))


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    """Everything needed to connect, read from an entry's data."""

    broker: str
    port: int
    client_id: str
    protocol: str
    clean_session: bool
    session_expiry: int
    keepalive: int
    username: str | None
    password: str | None
    tls: bool
    ca_certs: str | None
    client_cert: str | None
    client_key: str | None
    tls_version: str
    tls_insecure: bool
    birth: Message | None
    will: Message | None
    connect_timeout: float

    @classmethod
    def from_data(cls, data: Mapping[str, Any], default_client_id: str) -> ConnectionSettings:
        return cls(
            broker=data[CONF_BROKER],
            port=int(data.get(CONF_PORT, DEFAULT_PORT)),
            # Stable across restarts by default (derived from the entry id), so that a
            # persistent session (clean_session: false) finds its queued messages.
            client_id=data.get(CONF_CLIENT_ID) or default_client_id,
            protocol=str(data.get(CONF_PROTOCOL, "3.1.1")),
            clean_session=bool(data.get(CONF_CLEAN_SESSION, True)),
            session_expiry=int(data.get(CONF_SESSION_EXPIRY, 3600)),
            keepalive=int(data.get(CONF_KEEPALIVE, DEFAULT_KEEPALIVE)),
            username=data.get(CONF_USERNAME),
            password=data.get(CONF_PASSWORD),
            tls=bool(data.get(CONF_TLS, False)),
            ca_certs=data.get(CONF_CA_CERTS),
            client_cert=data.get(CONF_CLIENT_CERT),
            client_key=data.get(CONF_CLIENT_KEY),
            tls_version=str(data.get(CONF_TLS_VERSION, "1.2")),
            tls_insecure=bool(data.get(CONF_TLS_INSECURE, False)),
            birth=Message.from_config(data.get(CONF_BIRTH)),
            will=Message.from_config(data.get(CONF_WILL)),
            connect_timeout=float(data.get(CONF_CONNECT_TIMEOUT, DEFAULT_CONNECT_TIMEOUT)),
        )

    @property
    def is_v5(self) -> bool:
        return self.protocol == PROTOCOL_5

    def describe(self) -> dict[str, Any]:
        """For diagnostics: no password."""
        return {
            "broker": self.broker,
            "port": self.port,
            "client_id": self.client_id,
            "protocol": self.protocol,
            "clean_session": self.clean_session,
            "keepalive": self.keepalive,
            "username": self.username,
            "tls": self.tls,
            "tls_version_minimum": self.tls_version if self.tls else None,
            "tls_insecure": self.tls_insecure,
        }


class TrackingContext(ssl.SSLContext):
    """An SSL context that remembers the last socket it wrapped.

    paho does not close the TLS socket when the handshake fails (a certificate that
    does not verify), so it would linger until garbage collection; with the socket at
    hand the connection closes it right away.
    """

    last_socket: ssl.SSLSocket | None = None

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        sock = super().wrap_socket(*args, **kwargs)
        self.last_socket = sock
        return sock


def build_tls_context(settings: ConnectionSettings) -> ssl.SSLContext | None:
    """The client's TLS context: verification on, TLS 1.2 minimum (1.3 negotiated when
    the broker offers it). Blocking: reads certificate files. Raises ``ConnectError``
    for unreadable or invalid files, naming the file."""
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
