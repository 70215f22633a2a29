"""Voluptuous schemas of schema_guard: the YAML section (rules, limits, quarantine).

One entry per host (the guard is what every transport asks), so the section is one
mapping. Rules are checked as a whole too: names and topic patterns are unique, a
Protocol Buffers rule names its schema and message type, a shadow needs a schema.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

import voluptuous as vol

from gatehouse.core.helpers import OptionsLayout, json_path, slugify

from .const import (
    ALLOW,
    CONF_ASSERT_FORMATS,
    CONF_BROKER,
    CONF_CA_CERTS,
    CONF_CERTFILE,
    CONF_CLIENT_ID,
    CONF_EGRESS,
    CONF_FORMAT,
    CONF_FROM,
    CONF_INGRESS,
    CONF_INLINE_MAX,
    CONF_KEEPALIVE,
    CONF_KEYFILE,
    CONF_MAX_AGE,
    CONF_MAX_BYTES,
    CONF_MAX_DEPTH,
    CONF_MAX_INFLIGHT,
    CONF_MAX_PENDING,
    CONF_MESSAGE,
    CONF_NAME,
    CONF_ON_INVALID,
    CONF_PASSWORD,
    CONF_PII,
    CONF_PORT,
    CONF_PROXY,
    CONF_QOS,
    CONF_QUARANTINE,
    CONF_RECEIVE_MAXIMUM,
    CONF_RELOAD_INTERVAL,
    CONF_REWRITE,
    CONF_RULES,
    CONF_SCHEMA,
    CONF_SCHEMA_DIR,
    CONF_SESSION_EXPIRY,
    CONF_SHADOW,
    CONF_STATS_INTERVAL,
    CONF_TLS,
    CONF_TO,
    CONF_TOPIC,
    CONF_TOPICS,
    CONF_UNMATCHED,
    CONF_USERNAME,
    CONF_VERSION,
    DEFAULT_INLINE_MAX,
    DEFAULT_MAX_AGE_DAYS,
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_PENDING,
    DEFAULT_NAME,
    DEFAULT_QUARANTINE_MAX_BYTES,
    DEFAULT_RELOAD_INTERVAL,
    DEFAULT_SCHEMA_DIR,
    DEFAULT_STATS_INTERVAL,
    DROP,
    FORMAT_BINARY,
    FORMAT_JSON,
    FORMAT_PROTOBUF,
    FORMAT_TEXT,
    QUARANTINE,
)
from .errors import RuleError
from .rules import TopicPattern

_SCHEMA_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_MESSAGE_NAME: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def topic_pattern(value: Any) -> str:
    if not isinstance(value, str):
        raise vol.Invalid("expected a topic pattern")
    try:
        TopicPattern.parse(value)
    except RuleError as err:
        raise vol.Invalid(str(err)) from None
    return value


def _rule(rule: dict[str, Any]) -> dict[str, Any]:
    rule = dict(rule)
    rule.setdefault(CONF_NAME, slugify(rule[CONF_TOPIC]) or "rule")
    if rule[CONF_FORMAT] == FORMAT_PROTOBUF:
        if CONF_SCHEMA not in rule or CONF_MESSAGE not in rule:
            raise vol.Invalid("a protobuf rule names its schema (descriptor set) and message")
    elif CONF_MESSAGE in rule:
        raise vol.Invalid("message is for protobuf rules")
    if CONF_SCHEMA in rule and rule[CONF_FORMAT] in (FORMAT_TEXT, FORMAT_BINARY):
        raise vol.Invalid(f"a {rule[CONF_FORMAT]} rule has no schema")
    if CONF_SCHEMA not in rule and (CONF_VERSION in rule or CONF_SHADOW in rule):
        raise vol.Invalid("version and shadow need a schema")
    return rule


RULE_SCHEMA: Final = vol.All(
    vol.Schema({
        vol.Required(CONF_TOPIC): topic_pattern,
        vol.Optional(CONF_NAME): vol.All(str, vol.Match(_SCHEMA_NAME)),
        vol.Optional(CONF_SCHEMA): vol.All(str, vol.Match(_SCHEMA_NAME)),
        vol.Optional(CONF_VERSION): vol.All(int, vol.Range(min=0)),
        vol.Optional(CONF_SHADOW): vol.Any(vol.All(int, vol.Range(min=0)), "latest"),
        vol.Optional(CONF_FORMAT, default=FORMAT_JSON): vol.In(
            [FORMAT_JSON, FORMAT_TEXT, FORMAT_BINARY, FORMAT_PROTOBUF]),
        vol.Optional(CONF_MESSAGE): vol.All(str, vol.Match(_MESSAGE_NAME)),
        vol.Optional(CONF_ON_INVALID, default=QUARANTINE): vol.In([QUARANTINE, DROP]),
        vol.Optional(CONF_ASSERT_FORMATS, default=False): bool,
        vol.Optional(CONF_MAX_BYTES): vol.All(int, vol.Range(min=1)),
        vol.Optional(CONF_PII, default=list): [json_path],
    }),
    _rule,
)

QUARANTINE_SCHEMA: Final = vol.Schema({
    vol.Optional(CONF_MAX_AGE, default=DEFAULT_MAX_AGE_DAYS): vol.All(
        vol.Coerce(float), vol.Range(min=0.0001)),
    vol.Optional(CONF_MAX_BYTES, default=DEFAULT_QUARANTINE_MAX_BYTES): vol.All(
        int, vol.Range(min=1024)),
    vol.Optional(CONF_INLINE_MAX, default=DEFAULT_INLINE_MAX): vol.All(
        int, vol.Range(min=256, max=16 * 1024 * 1024)),
    vol.Optional(CONF_MAX_PENDING, default=DEFAULT_MAX_PENDING): vol.All(
        int, vol.Range(min=1, max=1_000_000)),
})


def _unique(config: dict[str, Any]) -> dict[str, Any]:
    names: set[str] = set()
    topics: set[str] = set()
    for rule in config[CONF_RULES]:
        if rule[CONF_NAME] in names:
            raise vol.Invalid(f"rule name {rule[CONF_NAME]!r} is used twice", [CONF_RULES])
        if rule[CONF_TOPIC] in topics:
            raise vol.Invalid(f"topic pattern {rule[CONF_TOPIC]!r} is used twice",
                              [CONF_RULES])
        names.add(rule[CONF_NAME])
        topics.add(rule[CONF_TOPIC])
    return config


def _filter(value: Any) -> str:
    """An MQTT subscription filter (``+`` a whole level, ``#`` last)."""
    if not isinstance(value, str) or not value or len(value.encode()) > 65535:
        raise vol.Invalid("expected an MQTT topic filter")
    levels = value.split("/")
    for i, level in enumerate(levels):
        if ("+" in level and level != "+") or ("#" in level and (
                level != "#" or i != len(levels) - 1)):
            raise vol.Invalid(f"invalid MQTT topic filter {value!r}")
    return value


def _prefix(value: Any) -> str:
    if not isinstance(value, str) or "+" in value or "#" in value or "\0" in value:
        raise vol.Invalid("expected a topic prefix (no wildcards)")
    return value


_TLS_SCHEMA: Final = vol.Schema({
    vol.Optional(CONF_CA_CERTS): str,
    vol.Optional(CONF_CERTFILE): str,
    vol.Optional(CONF_KEYFILE): str,
})

_ENDPOINT_FIELDS: Final[Mapping[Any, Any]] = {
    vol.Required(CONF_BROKER): vol.All(str, vol.Length(min=1)),
    vol.Optional(CONF_PORT): vol.All(int, vol.Range(min=1, max=65535)),
    vol.Optional(CONF_USERNAME): str,
    vol.Optional(CONF_PASSWORD): str,
    vol.Optional(CONF_CLIENT_ID): vol.All(str, vol.Length(min=1, max=128)),
    vol.Optional(CONF_KEEPALIVE, default=30): vol.All(int, vol.Range(min=5, max=3600)),
    vol.Optional(CONF_TLS): vol.Any(bool, _TLS_SCHEMA),
}

INGRESS_SCHEMA: Final = vol.Schema({
    **_ENDPOINT_FIELDS,
    vol.Required(CONF_TOPICS): vol.All([_filter], vol.Length(min=1)),
    # 2: QoS kept as published (see proxy.py for its one crash window)
    vol.Optional(CONF_QOS, default=2): vol.In([0, 1, 2]),
    vol.Optional(CONF_SESSION_EXPIRY, default=86400): vol.All(int, vol.Range(min=1)),
    vol.Optional(CONF_RECEIVE_MAXIMUM, default=1000): vol.All(int, vol.Range(min=1,
                                                                              max=65535)),
})

EGRESS_SCHEMA: Final = vol.Schema({
    **_ENDPOINT_FIELDS,
    vol.Optional(CONF_MAX_INFLIGHT, default=1000): vol.All(int, vol.Range(min=1,
                                                                          max=65535)),
})

REWRITE_SCHEMA: Final = vol.Schema({
    vol.Required(CONF_FROM): _prefix,
    vol.Required(CONF_TO): _prefix,
})


def _proxy(proxy: dict[str, Any]) -> dict[str, Any]:
    """Without ``egress`` the proxy writes back to the ingress broker (topic prefix
    mode, with the ingress credentials and TLS); then a rewrite must move every message
    away from what the proxy subscribes, or it would read its own output."""
    ingress = proxy[CONF_INGRESS]
    if CONF_EGRESS in proxy:
        return proxy
    egress = EGRESS_SCHEMA({k: ingress[k] for k in (
        CONF_BROKER, CONF_PORT, CONF_USERNAME, CONF_PASSWORD, CONF_KEEPALIVE, CONF_TLS,
    ) if k in ingress})
    if not proxy[CONF_REWRITE]:
        raise vol.Invalid("without an egress broker the proxy writes back to the ingress "
                          "broker: a rewrite is required", [CONF_REWRITE])
    for rule in proxy[CONF_REWRITE]:
        target = (rule[CONF_TO] + "x").split("/")
        for topic_filter in ingress[CONF_TOPICS]:
            if TopicPattern.parse(topic_filter).match(target):
                raise vol.Invalid(
                    f"rewrite to {rule[CONF_TO]!r} lands on the ingress filter "
                    f"{topic_filter!r} of the same broker (the proxy would read its own "
                    "output)", [CONF_REWRITE])
    return {**proxy, CONF_EGRESS: egress}


PROXY_SCHEMA: Final = vol.All(
    vol.Schema({
        vol.Required(CONF_INGRESS): INGRESS_SCHEMA,
        vol.Optional(CONF_EGRESS): EGRESS_SCHEMA,
        vol.Optional(CONF_REWRITE, default=list): [REWRITE_SCHEMA],
    }),
    _proxy,
)


ENTRY_FIELDS: Final[Mapping[Any, Any]] = {
    vol.Optional(CONF_NAME, default=DEFAULT_NAME): vol.All(str, vol.Length(min=1, max=64)),
    vol.Optional(CONF_SCHEMA_DIR, default=DEFAULT_SCHEMA_DIR): vol.All(str, vol.Length(min=1)),
    vol.Optional(CONF_UNMATCHED, default=ALLOW): vol.In([ALLOW, QUARANTINE, DROP]),
    vol.Optional(CONF_MAX_BYTES, default=DEFAULT_MAX_BYTES): vol.All(
        int, vol.Range(min=16, max=64 * 1024 * 1024)),
    vol.Optional(CONF_MAX_DEPTH, default=DEFAULT_MAX_DEPTH): vol.All(
        int, vol.Range(min=1, max=200)),
    vol.Optional(CONF_RELOAD_INTERVAL, default=DEFAULT_RELOAD_INTERVAL): vol.All(
        vol.Coerce(float), vol.Range(min=0.05, max=3600)),
    vol.Optional(CONF_STATS_INTERVAL, default=DEFAULT_STATS_INTERVAL): vol.All(
        vol.Coerce(float), vol.Range(min=0.05, max=3600)),
    vol.Optional(CONF_PII, default=list): [json_path],
    vol.Optional(CONF_RULES, default=list): [RULE_SCHEMA],
    vol.Optional(CONF_QUARANTINE, default=dict): QUARANTINE_SCHEMA,
    vol.Optional(CONF_PROXY): PROXY_SCHEMA,
}

#: ``schema_guard:`` in configuration.yaml: one mapping (one guard per host).
ENTRY_SCHEMA: Final = vol.All(vol.Schema(ENTRY_FIELDS), _unique)
CONFIG_SCHEMA: Final = ENTRY_SCHEMA

#: The browser's form: the name and the unmatched policy; rules live in YAML (phase 1).
USER_STEP_SCHEMA: Final = vol.Schema({
    vol.Optional(CONF_NAME, default=DEFAULT_NAME): vol.All(str, vol.Length(min=1, max=64)),
    vol.Optional(CONF_UNMATCHED, default=ALLOW): vol.In([ALLOW, QUARANTINE, DROP]),
})

#: Options replace the unmatched policy and the limits; rules are added in YAML.
OPTIONS_LAYOUT: Final = OptionsLayout(
    settings=(CONF_UNMATCHED, CONF_MAX_BYTES, CONF_MAX_DEPTH, CONF_RELOAD_INTERVAL),
)
OPTIONS_SCHEMA: Final = vol.Schema({
    vol.Optional(CONF_UNMATCHED): vol.In([ALLOW, QUARANTINE, DROP]),
})
