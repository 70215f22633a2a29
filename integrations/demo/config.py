"""Voluptuous schemas of the demo integration: YAML section, flow form, options form.

The YAML section and the config flow accept the same fields, so an entry made in the
browser and one made in ``configuration.yaml`` are the same thing.
"""

from __future__ import annotations

import voluptuous as vol

from .const import (
    CONF_AMPLITUDE,
    CONF_NAME,
    CONF_SINE_PERIOD,
    CONF_UPDATE_INTERVAL,
    DEFAULT_AMPLITUDE,
    DEFAULT_NAME,
    DEFAULT_SINE_PERIOD,
    DEFAULT_UPDATE_INTERVAL,
)

INTERVAL = vol.All(vol.Coerce(float), vol.Range(min=0.01, max=3600))

ENTRY_FIELDS = {
    vol.Optional(CONF_NAME, default=DEFAULT_NAME): vol.All(str, vol.Length(min=1, max=64)),
    vol.Optional(CONF_UPDATE_INTERVAL, default=DEFAULT_UPDATE_INTERVAL): INTERVAL,
    vol.Optional(CONF_SINE_PERIOD, default=DEFAULT_SINE_PERIOD): vol.All(
        vol.Coerce(float), vol.Range(min=1, max=86400)
    ),
    vol.Optional(CONF_AMPLITUDE, default=DEFAULT_AMPLITUDE): vol.Coerce(float),
}

#: ``demo:`` in configuration.yaml: one demo device, or a list of them.
ENTRY_SCHEMA = vol.Schema(ENTRY_FIELDS)
CONFIG_SCHEMA = vol.Any(vol.All([ENTRY_SCHEMA], vol.Length(min=1)), ENTRY_SCHEMA)

USER_STEP_SCHEMA = vol.Schema(ENTRY_FIELDS)

OPTIONS_SCHEMA = vol.Schema(
    {vol.Optional(CONF_UPDATE_INTERVAL, default=DEFAULT_UPDATE_INTERVAL): INTERVAL}
)
