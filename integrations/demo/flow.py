"""Config and options flows of the demo: one form each."""

from __future__ import annotations

from typing import Any

from gatehouse.core import ConfigFlow, FlowResult, OptionsFlow
from gatehouse.core.helpers import slugify

from .config import OPTIONS_SCHEMA, USER_STEP_SCHEMA
from .const import CONF_NAME, CONF_UPDATE_INTERVAL


class DemoConfigFlow(ConfigFlow):
    NAME_FIELD = CONF_NAME  # a name in use is a field error, not an abort

    async def step_user(self, user_input: dict[str, Any] | None) -> FlowResult:
        if user_input is None:
            return self.show_form(step_id="user", data_schema=USER_STEP_SCHEMA)
        errors = self.name_errors(user_input)
        if errors:
            return self.show_form(step_id="user", data_schema=USER_STEP_SCHEMA, errors=errors)
        await self.set_unique_id(slugify(user_input[CONF_NAME]))
        return self.create_entry(title=user_input[CONF_NAME], data=user_input)


class DemoOptionsFlow(OptionsFlow):
    async def step_init(self, user_input: dict[str, Any] | None) -> FlowResult:
        if user_input is None:
            return self.show_form(step_id="init", data_schema=OPTIONS_SCHEMA)
        return self.create_entry(data={CONF_UPDATE_INTERVAL: user_input[CONF_UPDATE_INTERVAL]})
