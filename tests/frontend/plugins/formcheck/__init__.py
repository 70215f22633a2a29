"""A test integration for the browser tests: a config flow that refuses as real ones do.

Its one form asks for a device's ``host`` and ``port``. A port out of range comes back
as an error at that field (the flow manager validates the schema); the host
``offline.invalid`` comes back as a form-wide ``base`` error, as when a device does not
answer; anything else creates an entry that sets up nothing.
"""

from __future__ import annotations

from typing import Any

import voluptuous as vol

from gatehouse.core import ConfigEntry, ConfigFlow, FlowResult, Host, hookimpl

DOMAIN = "formcheck"
OFFLINE_HOST = "offline.invalid"
CANNOT_CONNECT = "the device does not answer"

USER_SCHEMA = vol.Schema({
    vol.Required("host"): str,
    vol.Required("port", default=1883): vol.All(vol.Coerce(int), vol.Range(min=1, max=65535)),
})


class FormcheckConfigFlow(ConfigFlow):
    async def step_user(self, user_input: dict[str, Any] | None) -> FlowResult:
        if user_input is None:
            return self.show_form(step_id="user", data_schema=USER_SCHEMA)
        if user_input["host"] == OFFLINE_HOST:
            return self.show_form(
                step_id="user", data_schema=USER_SCHEMA, errors={"base": CANNOT_CONNECT}
            )
        return self.create_entry(title=user_input["host"], data=user_input)


class FormcheckIntegration:
    domain = DOMAIN
    config_flow = FormcheckConfigFlow

    async def setup_entry(self, host: Host, entry: ConfigEntry[Any]) -> None:
        """Nothing to set up: the flow is what the tests look at."""

    async def unload_entry(self, host: Host, entry: ConfigEntry[Any]) -> None:
        """Nothing to release."""


@hookimpl
def gatehouse_integration() -> FormcheckIntegration:
    return FormcheckIntegration()
