"""Schema of the ``simulator:`` YAML section: one simulated plant, or a list of them.

Each plant is a ``ProcessModel`` served over Modbus TCP (always) and OPC UA (when an
``opcua`` block is given). Defaults listen on loopback only: a simulator is a test
fixture, and exposing it on a real network should be a deliberate choice.
"""

from __future__ import annotations

import voluptuous as vol

from .const import (
    CONF_HOST,
    CONF_NAME,
    CONF_OPCUA,
    CONF_PORT,
    CONF_SLAVES,
    CONF_STEP_INTERVAL,
    DEFAULT_HOST,
    DEFAULT_MODBUS_PORT,
    DEFAULT_NAME,
    DEFAULT_OPCUA_PORT,
    DEFAULT_STEP_INTERVAL,
)

PORT = vol.All(int, vol.Range(min=1, max=65535))

OPCUA_SCHEMA = vol.Schema(
    {
        vol.Optional(CONF_HOST): vol.All(str, vol.Length(min=1)),
        vol.Optional(CONF_PORT, default=DEFAULT_OPCUA_PORT): PORT,
    }
)

ENTRY_SCHEMA = vol.Schema(
    {
        vol.Optional(CONF_NAME, default=DEFAULT_NAME): vol.All(str, vol.Length(min=1, max=64)),
        vol.Optional(CONF_HOST, default=DEFAULT_HOST): vol.All(str, vol.Length(min=1)),
        vol.Optional(CONF_PORT, default=DEFAULT_MODBUS_PORT): PORT,
        vol.Optional(CONF_SLAVES, default=1): vol.All(int, vol.Range(min=1, max=247)),
        vol.Optional(CONF_STEP_INTERVAL, default=DEFAULT_STEP_INTERVAL): vol.All(
            vol.Coerce(float), vol.Range(min=0.01, max=3600)
        ),
        vol.Optional(CONF_OPCUA): vol.Any(None, OPCUA_SCHEMA),
    }
)

CONFIG_SCHEMA = vol.Any(vol.All([ENTRY_SCHEMA], vol.Length(min=1)), ENTRY_SCHEMA)
