"""Voluptuous schemas of the NATS integration: YAML section, flow form, the parts, and
the options layout.

The YAML section and the config flow share the connection fields, so an entry made in
the browser and one made in ``configuration.yaml`` are validated the same way; the
richer parts (streams, consumers, KV mirror, fleet) are YAML-only because they are
lists that a form renders badly; subject entities come from YAML or the options flow
(``flow.py``, which validates them with the same ``SENSOR_SCHEMA``s).
``setup_entry`` validates the entry's data with its options laid over
(``OPTIONS_LAYOUT``) through ``ENTRY_SCHEMA`` again, which fills defaults for entries
stored by older versions and refuses data edited by hand into something invalid.

The ``outbox:`` block is the house's shared one (``outbox_schema``), with defaults that
keep what this integration always did. ``ack_timeout`` belongs to the JetStream sender,
not to the queue, so it is a top-level key now; the old spelling
``outbox: {ack_timeout: ...}`` in YAML and in stored entries is still accepted and moved
(with a deprecation warning, once per entry name).
"""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlparse

import voluptuous as vol

from gatehouse.core.helpers import (
    SELECTOR_SCHEMA,
    OptionsLayout,
    json_path,
    outbox_schema,
    slugify,
)

from .const import (
    CONF_ACK_TIMEOUT,
    CONF_BINARY_SENSORS,
    CONF_CLIENT_NAME,
    CONF_CONNECT_TIMEOUT,
    CONF_CONSUMERS,
    CONF_CREDS_FILE,
    CONF_FLEET,
    CONF_INSECURE,
    CONF_KV,
    CONF_MAX_PINGS,
    CONF_MAX_RECONNECT,
    CONF_NAME,
    CONF_NKEY_SEED,
    CONF_OUTBOX,
    CONF_PASSWORD,
    CONF_PING_INTERVAL,
    CONF_RECONNECT_WAIT,
    CONF_SENSORS,
    CONF_SERVERS,
    CONF_SETUP_TIMEOUT,
    CONF_STREAMS,
    CONF_TLS,
    CONF_TLS_CA,
    CONF_TLS_CERT,
    CONF_TLS_HOSTNAME,
    CONF_TLS_KEY,
    CONF_TOKEN,
    CONF_USER,
    DEFAULT_ACK_TIMEOUT,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_PINGS,
    DEFAULT_NAME,
    DEFAULT_PING_INTERVAL,
    DEFAULT_RECONNECT_WAIT,
    DEFAULT_SETUP_TIMEOUT,
    EVENT_NATS_MESSAGE,
)

_LOGGER = logging.getLogger(__name__)

_SCHEMES = ("nats", "tls", "ws", "wss")
_NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")  # streams, consumers, buckets
_TOKEN_RE = re.compile(r"^[a-z0-9_-]+$")  # one subject token we build (site, host)
_SECRET = {"secret": True}


# --------------------------------------------------------------------------- validators


def server_url(value: Any) -> str:
    """``host:port`` or a ``nats://``/``tls://``/``ws(s)://`` URL, normalised to a URL."""
    text = str(value).strip()
    if "://" not in text:
        text = f"nats://{text}"
    parsed = urlparse(text)
    if parsed.scheme not in _SCHEMES or not parsed.hostname:
        raise vol.Invalid(f"expected a server like nats://host:4222, got {value!r}")
    return text


def server_list(value: Any) -> list[str]:
    """A list of servers, or one string with servers separated by commas or spaces."""
    items = re.split(r"[,\s]+", value) if isinstance(value, str) else value
    if not isinstance(items, list):
        raise vol.Invalid("expected a list of servers")
    servers = [server_url(item) for item in items if str(item).strip()]
    if not servers:
        raise vol.Invalid("at least one server is required")
    return servers


server_list.__gatehouse_type__ = "string"  # type: ignore[attr-defined]


def subject(value: Any) -> str:
    """A subject to subscribe to: wildcards ``*`` (one token) and ``>`` (the rest)."""
    text = str(value)
    tokens = text.split(".")
    if not text or any(not t or any(c.isspace() for c in t) for t in tokens):
        raise vol.Invalid(f"invalid subject {value!r}")
    for index, token in enumerate(tokens):
        if ("*" in token and token != "*") or (">" in token and token != ">"):
            raise vol.Invalid(f"wildcards must be whole tokens in {value!r}")
        if token == ">" and index != len(tokens) - 1:
            raise vol.Invalid(f"'>' must be the last token in {value!r}")
    return text


def publish_subject(value: Any) -> str:
    """A subject to publish to: no wildcards."""
    text = subject(value)
    if any(token in ("*", ">") for token in text.split(".")):
        raise vol.Invalid(f"cannot publish to a wildcard subject {value!r}")
    return text


