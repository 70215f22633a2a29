"""Config and options flows: a guard from the browser (name, unmatched policy).

Rules are lists of patterns and schema names, written in YAML in this phase; the form
makes the entry and the options flow changes the unmatched policy.
"""

from __future__ import annotations

from typing import Any

from gatehouse.core import ConfigFlow, FlowResult, OptionsFlow

from .config import OPTIONS_SCHEMA, USER_STEP_SCHEMA
from .const import CONF_NAME, CONF_UNMATCHED, DOMAIN


class SchemaGuardConfigFlow(ConfigFlow):
    async def step_user(self, user_input: dict[str, Any] | None) -> FlowResult:
        await self.set_unique_id(DOMAIN)  # one guard per host
        self.abort_if_unique_id_configured()
        if user_input is None:
            return self.show_form(step_id="user", data_schema=USER_STEP_SCHEMA)
        return self.create_entry(title=user_input[CONF_NAME], data=user_input)


class SchemaGuardOptionsFlow(OptionsFlow):
    async def step_init(self, user_input: dict[str, Any] | None) -> FlowResult:
        if user_input is None:
            return self.show_form(step_id="init", data_schema=OPTIONS_SCHEMA)
        return self.create_entry(data={CONF_UNMATCHED: user_input[CONF_UNMATCHED]})
