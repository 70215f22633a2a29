"""The config flow: one form with the connection, checked by really connecting.

The flow makes a throw-away connection (same code as the entry: TLS context, CONNACK)
before it creates the entry, so a wrong password or CA shows up as a form error on the
field's form instead of as an entry stuck in ``setup_retry``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import anyio.to_thread

from gatehouse.core import ConfigFlow, FlowResult

from .client import MqttConnection
from .config import USER_STEP_SCHEMA, entry_data
from .const import CONF_BROKER, CONF_CLIENT_ID, CONF_NAME, CONF_PORT
from .settings import ConnectError, ConnectionSettings, build_tls_context

#: ``ConnectError.kind`` → the form error shown (base errors, not one field's).
ERRORS = {
    "auth": "invalid_auth",
    "tls": "tls_failed",
    "refused": "connection_refused",
    "cannot_connect": "cannot_connect",
    "timeout": "cannot_connect",
}


async def probe(host: Any, data: dict[str, Any]) -> ConnectError | None:
    """Connect once with ``data``'s settings; the error, or None if the broker accepts."""
    # No birth or will: the probe must not touch the availability topic.
    settings = replace(
        ConnectionSettings.from_data(data, "gatehouse-probe"), birth=None, will=None
    )
    try:
        context = await anyio.to_thread.run_sync(build_tls_context, settings)
        connection = MqttConnection(host, settings, "probe", context)
        await connection.start()
    except ConnectError as err:
        return err
    await connection.close()
    return None


class MqttConfigFlow(ConfigFlow):
    VERSION = 1

    async def step_user(self, user_input: dict[str, Any] | None) -> FlowResult:
        if user_input is None:
            return self.show_form(step_id="user", data_schema=USER_STEP_SCHEMA)
        data = entry_data(user_input)
        await self.set_unique_id(
            f"{data[CONF_BROKER]}:{data[CONF_PORT]}:{data.get(CONF_CLIENT_ID) or ''}"
        )
        self.abort_if_unique_id_configured()
        error = await probe(self.host, data)
        if error is not None:
            return self.show_form(
                step_id="user",
                data_schema=USER_STEP_SCHEMA,
                errors={"base": ERRORS.get(error.kind, "cannot_connect")},
                description_placeholders={"error": str(error)},
            )
        title = data.get(CONF_NAME) or f"{data[CONF_BROKER]}:{data[CONF_PORT]}"
        return self.create_entry(title=title, data=data)