def name_token(value: Any) -> str:
    """A stream, consumer or bucket name (letters, digits, ``_`` and ``-``)."""
    text = str(value)
    if not _NAME_RE.match(text):
        raise vol.Invalid(f"{value!r} may only hold letters, digits, '_' and '-'")
    return text


def subject_token(value: Any) -> str:
    """One lower-case subject token (fleet site and host names)."""
    text = str(value)
    if not _TOKEN_RE.match(text):
        raise vol.Invalid(f"{value!r} may only hold a-z, 0-9, '_' and '-'")
    return text


def _globs(value: Any) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) and i for i in items):
        raise vol.Invalid("expected an entity id glob or a list of them")
    return list(items)


def _selection(value: Any) -> Any:
    """An entity filter selector (``domains``, ``entities``, ``entity_globs``, ``devices``,
    ``areas``, ``attributes``) or, the older form, a list of entity id globs."""
    if isinstance(value, str | list):
        return _globs(value)
    return SELECTOR_SCHEMA(value)


def _given(side: Any) -> bool:
    """A side that selects something (a validated selector has every key, maybe empty)."""
    if isinstance(side, Mapping):
        return any(side.values())
    return bool(side)


def _same_form(block: dict[str, Any]) -> dict[str, Any]:
    """``include`` and ``exclude`` both lists of globs (the older form) or both selectors."""
    include, exclude = block.get("include"), block.get("exclude")
    # A list beside a mapping that selects something (even an empty list: it selects
    # nothing, and the mapping would be ignored).
    listed, other = (include, exclude) if isinstance(include, list) else (exclude, include)
    if isinstance(listed, list) and not isinstance(other, list) and _given(other):
        raise vol.Invalid(
            "write include and exclude both as lists of entity id globs (the older form) "
            "or both as entity filter mappings (domains, entities, entity_globs, devices, "
            "areas, attributes)",
            path=["exclude"],
        )
    return block


def _local_host() -> str:
    return slugify(socket.gethostname(), fallback="gatehouse")


POSITIVE = vol.All(vol.Coerce(float), vol.Range(min=0.001))
SECONDS = vol.All(vol.Coerce(float), vol.Range(min=0.01, max=86400))
AGE = vol.All(vol.Coerce(float), vol.Range(min=1, max=100 * 365 * 86400.0))

# --------------------------------------------------------------------------- connection

CONNECTION_FIELDS: dict[Any, Any] = {
    vol.Optional(CONF_NAME, default=DEFAULT_NAME): vol.All(str, vol.Length(min=1, max=64)),
    vol.Required(CONF_SERVERS): server_list,
    vol.Optional(CONF_USER): str,
    vol.Optional(CONF_PASSWORD, description=_SECRET): str,
    vol.Optional(CONF_TOKEN, description=_SECRET): str,
    vol.Optional(CONF_NKEY_SEED, description=_SECRET): str,
    vol.Optional(CONF_CREDS_FILE): str,
    vol.Optional(CONF_TLS, default=False): bool,
    vol.Optional(CONF_TLS_CA): str,
    vol.Optional(CONF_TLS_CERT): str,
    vol.Optional(CONF_TLS_KEY): str,
    vol.Optional(CONF_INSECURE, default=False): bool,
}

TUNING_FIELDS: dict[Any, Any] = {
    vol.Optional(CONF_TLS_HOSTNAME): str,
    vol.Optional(CONF_CLIENT_NAME): str,
    vol.Optional(CONF_CONNECT_TIMEOUT, default=DEFAULT_CONNECT_TIMEOUT): SECONDS,
    vol.Optional(CONF_SETUP_TIMEOUT, default=DEFAULT_SETUP_TIMEOUT): SECONDS,
    vol.Optional(CONF_MAX_RECONNECT, default=-1): vol.All(vol.Coerce(int), vol.Range(min=-1)),
    vol.Optional(CONF_RECONNECT_WAIT, default=DEFAULT_RECONNECT_WAIT): SECONDS,
    vol.Optional(CONF_PING_INTERVAL, default=DEFAULT_PING_INTERVAL): SECONDS,
    vol.Optional(CONF_MAX_PINGS, default=DEFAULT_MAX_PINGS): vol.All(
        vol.Coerce(int), vol.Range(min=1)
    ),
}


