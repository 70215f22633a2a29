"""Names and defaults of the schema_guard integration."""

from typing import Final

DOMAIN: Final = "schema_guard"

CONF_NAME: Final = "name"
CONF_SCHEMA_DIR: Final = "schema_dir"
CONF_UNMATCHED: Final = "unmatched"
CONF_RULES: Final = "rules"
CONF_TOPIC: Final = "topic"
CONF_SCHEMA: Final = "schema"
CONF_VERSION: Final = "version"
CONF_SHADOW: Final = "shadow"
CONF_FORMAT: Final = "format"
CONF_MESSAGE: Final = "message"
CONF_ON_INVALID: Final = "on_invalid"
CONF_ASSERT_FORMATS: Final = "assert_formats"
CONF_MAX_BYTES: Final = "max_bytes"
CONF_MAX_DEPTH: Final = "max_depth"
CONF_PII: Final = "pii"
CONF_RELOAD_INTERVAL: Final = "reload_interval"
CONF_QUARANTINE: Final = "quarantine"
CONF_MAX_AGE: Final = "max_age"
CONF_INLINE_MAX: Final = "inline_max"
CONF_MAX_PENDING: Final = "max_pending"
CONF_STATS_INTERVAL: Final = "stats_interval"
CONF_PROXY: Final = "proxy"
CONF_INGRESS: Final = "ingress"
CONF_EGRESS: Final = "egress"
CONF_REWRITE: Final = "rewrite"
CONF_BROKER: Final = "broker"
CONF_PORT: Final = "port"
CONF_USERNAME: Final = "username"
CONF_PASSWORD: Final = "password"
CONF_CLIENT_ID: Final = "client_id"
CONF_KEEPALIVE: Final = "keepalive"
CONF_TLS: Final = "tls"
CONF_CA_CERTS: Final = "ca_certs"
CONF_CERTFILE: Final = "certfile"
CONF_KEYFILE: Final = "keyfile"
CONF_TOPICS: Final = "topics"
CONF_QOS: Final = "qos"
CONF_SESSION_EXPIRY: Final = "session_expiry"
CONF_RECEIVE_MAXIMUM: Final = "receive_maximum"
CONF_MAX_INFLIGHT: Final = "max_inflight"
CONF_FROM: Final = "from"
CONF_TO: Final = "to"

#: The transport name of messages that came through the proxy.
PROXY_TRANSPORT: Final = "proxy"

#: What happens to a message: let through, keep in the quarantine, or drop it.
ALLOW: Final = "allow"
QUARANTINE: Final = "quarantine"
DROP: Final = "drop"

FORMAT_JSON: Final = "json"
FORMAT_TEXT: Final = "text"
FORMAT_BINARY: Final = "binary"
FORMAT_PROTOBUF: Final = "protobuf"

DEFAULT_NAME: Final = "Schema guard"
DEFAULT_SCHEMA_DIR: Final = "schemas"
#: 64 KiB: far above a telemetry document; bounds the worst hostile payload's decode
#: checks to about a millisecond (linear in the size: bench_schema_guard.py).
DEFAULT_MAX_BYTES: Final = 65_536
#: Real device documents are a handful of levels deep (the helpers' loads allows 64).
DEFAULT_MAX_DEPTH: Final = 32
DEFAULT_RELOAD_INTERVAL: Final = 2.0
DEFAULT_STATS_INTERVAL: Final = 5.0
DEFAULT_MAX_AGE_DAYS: Final = 7.0
DEFAULT_QUARANTINE_MAX_BYTES: Final = 256 * 1024 * 1024
DEFAULT_INLINE_MAX: Final = 65_536
DEFAULT_MAX_PENDING: Final = 10_000

#: The source captured from a topic level written ``{source}`` in a rule's pattern.
SOURCE_PLACEHOLDER: Final = "{source}"
#: Metrics of messages no rule matched are kept under this name.
UNMATCHED_RULE: Final = "(unmatched)"
#: What a masked PII string becomes (numbers become 0, booleans false).
MASK: Final = "***"
