"""Constants of the MQTT integration (configuration keys, defaults)."""

from __future__ import annotations

from typing import Final

DOMAIN: Final = "mqtt"

CONF_NAME: Final = "name"
CONF_BROKER: Final = "broker"
CONF_PORT: Final = "port"
CONF_CLIENT_ID: Final = "client_id"
CONF_PROTOCOL: Final = "protocol"
CONF_CLEAN_SESSION: Final = "clean_session"
CONF_SESSION_EXPIRY: Final = "session_expiry"
CONF_KEEPALIVE: Final = "keepalive"
CONF_USERNAME: Final = "username"
CONF_PASSWORD: Final = "password"
CONF_TLS: Final = "tls"
CONF_CA_CERTS: Final = "ca_certs"
CONF_CLIENT_CERT: Final = "client_cert"
CONF_CLIENT_KEY: Final = "client_key"
CONF_TLS_VERSION: Final = "tls_version"
CONF_TLS_INSECURE: Final = "tls_insecure"
CONF_BIRTH: Final = "birth_message"
CONF_WILL: Final = "will_message"
CONF_DISCOVERY: Final = "discovery"
CONF_DISCOVERY_PREFIX: Final = "discovery_prefix"
CONF_PUBLISH_DISCOVERY: Final = "publish_discovery"
CONF_STATESTREAM: Final = "statestream"
CONF_SUBSCRIBE: Final = "subscribe"
CONF_OUTBOX: Final = "outbox"
CONF_CONNECT_TIMEOUT: Final = "connect_timeout"

CONF_TOPIC: Final = "topic"
CONF_PAYLOAD: Final = "payload"
CONF_QOS: Final = "qos"
CONF_RETAIN: Final = "retain"

PROTOCOL_311: Final = "3.1.1"
PROTOCOL_5: Final = "5"

DEFAULT_PORT: Final = 1883
DEFAULT_KEEPALIVE: Final = 60
DEFAULT_DISCOVERY_PREFIX: Final = "homeassistant"
DEFAULT_BIRTH_TOPIC: Final = "gatehouse/status"
PAYLOAD_ONLINE: Final = "online"
PAYLOAD_OFFLINE: Final = "offline"
DEFAULT_CONNECT_TIMEOUT: Final = 10.0
DEFAULT_STATESTREAM_BASE_TOPIC: Final = "gatehouse/states"

#: Platforms the integration makes entities for (YAML keys and discovery components).
PLATFORMS: Final = ("sensor", "binary_sensor", "switch", "number")