def check_auth(config: dict[str, Any]) -> dict[str, Any]:
    """One way to authenticate; a password needs a user; a client cert needs its key."""
    ways = [
        k for k in (CONF_USER, CONF_TOKEN, CONF_NKEY_SEED, CONF_CREDS_FILE) if config.get(k)
    ]
    if len(ways) > 1:
        raise vol.Invalid(f"choose one way to authenticate, not {' and '.join(ways)}")
    if config.get(CONF_PASSWORD) and not config.get(CONF_USER):
        raise vol.Invalid("a password needs a user", path=[CONF_USER])
    if bool(config.get(CONF_TLS_CERT)) != bool(config.get(CONF_TLS_KEY)):
        raise vol.Invalid("tls_cert and tls_key go together", path=[CONF_TLS_CERT])
    return config


# --------------------------------------------------------------------------- parts

_VALUE_FIELDS: dict[Any, Any] = {
    vol.Optional("value_template"): str,
    vol.Optional("json_path"): json_path,
}


def one_value_source(config: dict[str, Any]) -> dict[str, Any]:
    """``value_template`` or ``json_path``, not both; the problem is put on the
    ``json_path`` field, so a form shows it there (``vol.Exclusive`` would name its
    group instead, which is no field)."""
    if "value_template" in config and "json_path" in config:
        raise vol.Invalid("value_template and json_path exclude each other", path=["json_path"])
    return config


_ENTITY_FIELDS: dict[Any, Any] = {
    vol.Required("name"): vol.All(str, vol.Length(min=1, max=128)),
    vol.Optional("unique_id"): str,
    vol.Optional("icon"): str,
    vol.Optional("device_class"): str,
}


def _message_schema(fields: dict[Any, Any]) -> Any:
    """An entity fed by messages: its ``fields`` plus where its value comes from."""
    return vol.All(vol.Schema({**fields, **_VALUE_FIELDS}), one_value_source)


SENSOR_SCHEMA = _message_schema(
    {
        **_ENTITY_FIELDS,
        vol.Required("subject"): subject,
        vol.Optional("queue"): str,
        vol.Optional("unit_of_measurement"): str,
        vol.Optional("state_class"): str,
    }
)

BINARY_SENSOR_SCHEMA = _message_schema(
    {
        **_ENTITY_FIELDS,
        vol.Required("subject"): subject,
        vol.Optional("queue"): str,
        vol.Optional("payload_on", default="ON"): str,
        vol.Optional("payload_off", default="OFF"): str,
    }
)

STREAM_SCHEMA = vol.Schema(
    {
        vol.Required("name"): name_token,
        vol.Required("subjects"): vol.All([subject], vol.Length(min=1)),
        vol.Optional("retention", default="limits"): vol.In(["limits", "interest", "workqueue"]),
        vol.Optional("storage", default="file"): vol.In(["file", "memory"]),
        vol.Optional("replicas", default=1): vol.All(vol.Coerce(int), vol.Range(min=1, max=5)),
        vol.Optional("max_age"): AGE,
        vol.Optional("max_msgs"): vol.All(vol.Coerce(int), vol.Range(min=1)),
        vol.Optional("max_bytes"): vol.All(vol.Coerce(int), vol.Range(min=1)),
        vol.Optional("duplicate_window", default=120.0): SECONDS,
        # All-or-nothing batches keep the outbox's order even when a connection drops
        # mid-batch (nats-server 2.12+); off, publishes are pipelined one by one.
        vol.Optional("atomic_publish", default=True): bool,
    }
)

CONSUMER_SCHEMA = _message_schema(
    {
        vol.Required("name"): vol.All(str, vol.Length(min=1, max=128)),
        vol.Required("stream"): name_token,
        vol.Optional("durable"): name_token,
        vol.Optional("filter_subject"): subject,
        vol.Optional("mode", default="pull"): vol.In(["pull", "push"]),
        vol.Optional("target", default="sensor"): vol.In(["sensor", "binary_sensor", "event"]),
        vol.Optional("event_type", default=EVENT_NATS_MESSAGE): vol.All(str, vol.Length(min=1)),
        vol.Optional("unique_id"): str,
        vol.Optional("icon"): str,
        vol.Optional("device_class"): str,
        vol.Optional("unit_of_measurement"): str,
        vol.Optional("state_class"): str,
        vol.Optional("payload_on", default="ON"): str,
        vol.Optional("payload_off", default="OFF"): str,
        vol.Optional("batch", default=100): vol.All(vol.Coerce(int), vol.Range(min=1, max=1000)),
        vol.Optional("ack_wait", default=30.0): SECONDS,
        vol.Optional("fetch_timeout", default=2.0): SECONDS,
    }
)

KV_SCHEMA = vol.All(vol.Schema(
    {
        vol.Required("bucket"): name_token,
        vol.Optional("include", default=dict): _selection,
        vol.Optional("exclude", default=dict): _selection,
        vol.Optional("replicas", default=1): vol.All(vol.Coerce(int), vol.Range(min=1, max=5)),
        vol.Optional("history", default=1): vol.All(vol.Coerce(int), vol.Range(min=1, max=64)),
        vol.Optional("storage", default="file"): vol.In(["file", "memory"]),
    }
), _same_form)

