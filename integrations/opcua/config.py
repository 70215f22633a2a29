"""Voluptuous schemas: the ``opcua:`` YAML section, the flow form, and node lists.

Validated data is stored in config entries as JSON, so validators check values but keep
plain types (a node id stays a string, written the canonical way ``nodeid.py`` prints).
``OPTIONS_LAYOUT`` says how the nodes added in the options flow join the entry's own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import voluptuous as vol

from gatehouse.core.helpers import OptionsLayout

from .const import (
    AUTH_ANONYMOUS,
    AUTH_CERTIFICATE,
    AUTH_METHODS,
    AUTH_USERNAME,
    CONF_AUTH,
    CONF_DEADBAND,
    CONF_DEADBAND_TYPE,
    CONF_DEVICE_CLASS,
    CONF_ENDPOINT,
    CONF_ICON,
    CONF_KEEPALIVE_INTERVAL,
    CONF_MAX,
    CONF_MIN,
    CONF_MODE,
    CONF_MONITOR,
    CONF_NAME,
    CONF_NODE,
    CONF_NODES,
    CONF_PASSWORD,
    CONF_PLATFORM,
    CONF_POLL_INTERVAL,
    CONF_PRECISION,
    CONF_PUBLISHING_INTERVAL,
    CONF_QUEUE_SIZE,
    CONF_RECONNECT_MAX_DELAY,
    CONF_REQUEST_TIMEOUT,
    CONF_SAMPLING_INTERVAL,
    CONF_SECURITY_MODE,
    CONF_SECURITY_POLICY,
    CONF_STATE_CLASS,
    CONF_STEP,
    CONF_TRUST_ON_FIRST_USE,
    CONF_UNIQUE_ID,
    CONF_UNIT,
    CONF_USER_CERTIFICATE,
    CONF_USER_PRIVATE_KEY,
    CONF_USERNAME,
    DEADBAND_ABSOLUTE,
    DEADBAND_PERCENT,
    DEFAULT_KEEPALIVE_INTERVAL,
    DEFAULT_NAME,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_PUBLISHING_INTERVAL,
    DEFAULT_QUEUE_SIZE,
    DEFAULT_RECONNECT_MAX_DELAY,
    DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_SAMPLING_INTERVAL,
    MODE_SIGN_AND_ENCRYPT,
    MONITOR_POLL,
    MONITOR_SUBSCRIBE,
    PLATFORMS,
    POLICY_NONE,
    SECURITY_MODES,
    SECURITY_POLICIES,
)
from .errors import OpcuaNodeError
from .nodeid import parse_node


def node_id(value: Any) -> str:
    """A node id string, checked and written canonically."""
    if not isinstance(value, str):
        raise vol.Invalid("expected a node id like 'nsu=urn:my:namespace;s=Tank.Level'")
    try:
        return str(parse_node(value))
    except OpcuaNodeError as err:
        raise vol.Invalid(str(err)) from err


def endpoint_url(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith("opc.tcp://"):
        raise vol.Invalid("expected an endpoint like 'opc.tcp://plc.local:4840'")
    return value.strip()


SECONDS = vol.All(vol.Coerce(float), vol.Range(min=0.0, max=86400))
ENTRY_NAME = vol.All(str, vol.Length(min=1, max=64))
NODE_NAME = vol.All(str, vol.Length(min=1, max=100))
POSITIVE_SECONDS = vol.All(vol.Coerce(float), vol.Range(min=0.01, max=86400))

NODE_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_NODE): node_id,
        vol.Required(CONF_PLATFORM): vol.In(PLATFORMS),
        vol.Optional(CONF_NAME): NODE_NAME,
        vol.Optional(CONF_UNIQUE_ID): vol.All(str, vol.Length(min=1)),
        vol.Optional(CONF_ICON): str,
        vol.Optional(CONF_UNIT): str,
        vol.Optional(CONF_DEVICE_CLASS): str,
        vol.Optional(CONF_STATE_CLASS): vol.In(["measurement", "total", "total_increasing"]),
        vol.Optional(CONF_PRECISION): vol.All(int, vol.Range(min=0, max=10)),
        vol.Optional(CONF_MIN): vol.Coerce(float),
        vol.Optional(CONF_MAX): vol.Coerce(float),
        vol.Optional(CONF_STEP): vol.All(vol.Coerce(float), vol.Range(min=0, min_included=False)),
        vol.Optional(CONF_MODE, default="auto"): vol.In(["auto", "box", "slider"]),
        vol.Optional(CONF_MONITOR, default=MONITOR_SUBSCRIBE): vol.In(
            [MONITOR_SUBSCRIBE, MONITOR_POLL]
        ),
        vol.Optional(CONF_SAMPLING_INTERVAL, default=DEFAULT_SAMPLING_INTERVAL): SECONDS,
        vol.Optional(CONF_DEADBAND, default=0.0): vol.All(vol.Coerce(float), vol.Range(min=0)),
        vol.Optional(CONF_DEADBAND_TYPE, default=DEADBAND_ABSOLUTE): vol.In(
            [DEADBAND_ABSOLUTE, DEADBAND_PERCENT]
        ),
        vol.Optional(CONF_QUEUE_SIZE, default=DEFAULT_QUEUE_SIZE): vol.All(
            int, vol.Range(min=0, max=10000)
        ),
        vol.Optional(CONF_POLL_INTERVAL, default=DEFAULT_POLL_INTERVAL): POSITIVE_SECONDS,
    }
)


def check_node(node: dict[str, Any]) -> dict[str, Any]:
    if node[CONF_DEADBAND_TYPE] == DEADBAND_PERCENT and node[CONF_DEADBAND] > 100:
        raise vol.Invalid("a percent deadband is at most 100", path=[CONF_DEADBAND])
    if CONF_MIN in node and CONF_MAX in node and node[CONF_MIN] >= node[CONF_MAX]:
        raise vol.Invalid("min must be below max", path=[CONF_MIN])
    return node


#: One node as YAML's ``nodes:`` list checks it; the options flow checks with it too.
NODE_ITEM_SCHEMA = vol.All(NODE_SCHEMA, check_node)


def node_identity(node: Mapping[str, Any]) -> tuple[str, str]:
    """What makes a node item unique in an entry: its platform and its ``unique_id``,
    else its node id (one node may be shown by two platforms, a sensor and a switch)."""
    return (node[CONF_PLATFORM], node.get(CONF_UNIQUE_ID) or node[CONF_NODE])


def unique_nodes(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """No two items of ``nodes`` with one identity; the error names the ``node`` field
    (the list's second such item is the one reported)."""
    seen: set[tuple[str, str]] = set()
    for node in nodes:
        key = node_identity(node)
        if key in seen:
            raise vol.Invalid(
                f"{node[CONF_NODE]} is configured twice as a {node[CONF_PLATFORM]}; "
                "give one of them a unique_id",
                path=[CONF_NODE],
            )
        seen.add(key)
    return nodes


CONNECTION_FIELDS: dict[Any, Any] = {
    vol.Required(CONF_ENDPOINT): endpoint_url,
    vol.Optional(CONF_SECURITY_POLICY, default=POLICY_NONE): vol.In(SECURITY_POLICIES),
    vol.Optional(CONF_SECURITY_MODE, default=MODE_SIGN_AND_ENCRYPT): vol.In(SECURITY_MODES),
    vol.Optional(CONF_AUTH, default=AUTH_ANONYMOUS): vol.In(AUTH_METHODS),
    vol.Optional(CONF_USERNAME): str,
    vol.Optional(CONF_PASSWORD, description={"secret": True}): str,
    vol.Optional(CONF_TRUST_ON_FIRST_USE, default=False): bool,
}

ENTRY_FIELDS: dict[Any, Any] = {
    vol.Optional(CONF_NAME, default=DEFAULT_NAME): ENTRY_NAME,
    **CONNECTION_FIELDS,
    vol.Optional(CONF_USER_CERTIFICATE): str,
    vol.Optional(CONF_USER_PRIVATE_KEY): str,
    vol.Optional(CONF_REQUEST_TIMEOUT, default=DEFAULT_REQUEST_TIMEOUT): POSITIVE_SECONDS,
    vol.Optional(CONF_KEEPALIVE_INTERVAL, default=DEFAULT_KEEPALIVE_INTERVAL): POSITIVE_SECONDS,
    vol.Optional(CONF_PUBLISHING_INTERVAL, default=DEFAULT_PUBLISHING_INTERVAL): POSITIVE_SECONDS,
    vol.Optional(CONF_RECONNECT_MAX_DELAY, default=DEFAULT_RECONNECT_MAX_DELAY): POSITIVE_SECONDS,
    vol.Optional(CONF_NODES, default=list): vol.All(
        [NODE_ITEM_SCHEMA], unique_nodes
    ),
}


def check_auth(data: dict[str, Any]) -> dict[str, Any]:
    """Fields that depend on each other: credentials for the chosen auth method."""
    if data[CONF_AUTH] == AUTH_USERNAME and not data.get(CONF_USERNAME):
        raise vol.Invalid("username authentication needs a username", path=[CONF_USERNAME])
    if data[CONF_AUTH] == AUTH_CERTIFICATE and bool(data.get(CONF_USER_CERTIFICATE)) != bool(
        data.get(CONF_USER_PRIVATE_KEY)
    ):
        raise vol.Invalid(
            "give both user_certificate and user_private_key, or neither (then the "
            "client's own certificate is the user identity)",
            path=[CONF_USER_CERTIFICATE],
        )
    return data


ENTRY_SCHEMA = vol.All(vol.Schema(ENTRY_FIELDS), check_auth)

#: ``opcua:`` in configuration.yaml: one server or a list of them.
CONFIG_SCHEMA = vol.Any(vol.All([ENTRY_SCHEMA], vol.Length(min=1)), ENTRY_SCHEMA)

#: The config flow's form: the connection only; nodes come from YAML or, later, a picker.
USER_STEP_SCHEMA = vol.Schema(
    {vol.Optional(CONF_NAME, default=DEFAULT_NAME): ENTRY_NAME,
     **CONNECTION_FIELDS}
)


#: The options flow's form to add one node: the YAML node fields, a name required (it is
#: how the node is shown and removed later), platform first.
NODE_FORM_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_NAME): NODE_NAME,
        vol.Required(CONF_PLATFORM, default="sensor"): vol.In(PLATFORMS),
        vol.Required(CONF_NODE): node_id,
        **{
            key: value
            for key, value in NODE_SCHEMA.schema.items()
            if key.schema not in (CONF_NAME, CONF_PLATFORM, CONF_NODE, CONF_UNIQUE_ID)
        },
    }
)


#: Nodes added in the options flow (``entry.options["nodes"]``) follow the entry's own;
#: one the YAML has too (same identity) is skipped with a warning: YAML wins.
OPTIONS_LAYOUT = OptionsLayout(lists=(CONF_NODES,), identity=node_identity)
