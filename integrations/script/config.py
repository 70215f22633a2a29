"""Schemas: the ``script:`` section, one script, and the run options both domains share.

The section schema only checks the shape (a mapping of scripts, or nothing): each
script is checked on its own when the integration loads (``SCRIPT_SCHEMA``), so that
one mistake leaves the other scripts working, and the problem is shown on the item
(with its file and line) instead of disabling the whole section.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import voluptuous as vol

from gatehouse.core.helpers import YamlInput

from .const import (
    CONF_ALIAS,
    CONF_DESCRIPTION,
    CONF_FIELDS,
    CONF_ICON,
    CONF_MAX,
    CONF_MAX_EXCEEDED,
    CONF_MODE,
    CONF_SEQUENCE,
    CONF_TRACE,
    CONF_USE_BLUEPRINT,
    CONF_VARIABLES,
    DEFAULT_MAX,
    DEFAULT_STORED_TRACES,
    MODES,
)


def _section(value: Any) -> Any:
    if value is None or isinstance(value, (Mapping, list)):
        return value
    raise vol.Invalid("expected a mapping of scripts (or !include scripts.yaml)")


#: ``script:`` in configuration.yaml (also ``!include scripts.yaml``, or empty).
CONFIG_SCHEMA = vol.Schema(_section)

_LEVELS = vol.Any(vol.All(str, vol.Lower, vol.In(
    ["silent", "debug", "info", "warning", "error", "critical"])))

#: The run options of a script or an automation (Home Assistant's names).
RUN_FIELDS: dict[Any, Any] = {
    vol.Optional(CONF_MODE, default="single"): vol.In(MODES),
    vol.Optional(CONF_MAX, default=DEFAULT_MAX): vol.All(int, vol.Range(min=1, max=10_000)),
    vol.Optional(CONF_MAX_EXCEEDED, default="warning"): _LEVELS,
    vol.Optional(CONF_VARIABLES, default=dict): dict,
    vol.Optional(CONF_TRACE, default=dict): {
        vol.Optional("stored_traces", default=DEFAULT_STORED_TRACES): vol.All(
            int, vol.Range(min=0, max=1000)),
    },
}

SCRIPT_SCHEMA = vol.Schema(
    {
        vol.Optional(CONF_ALIAS): str,
        vol.Optional(CONF_DESCRIPTION): str,
        vol.Optional(CONF_ICON): str,
        vol.Optional(CONF_FIELDS, default=dict): {str: vol.Any(None, dict)},
        vol.Required(CONF_SEQUENCE): vol.Any(list, dict),
        **RUN_FIELDS,
    }
)

USE_BLUEPRINT_SCHEMA = vol.Schema(
    {vol.Required("path"): str, vol.Optional("input", default=dict): dict})


def has_inputs(value: Any) -> bool:
    if isinstance(value, YamlInput):
        return True
    if isinstance(value, Mapping):
        return any(has_inputs(v) for v in value.values())
    if isinstance(value, list):
        return any(has_inputs(v) for v in value)
    return False


__all__ = ["CONFIG_SCHEMA", "CONF_USE_BLUEPRINT", "RUN_FIELDS", "SCRIPT_SCHEMA",
           "USE_BLUEPRINT_SCHEMA", "has_inputs"]
