"""Voluptuous schemas of the MQTT integration: the entry (YAML and flow) and its entities.

One entry is one broker connection. The YAML section ``mqtt:`` is one such mapping or a
list of them; the config flow asks for the connection fields only; entities, discovery
and statestream come from YAML or the options flow (``flow.py``, which validates
entities with the same ``PLATFORM_SCHEMAS``). Schemas only produce plain JSON-able
data, because an entry's data is stored as JSON; compiled forms (json paths,
templates, TLS contexts) are made at set-up: entity descriptions by each platform
module's ``describe``, the connection's by ``ConnectionSettings.from_data``.

``OPTIONS_LAYOUT`` says how the options flow's additions lay over the entry data; set-up
and the options flow both read an entry through it, so they never disagree.

Entity keys follow Home Assistant's MQTT platform options, so configurations (and
discovery payloads, see ``discovery.py``) carry over.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import voluptuous as vol

from gatehouse.core import EntityListOptionsFlow
from gatehouse.core.helpers import ENTITY_FILTER_FIELDS, OptionsLayout, json_path, outbox_schema

from .const import (
    CONF_BIRTH,
    CONF_BROKER,
    CONF_CA_CERTS,
    CONF_CLEAN_SESSION,
    CONF_CLIENT_CERT,
    CONF_CLIENT_ID,
    CONF_CLIENT_KEY,
    CONF_CONNECT_TIMEOUT,
    CONF_DISCOVERY,
    CONF_DISCOVERY_PREFIX,
    CONF_KEEPALIVE,
    CONF_NAME,
    CONF_OUTBOX,
    CONF_PASSWORD,
    CONF_PAYLOAD,
    CONF_PORT,
    CONF_PROTOCOL,
    CONF_PUBLISH_DISCOVERY,
    CONF_QOS,
    CONF_RETAIN,
    CONF_SESSION_EXPIRY,
    CONF_STATESTREAM,
    CONF_SUBSCRIBE,
    CONF_TLS,
    CONF_TLS_INSECURE,
    CONF_TLS_VERSION,
    CONF_TOPIC,
    CONF_USERNAME,
    CONF_WILL,
    DEFAULT_BIRTH_TOPIC,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_DISCOVERY_PREFIX,
    DEFAULT_KEEPALIVE,
    DEFAULT_PORT,
    DEFAULT_STATESTREAM_BASE_TOPIC,
    PAYLOAD_OFFLINE,
    PAYLOAD_ONLINE,
    PLATFORMS,
    PROTOCOL_5,
    PROTOCOL_311,
)
from .provisioning.config import CONF_PROVISIONING, PROVISIONING_SCHEMA
from .topics import valid_filter, valid_topic

QOS = vol.All(vol.Coerce(int), vol.In([0, 1, 2]))
PORT = vol.All(vol.Coerce(int), vol.Range(min=1, max=65535))


#: YAML may say ``protocol: 5`` (an int) or ``"3.1.1"``; the form offers a select.
PROTOCOL = vol.All(vol.Coerce(str), vol.In([PROTOCOL_311, PROTOCOL_5]))


def _message(default_payload: str) -> vol.Schema:
    """A birth or will message: topic, payload, qos, retain."""
    return vol.Schema(
        {
            vol.Optional(CONF_TOPIC, default=DEFAULT_BIRTH_TOPIC): valid_topic,
            vol.Optional(CONF_PAYLOAD, default=default_payload): str,
            vol.Optional(CONF_QOS, default=1): QOS,
            vol.Optional(CONF_RETAIN, default=True): bool,
        }
    )


def _message_or_off(default_payload: str) -> Any:
    """``false`` or ``{}`` turns the message off (stored as None)."""
    schema = _message(default_payload)

    def validate(value: Any) -> dict[str, Any] | None:
        if value is False or value is None or value == {}:
            return None
        return dict(schema(value))

    return validate


def _default_topic() -> dict[str, Any]:
    return {CONF_TOPIC: DEFAULT_BIRTH_TOPIC}


# -- entities ---------------------------------------------------------------------------

DEVICE_SCHEMA = vol.Schema(
    {
        vol.Optional("identifiers"): vol.Any([str], vol.All(str, lambda v: [v])),
        vol.Optional("name"): str,
        vol.Optional("manufacturer"): str,
        vol.Optional("model"): str,
        vol.Optional("sw_version"): str,
        vol.Optional("hw_version"): str,
    },
    extra=vol.REMOVE_EXTRA,
)

#: One entry of an ``availability:`` list. Other keys Home Assistant knows (a
#: ``value_template`` for the availability payload) are dropped, not applied.
AVAILABILITY_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_TOPIC): valid_filter,
        vol.Optional("payload_available", default=PAYLOAD_ONLINE): str,
        vol.Optional("payload_not_available", default=PAYLOAD_OFFLINE): str,
    },
    extra=vol.REMOVE_EXTRA,
)

_COMMON: dict[Any, Any] = {
    vol.Optional("name"): vol.Any(str, None),
    vol.Optional("unique_id"): str,
    vol.Optional("icon"): str,
    vol.Optional("device_class"): str,
    vol.Optional(CONF_QOS, default=0): QOS,
    vol.Optional("availability_topic"): valid_filter,
    vol.Optional("payload_available", default=PAYLOAD_ONLINE): str,
    vol.Optional("payload_not_available", default=PAYLOAD_OFFLINE): str,
    vol.Optional("availability"): [AVAILABILITY_SCHEMA],
    vol.Optional("device"): DEVICE_SCHEMA,
    vol.Optional("force_update", default=False): bool,
    vol.Optional("value_template"): str,
    vol.Optional("json_path"): json_path,
}


def _one_reader(config: dict[str, Any]) -> dict[str, Any]:
    if "value_template" in config and "json_path" in config:
        # On the json_path field, so a form shows it there and YAML errors point at it.
        raise vol.Invalid("value_template and json_path exclude each other", path=["json_path"])
    return config


SENSOR_FIELDS: dict[Any, Any] = {
    **_COMMON,
    vol.Required("state_topic"): valid_filter,
    vol.Optional("unit_of_measurement"): vol.Any(str, None),
    vol.Optional("state_class"): vol.In(["measurement", "total", "total_increasing"]),
    vol.Optional("suggested_display_precision"): vol.All(int, vol.Range(min=0, max=9)),
}

BINARY_SENSOR_FIELDS: dict[Any, Any] = {
    **_COMMON,
    vol.Required("state_topic"): valid_filter,
    vol.Optional("payload_on", default="ON"): str,
    vol.Optional("payload_off", default="OFF"): str,
}

_COMMANDED: dict[Any, Any] = {
    vol.Required("command_topic"): valid_topic,
    vol.Optional("state_topic"): valid_filter,
    vol.Optional(CONF_RETAIN, default=False): bool,
    vol.Optional("optimistic"): bool,
}

SWITCH_FIELDS: dict[Any, Any] = {
    **_COMMON,
    **_COMMANDED,
    vol.Optional("payload_on", default="ON"): str,
    vol.Optional("payload_off", default="OFF"): str,
    vol.Optional("state_on"): str,
    vol.Optional("state_off"): str,
}

NUMBER_FIELDS: dict[Any, Any] = {
    **_COMMON,
    **_COMMANDED,
    vol.Optional("min", default=1.0): vol.Coerce(float),
    vol.Optional("max", default=100.0): vol.Coerce(float),
    vol.Optional("step", default=1.0): vol.All(vol.Coerce(float), vol.Range(min=1e-9)),
    vol.Optional("mode", default="auto"): vol.In(["auto", "box", "slider"]),
    vol.Optional("unit_of_measurement"): vol.Any(str, None),
}


def _range_ok(config: dict[str, Any]) -> dict[str, Any]:
    if "min" in config and config["min"] > config["max"]:
        raise vol.Invalid("min must not be above max")
    return config


_FIELDS: dict[str, dict[Any, Any]] = {
    "sensor": SENSOR_FIELDS,
    "binary_sensor": BINARY_SENSOR_FIELDS,
    "switch": SWITCH_FIELDS,
    "number": NUMBER_FIELDS,
}


def platform_schema(platform: str, *, discovery: bool = False) -> Any:
    """The schema of one entity of ``platform``.

    YAML refuses unknown keys (a typo should be reported); discovery payloads written
    for Home Assistant carry many keys we do not use, which are dropped instead.
    """
    extra = vol.REMOVE_EXTRA if discovery else vol.PREVENT_EXTRA
    return vol.All(vol.Schema(_FIELDS[platform], extra=extra), _one_reader, _range_ok)


PLATFORM_SCHEMAS: dict[str, Any] = {p: platform_schema(p) for p in _FIELDS}
DISCOVERY_SCHEMAS: dict[str, Any] = {p: platform_schema(p, discovery=True) for p in _FIELDS}

# -- statestream and subscriptions -------------------------------------------------------

STATESTREAM_SCHEMA = vol.Schema(
    {
        vol.Optional("base_topic", default=DEFAULT_STATESTREAM_BASE_TOPIC): valid_topic,
        vol.Optional("publish_attributes", default=True): bool,
        vol.Optional(CONF_QOS, default=0): QOS,
        vol.Optional(CONF_RETAIN, default=True): bool,
        **ENTITY_FILTER_FIELDS,
    }
)


_SUBSCRIPTION = vol.Schema(
    {vol.Required(CONF_TOPIC): valid_filter, vol.Optional(CONF_QOS, default=0): QOS}
)


def _subscription(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        return {CONF_TOPIC: valid_filter(value), CONF_QOS: 0}
    return dict(_SUBSCRIPTION(value))


#: The house's ``outbox:`` block (max_messages, max_bytes, overflow, ttl, batch_size,
#: retry and breaker pacing, stats_interval) with MQTT's retry pacing: a broker comes
#: back quickly, so retry soon and often.
OUTBOX_SCHEMA = outbox_schema(
    retry_initial=0.2, retry_max=10.0, breaker_threshold=10, breaker_reset=5.0
)

# -- the entry ----------------------------------------------------------------------------

#: The connection fields: shared by YAML and the config flow.
CONNECTION_FIELDS: dict[Any, Any] = {
    vol.Required(CONF_BROKER): vol.All(str, vol.Length(min=1)),
    vol.Optional(CONF_PORT, default=DEFAULT_PORT): PORT,
    vol.Optional(CONF_CLIENT_ID): vol.All(str, vol.Length(min=1, max=128)),
    vol.Optional(CONF_PROTOCOL, default=PROTOCOL_311): PROTOCOL,
    vol.Optional(CONF_CLEAN_SESSION, default=True): bool,
    vol.Optional(CONF_KEEPALIVE, default=DEFAULT_KEEPALIVE): vol.All(
        vol.Coerce(int), vol.Range(min=5, max=3600)
    ),
    vol.Optional(CONF_USERNAME): str,
    vol.Optional(CONF_PASSWORD, description={"secret": True}): str,
    vol.Optional(CONF_TLS, default=False): bool,
    vol.Optional(CONF_CA_CERTS): str,
    vol.Optional(CONF_CLIENT_CERT): str,
    vol.Optional(CONF_CLIENT_KEY): str,
    vol.Optional(CONF_TLS_VERSION, default="1.2"): vol.All(vol.Coerce(str), vol.In(["1.2", "1.3"])),
    vol.Optional(CONF_TLS_INSECURE, default=False): bool,
    vol.Optional(CONF_DISCOVERY, default=True): bool,
    vol.Optional(CONF_DISCOVERY_PREFIX, default=DEFAULT_DISCOVERY_PREFIX): valid_topic,
}


#: Other spellings accepted for some keys (MQTT 5 says clean_start; "insecure" alone).
ALIASES = {"clean_start": CONF_CLEAN_SESSION, "insecure": CONF_TLS_INSECURE}


def _aliases(value: Any) -> Any:
    """Accept the alternative spellings in ``ALIASES``."""
    if isinstance(value, Mapping) and any(alias in value for alias in ALIASES):
        value = dict(value)
        for alias, key in ALIASES.items():
            if alias in value:
                value.setdefault(key, value.pop(alias))
    return value


def _tls_files_need_tls(config: dict[str, Any]) -> dict[str, Any]:
    if config.get(CONF_CLIENT_KEY) and not config.get(CONF_CLIENT_CERT):
        raise vol.Invalid("client_key needs client_cert")
    if any(config.get(k) for k in (CONF_CA_CERTS, CONF_CLIENT_CERT)):
        config[CONF_TLS] = True
    return config


ENTRY_SCHEMA = vol.All(
    _aliases,
    vol.Schema(
        {
            vol.Optional(CONF_NAME): vol.All(str, vol.Length(min=1, max=64)),
            **CONNECTION_FIELDS,
            vol.Optional(CONF_SESSION_EXPIRY, default=3600): vol.All(
                vol.Coerce(int), vol.Range(min=0, max=0xFFFFFFFF)
            ),
            vol.Optional(CONF_CONNECT_TIMEOUT, default=DEFAULT_CONNECT_TIMEOUT): vol.All(
                vol.Coerce(float), vol.Range(min=0.5, max=120)
            ),
            # On by default (Home Assistant's convention); ``false`` or ``{}`` turns off.
            vol.Optional(CONF_BIRTH, default=_default_topic): _message_or_off(PAYLOAD_ONLINE),
            vol.Optional(CONF_WILL, default=_default_topic): _message_or_off(PAYLOAD_OFFLINE),
            vol.Optional(CONF_PUBLISH_DISCOVERY, default=False): bool,
            vol.Optional(CONF_STATESTREAM): STATESTREAM_SCHEMA,
            vol.Optional(CONF_SUBSCRIBE, default=list): [_subscription],
            vol.Optional(CONF_OUTBOX, default=dict): OUTBOX_SCHEMA,
            # Device provisioning on a Mosquitto with dynamic security (provisioning/).
            vol.Optional(CONF_PROVISIONING): PROVISIONING_SCHEMA,
            **{vol.Optional(platform, default=list): [schema]
               for platform, schema in PLATFORM_SCHEMAS.items()},
        }
    ),
    _tls_files_need_tls,
)

#: ``mqtt:`` in configuration.yaml: one broker, or a list of them.
CONFIG_SCHEMA = vol.Any(vol.All([ENTRY_SCHEMA], vol.Length(min=1)), ENTRY_SCHEMA)

#: The config flow's form: the connection only.
USER_STEP_SCHEMA = vol.Schema(
    {vol.Optional(CONF_NAME): vol.All(str, vol.Length(min=1, max=64)), **CONNECTION_FIELDS}
)


def entry_data(config: Mapping[str, Any]) -> dict[str, Any]:
    """Complete entry data (defaults filled) from YAML or flow input."""
    return dict(ENTRY_SCHEMA(dict(config)))


def entry_unique_id(data: Mapping[str, Any]) -> str:
    """Broker, port and client id: the same for a YAML block and a flow entry."""
    return f"{data[CONF_BROKER]}:{data[CONF_PORT]}:{data.get(CONF_CLIENT_ID) or ''}"


def entry_title(data: Mapping[str, Any]) -> str:
    """The entry's name, else ``broker:port``."""
    return str(data.get(CONF_NAME) or f"{data[CONF_BROKER]}:{data[CONF_PORT]}")


# -- the options flow ---------------------------------------------------------------------

#: How an entry's options lay over its data: entities added in the browser extend the
#: YAML's lists; discovery settings replace the data's; ``statestream`` is laid over the
#: data's block (its YAML filters stay), and ``statestream: None`` switches it off.
OPTIONS_LAYOUT = OptionsLayout(
    lists=PLATFORMS,
    settings=(CONF_DISCOVERY, CONF_DISCOVERY_PREFIX, CONF_PUBLISH_DISCOVERY),
    blocks=(CONF_STATESTREAM,),
)

#: The add-entity form. Fields a platform does not take are refused by its schema.
ADD_ENTITY_SCHEMA = EntityListOptionsFlow.entity_form(
    PLATFORMS,
    {vol.Optional("state_topic"): str, vol.Optional("command_topic"): str},
    {vol.Optional(CONF_QOS, default=0): QOS},
)


# -- the connection, read from validated entry data ---------------------------------------


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
            protocol=str(data.get(CONF_PROTOCOL, PROTOCOL_311)),
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

    @property
    def where(self) -> str:
        """``broker:port``, for messages."""
        return f"{self.broker}:{self.port}"

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
