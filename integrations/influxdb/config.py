"""Voluptuous schemas of the InfluxDB integration: the YAML section, the flow's form,
query sensors, per-entity overrides, and the options layout.

The names are Home Assistant's (``database``, ``retention_policy``, ``measurement_attr``,
``component_config_glob`` ...) so a Home Assistant ``influxdb:`` block reads the same
here; ``org`` (not ``organization``) is the issue's spelling. 1.x uses ``database``,
``retention_policy`` and ``username``/``password``; ``api_version: 2`` (also InfluxDB
3.x, whose ``/api/v2/write`` is compatible) uses ``org``, ``bucket`` and ``token``. A
field of the other version is refused by name (``check_version``), so a half-converted
block fails at check-config time instead of writing to the wrong place.

``batch_size`` and ``flush_interval`` belong to the writer (how many points per
request, how long a point may wait for company); the ``outbox:`` block is the house's
shared one and bounds the queue on disk.
"""

from __future__ import annotations

import re
from typing import Any, Final

import voluptuous as vol

from gatehouse.core.helpers import (
    ENTITY_FILTER_FIELDS,
    PRIORITY_FIELDS,
    OptionsLayout,
    outbox_schema,
    slugify,
)

from .const import (
    API_V1,
    API_V2,
    CONF_API_VERSION,
    CONF_BATCH_SIZE,
    CONF_BUCKET,
    CONF_COMPONENT_CONFIG,
    CONF_COMPONENT_CONFIG_DOMAIN,
    CONF_COMPONENT_CONFIG_GLOB,
    CONF_DATABASE,
    CONF_DEFAULT_MEASUREMENT,
    CONF_FLUSH_INTERVAL,
    CONF_GZIP,
    CONF_HOST,
    CONF_IGNORE_ATTRIBUTES,
    CONF_MEASUREMENT_ATTR,
    CONF_NAME,
    CONF_ORG,
    CONF_OUTBOX,
    CONF_OVERRIDE_MEASUREMENT,
    CONF_PASSWORD,
    CONF_PATH,
    CONF_PORT,
    CONF_PRECISION,
    CONF_QUERIES,
    CONF_RETENTION_POLICY,
    CONF_SSL,
    CONF_SSL_CA_CERT,
    CONF_TAGS,
    CONF_TAGS_ATTRIBUTES,
    CONF_TIMEOUT,
    CONF_TOKEN,
    CONF_USERNAME,
    CONF_VERIFY_SSL,
    DEFAULT_BATCH_SIZE,
    DEFAULT_DATABASE,
    DEFAULT_FLUSH_INTERVAL,
    DEFAULT_HOST,
    DEFAULT_MEASUREMENT_ATTR,
    DEFAULT_NAME,
    DEFAULT_PORT,
    DEFAULT_PRECISION,
    DEFAULT_SCAN_INTERVAL,
    DEFAULT_TIMEOUT,
    MAX_BATCH_SIZE,
    MEASUREMENT_ATTRS,
    PRECISIONS,
)

_SECRET = {"secret": True}
_V1_ONLY: Final = (CONF_DATABASE, CONF_RETENTION_POLICY, CONF_USERNAME, CONF_PASSWORD)
_V2_ONLY: Final = (CONF_ORG, CONF_BUCKET, CONF_TOKEN)
_HOST_RE = re.compile(r"^[A-Za-z0-9._:\-\[\]]+$")

SECONDS = vol.All(vol.Coerce(float), vol.Range(min=0.01, max=86400))


def host_name(value: Any) -> str:
    """A host name or address, without a scheme (``ssl`` chooses https)."""
    text = str(value).strip()
    if "://" in text or not _HOST_RE.match(text):
        raise vol.Invalid(f"expected a host name or address without scheme, got {value!r}")
    return text


def _api_version(value: Any) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        number = 0
    if number not in (API_V1, API_V2):
        raise vol.Invalid(f"api_version must be 1 or 2 (2 also for InfluxDB 3.x), got {value!r}")
    return number


def _string_list(value: Any) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise vol.Invalid("expected a string or a list of strings")
    return list(items)


def _string_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise vol.Invalid("expected a mapping of names to values")
    return {str(k): str(v) for k, v in value.items()}


#: Per-entity overrides (``component_config*``), as Home Assistant has them.
OVERRIDE_SCHEMA: Final = vol.Schema(
    {
        vol.Optional(CONF_OVERRIDE_MEASUREMENT): str,
        vol.Optional(CONF_IGNORE_ATTRIBUTES): _string_list,
    }
)

