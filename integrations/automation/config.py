"""Schemas: the ``automation:`` section and one automation (in the newer syntax, after
``normalize_automation`` has rewritten the older one).

The section schema checks only the shape (a list, ``!include automations.yaml`` or
nothing): each automation is checked on its own when the integration loads, so a
mistake in one leaves the others running and is shown on that automation, with its
file and line, as Home Assistant does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import voluptuous as vol

from gatehouse.integrations.script.api import RUN_FIELDS

from .const import CONF_ALIAS, CONF_ID, CONF_INITIAL_STATE, CONF_TRIGGER_VARIABLES


def _section(value: Any) -> Any:
    if value is None or isinstance(value, list) or (isinstance(value, Mapping) and not value):
        return value
    if isinstance(value, Mapping):
        return [value]  # one automation written as a mapping
    raise vol.Invalid("expected a list of automations (or !include automations.yaml)")


#: ``automation:`` in configuration.yaml.
CONFIG_SCHEMA = vol.Schema(_section)

AUTOMATION_SCHEMA = vol.Schema(
    {
        vol.Optional(CONF_ID): vol.Coerce(str),
        vol.Optional(CONF_ALIAS): vol.Coerce(str),
        vol.Optional("description"): str,
        vol.Optional(CONF_INITIAL_STATE): bool,
        vol.Optional("hide_entity"): bool,
        vol.Optional(CONF_TRIGGER_VARIABLES, default=dict): dict,
        vol.Required("triggers"): vol.All(list, vol.Length(min=1, msg="needs a trigger")),
        vol.Optional("conditions", default=list): list,
        vol.Required("actions"): list,
        **RUN_FIELDS,
    }
)
