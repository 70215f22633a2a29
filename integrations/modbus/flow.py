"""The config flow: add a TCP or RTU-over-TCP hub from the web UI (one form).

The form only collects the connection. Before creating the entry the flow opens the
connection once, so a typo in the host shows up on the form, not as a retrying entry.

The options flow adds and removes points: a menu (``init``: add a point, remove one,
done), a platform choice (``add_point``), the point's form (``point``: the fields of the
YAML point schema, checked by that same schema) and ``remove_point``. Points added here
are stored in ``entry.options`` under the YAML keys (``sensors``, ``switches``...);
``setup_entry`` adds them to the entry's own (YAML or flow) points by the same
``config.OPTIONS_LAYOUT`` this flow reads its lists with. Changes pile up
until "done", which saves them and reloads the entry once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import voluptuous as vol

from gatehouse.core import ConfigEntry, ConfigFlow, FlowResult, MenuOptionsFlow
from gatehouse.core.helpers import form_errors, slugify

from .client import HubParams, ModbusHub
from .config import (
    OPTIONS_LAYOUT,
    PLATFORM_KEYS,
    PLATFORM_SCHEMAS,
    USER_STEP_SCHEMA,
    plain_point,
    point_form_schema,
)
from .const import (
    CONF_HOST,
    CONF_NAME,
    CONF_PORT,
    CONF_TIMEOUT,
    CONF_TYPE,
    CONF_UNIQUE_ID,
    HubType,
)
from .errors import ModbusConnectionError


class ModbusConfigFlow(ConfigFlow):
    VERSION = 1
    NAME_FIELD = CONF_NAME  # a name in use is a field error, not an abort

    async def step_user(self, user_input: dict[str, Any] | None) -> FlowResult:
        if user_input is None:
            return self.show_form(step_id="user", data_schema=USER_STEP_SCHEMA)
        errors = self.name_errors(user_input)
        if errors:
            return self.show_form(step_id="user", data_schema=USER_STEP_SCHEMA, errors=errors)
        await self.set_unique_id(slugify(user_input[CONF_NAME]))
        if not await _can_connect(user_input):
            return self.show_form(
                step_id="user", data_schema=USER_STEP_SCHEMA, errors={"base": "cannot_connect"}
            )
        return self.create_entry(title=user_input[CONF_NAME], data=user_input)


async def _can_connect(data: dict[str, Any]) -> bool:
    hub = ModbusHub(
        HubParams(
            name=data[CONF_NAME],
            hub_type=HubType(data[CONF_TYPE]),
            host=data[CONF_HOST],
            port=int(data[CONF_PORT]),
            timeout=float(data[CONF_TIMEOUT]),
        )
    )
    try:
        await hub.connect()
    except ModbusConnectionError:
        return False
    finally:
        await hub.close()
    return True


ACTION_ADD = "add_point"
ACTION_REMOVE = "remove_point"
CONF_POINT_PLATFORM = "platform"

PLATFORM_STEP_SCHEMA = vol.Schema(
    {vol.Required(CONF_POINT_PLATFORM, default="sensor"): vol.In(list(PLATFORM_KEYS))}
)


class ModbusOptionsFlow(MenuOptionsFlow):
    """Add and remove the hub's points from the web UI (stored in ``entry.options``)."""

    def __init__(self, entry: ConfigEntry[Any]) -> None:
        super().__init__(entry)
        self._points: dict[str, list[dict[str, Any]]] = {
            key: [dict(p) for p in entry.options.get(key, [])] for key in OPTIONS_LAYOUT.lists
        }
        self._other = {k: v for k, v in entry.options.items() if k not in self._points}
        self._platform = "sensor"

    # -- steps ----------------------------------------------------------------------------

    def actions(self) -> list[str]:
        return [ACTION_ADD, *([ACTION_REMOVE] if self._ui_names() else [])]

    def summary(self) -> dict[str, Any]:
        # YAML points are listed too (read-only: the YAML is where they change), so the
        # menu shows everything the hub polls, not only what this form may edit.
        yaml_points = [
            f"{p[CONF_NAME]} ({key}, YAML, read-only)"
            for key in OPTIONS_LAYOUT.lists for p in self.entry.data.get(key) or []
        ]
        return {"points": ", ".join(self._ui_names()) or "-",
                "yaml_points": ", ".join(yaml_points) or "-"}

    def finish(self) -> dict[str, Any]:
        return {**self._other, **{k: v for k, v in self._points.items() if v}}

    async def step_add_point(self, user_input: dict[str, Any] | None) -> FlowResult:
        if user_input is None:
            return self.show_form(step_id="add_point", data_schema=PLATFORM_STEP_SCHEMA)
        self._platform = user_input[CONF_POINT_PLATFORM]
        return self.show_form(step_id="point", data_schema=point_form_schema(self._platform))

    async def step_point(self, user_input: dict[str, Any] | None) -> FlowResult:
        form = point_form_schema(self._platform)
        if user_input is None:
            return self.show_form(step_id="point", data_schema=form)
        key = PLATFORM_KEYS[self._platform]
        errors: dict[str, str] = {}
        try:
            # The YAML's schema, so a point means the same whichever way it came.
            point = PLATFORM_SCHEMAS[key](dict(user_input))
        except vol.Invalid as err:
            errors = form_errors(err, fields=form)
        errors.update(self.input_errors("point", user_input))  # every problem at once
        if errors:
            return self.show_form(step_id="point", data_schema=form, errors=errors)
        self._points[key].append(plain_point(point))
        return self.menu()

    async def step_remove_point(self, user_input: dict[str, Any] | None) -> FlowResult:
        schema = self._remove_schema()
        if user_input is None:
            return self.show_form(step_id="remove_point", data_schema=schema)
        name = user_input[CONF_NAME]
        for key, points in self._points.items():
            self._points[key] = [p for p in points if p[CONF_NAME] != name]
        return self.menu()

    def input_errors(self, step_id: str, user_input: Mapping[str, Any]) -> dict[str, str]:
        """A point name in use, also when the form's schema refused something else."""
        name = user_input.get(CONF_NAME)
        if step_id == "point" and isinstance(name, str) and name in self._names():
            return {CONF_NAME: f"this hub already has a point named {name!r}"}
        return {}

    # -- helpers --------------------------------------------------------------------------

    def _remove_schema(self) -> vol.Schema:
        return vol.Schema({vol.Required(CONF_NAME): vol.In(self._ui_names())})

    def _ui_names(self) -> list[str]:
        """Points added in the UI (those in YAML are removed by editing the YAML)."""
        return [p[CONF_NAME] for points in self._points.values() for p in points]

    def _names(self) -> set[str]:
        """Every name (and unique_id) in use on the hub, whichever way it was added."""
        points = [*self._points.values()]
        points += [self.entry.data.get(key) or [] for key in OPTIONS_LAYOUT.lists]
        names: set[str] = set()
        for items in points:
            for p in items:
                names.add(p[CONF_NAME])
                if p.get(CONF_UNIQUE_ID):
                    names.add(p[CONF_UNIQUE_ID])
        return names

