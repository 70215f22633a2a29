"""Constants of the NATS integration: configuration keys, defaults, event names."""

from __future__ import annotations

from typing import Final

DOMAIN: Final = "nats"

# -- connection ---------------------------------------------------------------------
CONF_NAME: Final = "name"
CONF_SERVERS: Final = "servers"
CONF_USER: Final = "user"
CONF_PASSWORD: Final = "password"
CONF_TOKEN: Final = "token"
CONF_NKEY_SEED: Final = "nkey_seed"
CONF_CREDS_FILE: Final = "creds_file"
CONF_TLS: Final = "tls"
CONF_TLS_CA: Final = "tls_ca"
CONF_TLS_CERT: Final = "tls_cert"
CONF_TLS_KEY: Final = "tls_key"
CONF_TLS_HOSTNAME: Final = "tls_hostname"
CONF_INSECURE: Final = "insecure"
CONF_CLIENT_NAME: Final = "client_name"
CONF_CONNECT_TIMEOUT: Final = "connect_timeout"
CONF_SETUP_TIMEOUT: Final = "setup_timeout"
CONF_MAX_RECONNECT: Final = "max_reconnect_attempts"
CONF_RECONNECT_WAIT: Final = "reconnect_time_wait"
CONF_PING_INTERVAL: Final = "ping_interval"
CONF_MAX_PINGS: Final = "max_outstanding_pings"

# -- sections -----------------------------------------------------------------------
CONF_SENSORS: Final = "sensor"
CONF_BINARY_SENSORS: Final = "binary_sensor"
CONF_STREAMS: Final = "streams"
CONF_CONSUMERS: Final = "consumers"
CONF_KV: Final = "kv"
CONF_FLEET: Final = "fleet"
CONF_OUTBOX: Final = "outbox"
#: Seconds the JetStream sender waits for a stream's acknowledgement (a sender
#: setting, not an outbox one: it used to live in the ``outbox:`` block).
CONF_ACK_TIMEOUT: Final = "ack_timeout"

DEFAULT_NAME: Final = "NATS"
DEFAULT_CONNECT_TIMEOUT: Final = 2.0
DEFAULT_SETUP_TIMEOUT: Final = 10.0
DEFAULT_RECONNECT_WAIT: Final = 2.0
DEFAULT_PING_INTERVAL: Final = 120.0
DEFAULT_MAX_PINGS: Final = 2
DEFAULT_ACK_TIMEOUT: Final = 5.0

#: Bus event fired for messages of a consumer whose target is ``event``.
EVENT_NATS_MESSAGE: Final = "nats_message"
#: Bus event fired on this host for an event forwarded by another host of the fleet.
EVENT_FLEET_EVENT: Final = "nats_fleet_event"

#: Outbox header names that carry routing, not NATS headers: ``:`` cannot start a NATS
#: header name, so they can never clash with a user's header.
HDR_SUBJECT: Final = ":subject"
HDR_STREAM: Final = ":stream"
