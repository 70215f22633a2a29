"""The UI's flows: one template sensor or binary sensor per entry, from a form, and its
options (the state template, unit and device class edited later; the entry reloads).

The form has the type, a name, the state template and (sensors) a unit and device
class; the WebSocket command ``template/preview`` (``preview.py``) shows the result
live while it is filled in. A template that does not compile is refused with the
error, line included, under ``state``.
"""

from __future__ import annotations

from typing import Any

import voluptuous as vol

from gatehouse.core import ConfigFlow, FlowResult, OptionsFlow
from gatehouse.core.helpers import check_template

from .config import USER_STEP_SCHEMA
from .const import CONF_BLOCKS, CONF_DEVICE_CLASS, CONF_NAME, CONF_STATE, CONF_UNIT


class TemplateConfigFlow(ConfigFlow):
    async def step_user(self, user_input: dict[str, Any] | None) -> FlowResult:
        if user_input is None:
            return self.show_form(step_id="user", data_schema=USER_STEP_SCHEMA)
        problem = check_template(self.host, user_input[CONF_STATE])
        if problem is not None:
            return self.show_form(step_id="user", data_schema=USER_STEP_SCHEMA,
                                  errors={CONF_STATE: problem})
        return self.create_entry(title=user_input[CONF_NAME], data=user_input)


class TemplateOptionsFlow(OptionsFlow):
    """Edit a UI-made template entity; the YAML section is edited in its file."""

    async def step_init(self, user_input: dict[str, Any] | None) -> FlowResult:
        if CONF_BLOCKS in self.entry.data:
            return self.abort("yaml_managed")
        current = {**self.entry.data, **self.entry.options}
        schema = vol.Schema({
            vol.Required(CONF_STATE, default=current[CONF_STATE]): vol.All(
                str, vol.Length(min=1, max=65_536)),
            vol.Optional(CONF_UNIT, default=current.get(CONF_UNIT) or ""): str,
            vol.Optional(CONF_DEVICE_CLASS, default=current.get(CONF_DEVICE_CLASS) or ""): str,
        })
        if user_input is None:
            return self.show_form(step_id="init", data_schema=schema)
        problem = check_template(self.host, user_input[CONF_STATE])
        if problem is not None:
            return self.show_form(step_id="init", data_schema=schema,
                                  errors={CONF_STATE: problem})
        return self.create_entry(data={key: value for key, value in user_input.items()
                                       if value != ""})
