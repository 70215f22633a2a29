"""Constants of the InfluxDB integration: configuration keys, defaults, limits."""

from __future__ import annotations

from typing import Final

DOMAIN: Final = "influxdb"

# -- connection (1.x) -----------------------------------------------------------------
CONF_NAME: Final = "name"
CONF_API_VERSION: Final = "api_version"
CONF_HOST: Final = "host"
CONF_PORT: Final = "port"
CONF_PATH: Final = "path"
CONF_SSL: Final = "ssl"
CONF_VERIFY_SSL: Final = "verify_ssl"
CONF_SSL_CA_CERT: Final = "ssl_ca_cert"
CONF_DATABASE: Final = "database"
CONF_RETENTION_POLICY: Final = "retention_policy"
CONF_USERNAME: Final = "username"
CONF_PASSWORD: Final = "password"
# -- connection (2.x / 3.x) -----------------------------------------------------------
CONF_ORG: Final = "org"
CONF_BUCKET: Final = "bucket"
CONF_TOKEN: Final = "token"
# -- what a point is ------------------------------------------------------------------
CONF_PRECISION: Final = "precision"
CONF_MEASUREMENT_ATTR: Final = "measurement_attr"
CONF_DEFAULT_MEASUREMENT: Final = "default_measurement"
CONF_OVERRIDE_MEASUREMENT: Final = "override_measurement"
CONF_TAGS: Final = "tags"
CONF_TAGS_ATTRIBUTES: Final = "tags_attributes"
CONF_IGNORE_ATTRIBUTES: Final = "ignore_attributes"
CONF_COMPONENT_CONFIG: Final = "component_config"
CONF_COMPONENT_CONFIG_DOMAIN: Final = "component_config_domain"
CONF_COMPONENT_CONFIG_GLOB: Final = "component_config_glob"
# -- the writer -----------------------------------------------------------------------
CONF_BATCH_SIZE: Final = "batch_size"
CONF_FLUSH_INTERVAL: Final = "flush_interval"
CONF_GZIP: Final = "gzip"
CONF_TIMEOUT: Final = "timeout"
CONF_OUTBOX: Final = "outbox"
CONF_QUERIES: Final = "queries"

API_V1: Final = 1
API_V2: Final = 2
DEFAULT_NAME: Final = "InfluxDB"
DEFAULT_HOST: Final = "localhost"
DEFAULT_PORT: Final = 8086
DEFAULT_DATABASE: Final = "home_assistant"
DEFAULT_PRECISION: Final = "ns"
DEFAULT_MEASUREMENT_ATTR: Final = "unit_of_measurement"
MEASUREMENT_ATTRS: Final = ("unit_of_measurement", "domain__device_class", "entity_id")
PRECISIONS: Final = ("ns", "us", "ms", "s")
#: InfluxDB's own advice: about 5,000 lines per write request.
DEFAULT_BATCH_SIZE: Final = 5000
MAX_BATCH_SIZE: Final = 10_000
DEFAULT_FLUSH_INTERVAL: Final = 1.0
DEFAULT_TIMEOUT: Final = 10.0
DEFAULT_SCAN_INTERVAL: Final = 60.0

#: Point field names, as Home Assistant writes them.
FIELD_VALUE: Final = "value"
FIELD_STATE: Final = "state"
TAG_ENTITY_ID: Final = "entity_id"
TAG_DOMAIN: Final = "domain"
TAG_DEVICE: Final = "device"
TAG_AREA: Final = "area"

#: Outbox header of a point InfluxDB refused, queued again alone so that the dead
#: letters hold exactly the refused points (its value: the server's reason).
HDR_REFUSED: Final = "influxdb-refused"
#: At most this many points share one outbox message (see ``exporter.py``).
MAX_POINTS_PER_MESSAGE: Final = 64
