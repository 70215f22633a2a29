"""Config and options flows: one recorder per host; options: retention and interval."""

from __future__ import annotations

from typing import Any

import voluptuous as vol

from gatehouse.core import ConfigFlow, FlowResult, OptionsFlow

from .config import ENTRY_SCHEMA, TUNING_FIELDS, USER_STEP_SCHEMA
from .const import CONF_NAME, DOMAIN

OPTIONS_SCHEMA = vol.Schema(TUNING_FIELDS)


class RecorderConfigFlow(ConfigFlow):
    async def step_user(self, user_input: dict[str, Any] | None) -> FlowResult:
        if user_input is None:
            return self.show_form(step_id="user", data_schema=USER_STEP_SCHEMA)
        await self.set_unique_id(DOMAIN)
        self.abort_if_unique_id_configured()
        data = dict(ENTRY_SCHEMA(dict(USER_STEP_SCHEMA(user_input))))
        return self.create_entry(title=data[CONF_NAME], data=data)


class RecorderOptionsFlow(OptionsFlow):
    async def step_init(self, user_input: dict[str, Any] | None) -> FlowResult:
        if user_input is None:
            return self.show_form(step_id="init", data_schema=OPTIONS_SCHEMA)
        return self.create_entry(data=dict(OPTIONS_SCHEMA(user_input)))
