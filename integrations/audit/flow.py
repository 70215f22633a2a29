"""The config flow: one form, one audit entry per host (a second is refused)."""

from __future__ import annotations

from typing import Any

from gatehouse.core import ConfigFlow, FlowResult

from .config import USER_STEP_SCHEMA
from .const import DOMAIN


class AuditConfigFlow(ConfigFlow):
    async def step_user(self, user_input: dict[str, Any] | None) -> FlowResult:
        if user_input is None:
            return self.show_form(step_id="user", data_schema=USER_STEP_SCHEMA)
        await self.set_unique_id(DOMAIN)
        self.abort_if_unique_id_configured()
        data = dict(USER_STEP_SCHEMA(user_input))
        return self.create_entry(title=data["name"], data=data)