CONNECTION_FIELDS: dict[Any, Any] = {
    vol.Optional(CONF_NAME, default=DEFAULT_NAME): vol.All(str, vol.Length(min=1, max=64)),
    vol.Optional(CONF_API_VERSION, default=API_V1): _api_version,
    vol.Optional(CONF_HOST, default=DEFAULT_HOST): host_name,
    vol.Optional(CONF_PORT, default=DEFAULT_PORT): vol.All(
        vol.Coerce(int), vol.Range(min=1, max=65535)
    ),
    vol.Optional(CONF_SSL, default=False): bool,
    vol.Optional(CONF_VERIFY_SSL, default=True): bool,
    vol.Optional(CONF_SSL_CA_CERT): str,
    vol.Optional(CONF_DATABASE): vol.All(str, vol.Length(min=1)),
    vol.Optional(CONF_RETENTION_POLICY): vol.All(str, vol.Length(min=1)),
    vol.Optional(CONF_USERNAME): str,
    vol.Optional(CONF_PASSWORD, description=_SECRET): str,
    vol.Optional(CONF_ORG): vol.All(str, vol.Length(min=1)),
    vol.Optional(CONF_BUCKET): vol.All(str, vol.Length(min=1)),
    vol.Optional(CONF_TOKEN, description=_SECRET): str,
    vol.Optional(CONF_PRECISION, default=DEFAULT_PRECISION): vol.In(PRECISIONS),
}

POINT_FIELDS: dict[Any, Any] = {
    vol.Optional(CONF_MEASUREMENT_ATTR, default=DEFAULT_MEASUREMENT_ATTR): vol.In(
        MEASUREMENT_ATTRS
    ),
    vol.Optional(CONF_DEFAULT_MEASUREMENT): vol.All(str, vol.Length(min=1)),
    vol.Optional(CONF_OVERRIDE_MEASUREMENT): vol.All(str, vol.Length(min=1)),
    vol.Optional(CONF_TAGS, default=dict): _string_map,
    vol.Optional(CONF_TAGS_ATTRIBUTES, default=list): _string_list,
    vol.Optional(CONF_IGNORE_ATTRIBUTES, default=list): _string_list,
    vol.Optional(CONF_COMPONENT_CONFIG, default=dict): {str: OVERRIDE_SCHEMA},
    vol.Optional(CONF_COMPONENT_CONFIG_DOMAIN, default=dict): {str: OVERRIDE_SCHEMA},
    vol.Optional(CONF_COMPONENT_CONFIG_GLOB, default=dict): {str: OVERRIDE_SCHEMA},
}

WRITER_FIELDS: dict[Any, Any] = {
    vol.Optional(CONF_BATCH_SIZE, default=DEFAULT_BATCH_SIZE): vol.All(
        vol.Coerce(int), vol.Range(min=1, max=MAX_BATCH_SIZE)
    ),
    vol.Optional(CONF_FLUSH_INTERVAL, default=DEFAULT_FLUSH_INTERVAL): vol.All(
        vol.Coerce(float), vol.Range(min=0, max=3600)
    ),
    vol.Optional(CONF_GZIP, default=True): bool,
    vol.Optional(CONF_TIMEOUT, default=DEFAULT_TIMEOUT): SECONDS,
}


def one_query_source(config: dict[str, Any]) -> dict[str, Any]:
    """A query sensor has ``query`` (InfluxQL or Flux) or Home Assistant's InfluxQL
    parts (``measurement`` + ``field``, ``where``, ``group_function``), not both."""
    if "query" in config and "measurement" in config:
        raise vol.Invalid("give either query or measurement/field, not both")
    if "query" not in config and not ("measurement" in config and "field" in config):
        raise vol.Invalid("a query sensor needs query, or measurement and field")
    return config


QUERY_SCHEMA: Final = vol.All(
    vol.Schema(
        {
            vol.Required("name"): vol.All(str, vol.Length(min=1, max=128)),
            vol.Optional("unique_id"): str,
            vol.Optional("query"): vol.All(str, vol.Length(min=1)),
            vol.Optional("measurement"): vol.All(str, vol.Length(min=1)),
            vol.Optional("field"): vol.All(str, vol.Length(min=1)),
            vol.Optional("where", default="time > now() - 1h"): str,
            vol.Optional("group_function", default="last"): vol.Match(r"^[A-Za-z_]+$"),
            vol.Optional(CONF_DATABASE): str,
            vol.Optional(CONF_BUCKET): str,
            vol.Optional("value_template"): str,
            vol.Optional("language"): vol.In(["influxql", "flux", "sql"]),
            vol.Optional("unit_of_measurement"): str,
            vol.Optional("device_class"): str,
            vol.Optional("state_class"): str,
            vol.Optional("scan_interval", default=DEFAULT_SCAN_INTERVAL): SECONDS,
        }
    ),
    one_query_source,
)


