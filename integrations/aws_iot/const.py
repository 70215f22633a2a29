"""Constants of the AWS IoT integration: configuration keys, defaults, AWS's limits.

The limits are AWS IoT Core's ("AWS IoT Core message broker and protocol limits and
quotas"): 128 KB per message, 100 publishes per second per connection, 256 bytes and 7
slashes per topic, QoS 0 and 1 only, keepalive 30..1200 s.
"""

from __future__ import annotations

from typing import Final

DOMAIN: Final = "aws_iot"

# -- connection ---------------------------------------------------------------------
CONF_NAME: Final = "name"
CONF_ENDPOINT: Final = "endpoint"
CONF_PORT: Final = "port"
CONF_ALPN: Final = "alpn"
CONF_THING_NAME: Final = "thing_name"
CONF_ROOT_CA: Final = "root_ca"
CONF_CERTIFICATE: Final = "certificate"
CONF_PRIVATE_KEY: Final = "private_key"
CONF_KEEPALIVE: Final = "keepalive"
CONF_PERSISTENT_SESSION: Final = "persistent_session"
CONF_SETUP_TIMEOUT: Final = "setup_timeout"
CONF_MAX_PUBLISH_RATE: Final = "max_publish_rate"
CONF_RECONNECT_MIN_DELAY: Final = "reconnect_min_delay"
CONF_RECONNECT_MAX_DELAY: Final = "reconnect_max_delay"
#: Reconnect storm: ``storm_disconnects`` connections that each ended within
#: ``storm_window`` seconds of their CONNACK, in a row, mean another client has our id.
CONF_STORM_DISCONNECTS: Final = "storm_disconnects"
CONF_STORM_WINDOW: Final = "storm_window"
CONF_STORM_DELAY: Final = "storm_delay"
CONF_STORM_MAX_DELAY: Final = "storm_max_delay"

# -- telemetry ----------------------------------------------------------------------
CONF_TELEMETRY: Final = "telemetry"
CONF_ENABLED: Final = "enabled"
CONF_MODE: Final = "mode"
CONF_TOPIC: Final = "topic"
CONF_BATCH_TOPIC: Final = "batch_topic"
CONF_INTERVAL: Final = "interval"
CONF_QOS: Final = "qos"
CONF_INCLUDE_ATTRIBUTES: Final = "include_attributes"
MODE_PER_ENTITY: Final = "per_entity"
MODE_BATCHED: Final = "batched"
CONF_OUTBOX: Final = "outbox"

# -- protocols (shadow.py, jobs.py, provisioning.py) ----------------------------------
CONF_SHADOW: Final = "shadow"
CONF_SHADOW_NAME: Final = "name"
CONF_DESIRED: Final = "desired"
CONF_JOBS: Final = "jobs"
CONF_ALLOWED_SERVICES: Final = "allowed_services"
CONF_PROVISIONING: Final = "provisioning"
CONF_CLAIM_CERTIFICATE: Final = "claim_certificate"
CONF_CLAIM_PRIVATE_KEY: Final = "claim_private_key"
CONF_TEMPLATE_NAME: Final = "template_name"
CONF_PARAMETERS: Final = "parameters"

# -- defaults -----------------------------------------------------------------------
DEFAULT_NAME: Final = "AWS IoT"
DEFAULT_PORT: Final = 8883
#: AWS's MQTT-over-443 needs this ALPN protocol ("Protocols, port mappings, and
#: authentication" in the developer guide).
ALPN_PROTOCOL: Final = "x-amzn-mqtt-ca"
ALPN_PORT: Final = 443
DEFAULT_KEEPALIVE: Final = 60
MIN_KEEPALIVE: Final = 30
MAX_KEEPALIVE: Final = 1200
DEFAULT_SETUP_TIMEOUT: Final = 10.0
DEFAULT_MAX_PUBLISH_RATE: Final = 100.0
DEFAULT_RECONNECT_MIN_DELAY: Final = 1.0
DEFAULT_RECONNECT_MAX_DELAY: Final = 60.0
DEFAULT_STORM_DISCONNECTS: Final = 3
DEFAULT_STORM_WINDOW: Final = 10.0
DEFAULT_STORM_DELAY: Final = 30.0
DEFAULT_STORM_MAX_DELAY: Final = 900.0
DEFAULT_TOPIC: Final = "gatehouse/{thing}/{domain}/{object_id}"
DEFAULT_BATCH_TOPIC: Final = "gatehouse/{thing}/telemetry"
DEFAULT_INTERVAL: Final = 10.0

# -- AWS IoT Core limits ----------------------------------------------------------------
MAX_PAYLOAD_BYTES: Final = 128 * 1024
MAX_TOPIC_BYTES: Final = 256
MAX_TOPIC_SLASHES: Final = 7
MAX_THING_NAME: Final = 128

#: Outbox header carrying the topic of a telemetry message.
HEADER_TOPIC: Final = "topic"
HEADER_QOS: Final = "qos"
