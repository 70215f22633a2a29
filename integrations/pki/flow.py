"""Config and options flows: one Certificates entry per host; options: ``warn_days``."""

from __future__ import annotations

from typing import Any

from gatehouse.core import ConfigFlow, FlowResult, OptionsFlow

from .config import ENTRY_SCHEMA, OPTIONS_SCHEMA, USER_STEP_SCHEMA
from .const import CONF_NAME, CONF_WARN_DAYS, DOMAIN


class PkiConfigFlow(ConfigFlow):
    async def step_user(self, user_input: dict[str, Any] | None) -> FlowResult:
        if user_input is None:
            return self.show_form(step_id="user", data_schema=USER_STEP_SCHEMA)
        await self.set_unique_id(DOMAIN)
        self.abort_if_unique_id_configured()
        data = dict(ENTRY_SCHEMA(dict(USER_STEP_SCHEMA(user_input))))
        return self.create_entry(title=data[CONF_NAME], data=data)


class PkiOptionsFlow(OptionsFlow):
    async def step_init(self, user_input: dict[str, Any] | None) -> FlowResult:
        if user_input is None:
            return self.show_form(step_id="init", data_schema=OPTIONS_SCHEMA)
        return self.create_entry(data={CONF_WARN_DAYS: OPTIONS_SCHEMA(user_input)[CONF_WARN_DAYS]})