def _check_languages(config: dict[str, Any]) -> None:
    """InfluxQL on 1.x; Flux (default) or SQL (3.x) on 2.x."""
    v2 = config[CONF_API_VERSION] == API_V2
    for index, item in enumerate(config.get(CONF_QUERIES) or ()):
        language = item.get("language")
        if language is None:
            continue
        allowed = ("flux", "sql") if v2 else ("influxql",)
        if language not in allowed:
            raise vol.Invalid(f"language {language!r}: with api_version "
                              f"{config[CONF_API_VERSION]} use {' or '.join(allowed)}",
                              path=[CONF_QUERIES, index, "language"])
        if language != "influxql" and "query" not in item:
            raise vol.Invalid("a flux or sql sensor needs query",
                              path=[CONF_QUERIES, index, "query"])


def check_version(config: dict[str, Any]) -> dict[str, Any]:
    """Fields of the other API version are refused by name; 2.x needs its three."""
    _check_languages(config)
    if config[CONF_API_VERSION] == API_V2:
        wrong = [k for k in _V1_ONLY if k in config]
        if wrong:
            raise vol.Invalid(f"{', '.join(wrong)}: only with api_version 1 (2.x uses "
                              "org, bucket and token)", path=[wrong[0]])
        for key in _V2_ONLY:
            if not config.get(key):
                raise vol.Invalid("required with api_version 2", path=[key])
        return config
    extra = [k for k in _V2_ONLY if k in config]
    if extra:
        raise vol.Invalid(f"{', '.join(extra)}: only with api_version 2", path=[extra[0]])
    if (CONF_USERNAME in config) != (CONF_PASSWORD in config):
        raise vol.Invalid("username and password go together", path=[CONF_USERNAME])
    config.setdefault(CONF_DATABASE, DEFAULT_DATABASE)
    return config


def _unique_names(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    for item in items:
        name = slugify(str(item["name"]))
        if name in seen:
            raise vol.Invalid(f"two items named {item['name']!r}")
        seen.add(name)
    return items


#: The shared ``outbox:`` block. One message is one point, so its batch is the write
#: request's size: set from ``batch_size`` by ``setup_entry``.
OUTBOX_SCHEMA: Final = outbox_schema(
    max_batch_size=MAX_BATCH_SIZE, max_messages=1_000_000, batch_size=DEFAULT_BATCH_SIZE,
)

ENTRY_FIELDS: dict[Any, Any] = {
    **CONNECTION_FIELDS,
    **POINT_FIELDS,
    **WRITER_FIELDS,
    **ENTITY_FILTER_FIELDS,
    **PRIORITY_FIELDS,
    vol.Optional(CONF_PATH): vol.Match(r"^/[^?#\s]*$"),
    vol.Optional(CONF_QUERIES, default=list): vol.All([QUERY_SCHEMA], _unique_names),
    vol.Optional(CONF_OUTBOX, default=dict): OUTBOX_SCHEMA,
}

#: One ``influxdb:`` entry, fully validated with defaults.
ENTRY_SCHEMA: Final = vol.All(vol.Schema(ENTRY_FIELDS), check_version)


def _unique_entries(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    for item in items:
        name = slugify(str(item.get(CONF_NAME, DEFAULT_NAME)))
        if name in seen:
            raise vol.Invalid(f"two influxdb entries named {item.get(CONF_NAME)!r}")
        seen.add(name)
    return items


#: ``influxdb:`` in configuration.yaml: one entry or a list of them (unique names).
CONFIG_SCHEMA: Final = vol.Any(
    vol.All([ENTRY_SCHEMA], vol.Length(min=1), _unique_entries), ENTRY_SCHEMA
)

#: The config flow's form: the connection only (points, filters and queries: YAML).
USER_STEP_SCHEMA: Final = vol.Schema(CONNECTION_FIELDS)

#: How an entry's options lay over its data: the options flow adds query sensors.
OPTIONS_LAYOUT: Final = OptionsLayout(lists=(CONF_QUERIES,))
