"""The config flow: one form for the connection, checked by connecting before saving.

Connecting in the flow turns a typo in a server address or a wrong password into an
error on the form, instead of an entry that sits in ``setup_retry`` forever. Subject
entities are added and removed in the options flow (``options.py``) or YAML; streams,
consumers, the KV mirror and the fleet bridge are configured in YAML.
"""

from __future__ import annotations

import logging
from typing import Any

import voluptuous as vol

from gatehouse.core import (
    ConfigEntryAuthFailed,
    ConfigEntryError,
    ConfigEntryNotReady,
    ConfigFlow,
    FlowResult,
)
from gatehouse.core.util import slugify

from .client import NatsClient
from .config import ENTRY_SCHEMA, USER_STEP_SCHEMA, check_auth
from .const import CONF_MAX_RECONNECT, CONF_NAME, CONF_RECONNECT_WAIT, CONF_SETUP_TIMEOUT

_LOGGER = logging.getLogger(__name__)

FLOW_CONNECT_TIMEOUT = 5.0
#: The flow's check tries each server twice, not forever: an answer within seconds.
FLOW_CHECK = {CONF_SETUP_TIMEOUT: FLOW_CONNECT_TIMEOUT, CONF_MAX_RECONNECT: 1,
              CONF_RECONNECT_WAIT: 0.25}


async def try_connect(data: dict[str, Any]) -> str | None:
    """Connect once with ``data``; None on success, else the form's error key."""
    config = ENTRY_SCHEMA({**data, **FLOW_CHECK})
    client = NatsClient(config)
    try:
        await client.connect()
    except ConfigEntryAuthFailed:
        return "invalid_auth"
    except ConfigEntryNotReady as err:
        _LOGGER.info("NATS flow: cannot connect: %s", err)
        return "cannot_connect"
    except ConfigEntryError as err:
        _LOGGER.info("NATS flow: invalid settings: %s", err)
        return "invalid_settings"
    finally:
        await client.close()
    return None


class NatsConfigFlow(ConfigFlow):
    VERSION = 1

    async def step_user(self, user_input: dict[str, Any] | None) -> FlowResult:
        if user_input is None:
            return self.show_form(step_id="user", data_schema=USER_STEP_SCHEMA)
        try:
            check_auth(user_input)
        except vol.Invalid as err:
            field = str(err.path[0]) if err.path else "base"
            return self.show_form(
                step_id="user", data_schema=USER_STEP_SCHEMA, errors={field: err.msg}
            )
        await self.set_unique_id(slugify(user_input[CONF_NAME]))
        self.abort_if_unique_id_configured()
        error = await try_connect(user_input)
        if error is not None:
            return self.show_form(
                step_id="user", data_schema=USER_STEP_SCHEMA, errors={"base": error}
            )
        return self.create_entry(title=user_input[CONF_NAME], data=user_input)
