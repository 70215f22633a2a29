"""Constants of the AWS IoT integration: configuration keys, defaults, AWS's limits."""

from __future__ import annotations

from typing import Final

DOMAIN: Final = "aws_iot"

CONF_NAME: Final = "name"
CONF_ENDPOINT: Final = "endpoint"
CONF_PORT: Final = "port"
CONF_THING: Final = "thing_name"
CONF_ROOT_CA: Final = "root_ca"
CONF_CERTIFICATE: Final = "certificate"
CONF_PRIVATE_KEY: Final = "private_key"
CONF_QOS: Final = "qos"
CONF_KEEPALIVE: Final = "keepalive"
CONF_CONNECT_TIMEOUT: Final = "connect_timeout"
CONF_PUBLISH_RATE: Final = "max_publish_rate"
CONF_RECONNECT_MIN: Final = "reconnect_min_delay"
CONF_RECONNECT_MAX: Final = "reconnect_max_delay"
CONF_STORM: Final = "storm"
CONF_TELEMETRY: Final = "telemetry"
CONF_SHADOW: Final = "shadow"
CONF_PROVISIONING: Final = "provisioning"
CONF_JOBS: Final = "jobs"
CONF_OUTBOX: Final = "outbox"

DEFAULT_NAME: Final = "AWS IoT"
DEFAULT_PORT: Final = 8883
#: Port 443 carries MQTT only with this ALPN protocol name (AWS "Protocols, port mappings").
ALPN_PORT: Final = 443
ALPN_PROTOCOL: Final = "x-amzn-mqtt-ca"
DEFAULT_TOPIC: Final = "gatehouse/{thing}/{domain}/{object_id}"
DEFAULT_BATCH_TOPIC: Final = "gatehouse/{thing}/telemetry"

# AWS IoT Core quotas ("AWS IoT Core message broker and protocol limits and quotas").
#: Largest PUBLISH payload AWS takes.
MAX_PAYLOAD: Final = 128 * 1024
#: Topic size in bytes and forward slashes in a topic.
MAX_TOPIC_BYTES: Final = 256
MAX_TOPIC_SLASHES: Final = 7
#: Publishes per second per connection.
DEFAULT_PUBLISH_RATE: Final = 100.0

#: Outbox headers of a telemetry message.
HDR_TOPIC: Final = "topic"
HDR_QOS: Final = "qos"
#: Left in a queued topic; the sender puts the connection's thing name there.
THING_FIELD: Final = "{thing}"

#: Storm: this many disconnects, each within ``window`` s of its connect, within ``window``.
DEFAULT_STORM_DISCONNECTS: Final = 3
DEFAULT_STORM_WINDOW: Final = 30.0
