"""The config flow: add a TCP or RTU-over-TCP hub from the web UI (one form).

The form only collects the connection; points are described in YAML (a UI editor for
register maps is future work). Before creating the entry the flow opens the
connection once, so a typo in the host shows up on the form, not as a retrying entry.
"""

from __future__ import annotations

from typing import Any

from gatehouse.core import ConfigFlow, FlowResult
from gatehouse.core.util import slugify

from .client import HubParams, ModbusHub
from .config import USER_STEP_SCHEMA
from .const import CONF_HOST, CONF_NAME, CONF_PORT, CONF_TIMEOUT, CONF_TYPE, HubType
from .errors import ModbusConnectionError


class ModbusConfigFlow(ConfigFlow):
    VERSION = 1

    async def step_user(self, user_input: dict[str, Any] | None) -> FlowResult:
        if user_input is None:
            return self.show_form(step_id="user", data_schema=USER_STEP_SCHEMA)
        await self.set_unique_id(slugify(user_input[CONF_NAME]))
        self.abort_if_unique_id_configured()
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