FLEET_SCHEMA = vol.All(vol.Schema(
    {
        vol.Required("site"): subject_token,
        vol.Optional("host", default=_local_host): subject_token,
        vol.Optional("stream"): name_token,
        vol.Optional("replicas", default=1): vol.All(vol.Coerce(int), vol.Range(min=1, max=5)),
        vol.Optional("max_age", default=7 * 86400.0): AGE,
        vol.Optional("forward_states", default=True): bool,
        vol.Optional("include", default=dict): _selection,
        vol.Optional("exclude", default=dict): _selection,
        vol.Optional("events", default=list): [vol.All(str, vol.Length(min=1))],
        vol.Optional("import", default=True): bool,
        vol.Optional("hosts"): [subject_token],
        vol.Optional("durable"): name_token,
    }
), _same_form)

#: The shared ``outbox:`` block with the defaults this integration always had (a quick
#: first retry, a breaker that opens after 5 failures and probes every 10 s); an atomic
#: batch holds at most 1000 messages (a server limit).
OUTBOX_SCHEMA: Final = outbox_schema(
    max_batch_size=1000,
    retry_initial=0.1,
    retry_max=10.0,
    breaker_threshold=5,
    breaker_reset=10.0,
)

_warned_ack_timeout: set[str] = set()


def move_ack_timeout(value: Any) -> Any:
    """``outbox: {ack_timeout: x}`` (the old spelling) → ``ack_timeout: x``.

    A top-level ``ack_timeout`` given as well wins. The warning is logged once per
    entry name: the schema runs at every YAML check, set-up and reload.
    """
    if not isinstance(value, Mapping):
        return value
    block = value.get(CONF_OUTBOX)
    if not isinstance(block, Mapping) or CONF_ACK_TIMEOUT not in block:
        return value
    moved = {**value, CONF_OUTBOX: {k: v for k, v in block.items() if k != CONF_ACK_TIMEOUT}}
    moved.setdefault(CONF_ACK_TIMEOUT, block[CONF_ACK_TIMEOUT])
    name = str(value.get(CONF_NAME, DEFAULT_NAME))
    if name not in _warned_ack_timeout:
        _warned_ack_timeout.add(name)
        _LOGGER.warning(
            "NATS %s: 'outbox: {ack_timeout: ...}' is deprecated; write 'ack_timeout: %s' "
            "at the top of the entry instead",
            name,
            block[CONF_ACK_TIMEOUT],
        )
    return moved


def _unique_names(key: str) -> Any:
    def check(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        seen: set[str] = set()
        for item in items:
            name = slugify(str(item[key]))
            if name in seen:
                raise vol.Invalid(f"two items named {item[key]!r}")
            seen.add(name)
        return items

    return check


ENTRY_FIELDS: dict[Any, Any] = {
    **CONNECTION_FIELDS,
    **TUNING_FIELDS,
    vol.Optional(CONF_SENSORS, default=list): [SENSOR_SCHEMA],
    vol.Optional(CONF_BINARY_SENSORS, default=list): [BINARY_SENSOR_SCHEMA],
    vol.Optional(CONF_STREAMS, default=list): vol.All([STREAM_SCHEMA], _unique_names("name")),
    vol.Optional(CONF_CONSUMERS, default=list): vol.All(
        [CONSUMER_SCHEMA], _unique_names("name")
    ),
    vol.Optional(CONF_KV): KV_SCHEMA,
    vol.Optional(CONF_FLEET): FLEET_SCHEMA,
    vol.Optional(CONF_OUTBOX, default=dict): OUTBOX_SCHEMA,
    vol.Optional(CONF_ACK_TIMEOUT, default=DEFAULT_ACK_TIMEOUT): SECONDS,
}

#: One ``nats:`` connection, fully validated with defaults.
ENTRY_SCHEMA = vol.All(move_ack_timeout, vol.Schema(ENTRY_FIELDS), check_auth)

#: ``nats:`` in configuration.yaml: one connection or a list of them (unique names).
CONFIG_SCHEMA = vol.Any(
    vol.All([ENTRY_SCHEMA], vol.Length(min=1), _unique_names(CONF_NAME)), ENTRY_SCHEMA
)

#: The config flow's form: the connection only.
USER_STEP_SCHEMA = vol.Schema(CONNECTION_FIELDS)

#: How an entry's options lay over its data: the options flow adds subject entities.
OPTIONS_LAYOUT: Final = OptionsLayout(lists=(CONF_SENSORS, CONF_BINARY_SENSORS))
