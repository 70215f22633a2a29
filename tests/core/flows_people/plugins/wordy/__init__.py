"""A test integration whose flow shows a secret as a description placeholder.

Its strings.json fills the step's description with ``{token}``; the API must not spell
the token out there while it masks the placeholder itself.
"""

from __future__ import annotations

from typing import Any

import voluptuous as vol

from gatehouse.core import ConfigEntry, ConfigFlow, FlowResult, Host, hookimpl

DOMAIN = "wordy"
TOKEN = "s3cret-t0ken"

SCHEMA = vol.Schema({vol.Required("code"): vol.All(vol.Coerce(int), vol.Range(min=0))})


class WordyConfigFlow(ConfigFlow):
    async def step_user(self, user_input: dict[str, Any] | None) -> FlowResult:
        placeholders = {"device": "Lamp", "token": TOKEN}
        errors = {}
        if user_input is not None:
            if user_input["code"] == 1234:
                return self.create_entry(title="Lamp", data={})
            errors = {"code": "wrong_code"}
        return self.show_form(step_id="user", data_schema=SCHEMA, errors=errors,
                              description_placeholders=placeholders)


class WordyIntegration:
    domain = DOMAIN
    config_flow = WordyConfigFlow

    async def setup_entry(self, host: Host, entry: ConfigEntry[Any]) -> None:
        """Nothing to set up: the flow is what the tests look at."""

    async def unload_entry(self, host: Host, entry: ConfigEntry[Any]) -> None:
        """Nothing to release."""


@hookimpl
def gatehouse_integration() -> WordyIntegration:
    return WordyIntegration()
