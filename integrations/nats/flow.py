"""The config flow (the connection) and the options flow (subject entities).

**Config flow.** One form for the connection, checked by connecting before saving:
connecting in the flow turns a typo in a server address or a wrong password into an
error on the form, instead of an entry that waits for a server that will never answer.

**Options flow.** Add and remove subject entities (sensors and binary sensors). An
entry's ``options`` hold ``sensor`` and ``binary_sensor`` lists, validated with the
same ``SENSOR_SCHEMA``/``BINARY_SENSOR_SCHEMA`` as YAML; ``OPTIONS_LAYOUT`` appends
them to the entry data's lists, here and in ``setup_entry`` alike. The flow is a menu
(``init``) with one select field ``action``; each step returns to the menu and ``done``
saves (the host then reloads the entry). Only entities added here can be removed here:
YAML ones live in the data.

Streams, consumers, the KV mirror and the fleet bridge stay YAML-only: each needs a
bucket, stream or site name together with lists (globs, subjects, hosts), which a flat
form renders badly, and a half-filled one would fail the entry's set-up.
"""

from __future__ import annotations

import logging
from typing import Any, Final

import voluptuous as vol

from gatehouse.core import (
    ConfigEntryAuthFailed,
    ConfigEntryError,
    ConfigEntryNotReady,
    ConfigFlow,
    EntityListOptionsFlow,
    FlowResult,
)
from gatehouse.core.helpers import check_template, form_errors, slugify

from .client import NatsClient
from .config import (
    BINARY_SENSOR_SCHEMA,
    ENTRY_SCHEMA,
    OPTIONS_LAYOUT,
    SENSOR_SCHEMA,
    USER_STEP_SCHEMA,
    check_auth,
)
from .const import (
    CONF_BINARY_SENSORS,
    CONF_CONSUMERS,
    CONF_MAX_RECONNECT,
    CONF_NAME,
    CONF_RECONNECT_WAIT,
    CONF_SENSORS,
    CONF_SETUP_TIMEOUT,
)

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
    NAME_FIELD = CONF_NAME  # a name in use is a field error, not an abort

    async def step_user(self, user_input: dict[str, Any] | None) -> FlowResult:
        if user_input is None:
            return self.show_form(step_id="user", data_schema=USER_STEP_SCHEMA)
        errors = self.name_errors(user_input)
        try:
            check_auth(user_input)
        except vol.Invalid as err:
            errors = {**form_errors(err), **errors}
        if errors:
            return self.show_form(step_id="user", data_schema=USER_STEP_SCHEMA, errors=errors)
        await self.set_unique_id(slugify(user_input[CONF_NAME]))
        error = await try_connect(user_input)
        if error is not None:
            return self.show_form(
                step_id="user", data_schema=USER_STEP_SCHEMA, errors={"base": error}
            )
        return self.create_entry(title=user_input[CONF_NAME], data=user_input)


PLATFORM_SCHEMAS: Final[dict[str, Any]] = {
    CONF_SENSORS: SENSOR_SCHEMA,
    CONF_BINARY_SENSORS: BINARY_SENSOR_SCHEMA,
}

#: The add-entity form. Fields a platform does not take are refused by its schema.
ADD_ENTITY_SCHEMA = EntityListOptionsFlow.entity_form(
    PLATFORM_SCHEMAS, {vol.Required("subject"): str}, {vol.Optional("queue"): str}
)


class NatsOptionsFlow(EntityListOptionsFlow):
    """Menu → add entity / remove entity → menu … → done (saves)."""

    PLATFORMS = tuple(PLATFORM_SCHEMAS)
    ADD_SCHEMA = ADD_ENTITY_SCHEMA

    def validate_entity(
        self, platform: str, raw: dict[str, Any]
    ) -> tuple[dict[str, str], dict[str, Any]]:
        try:
            config = dict(PLATFORM_SCHEMAS[platform](raw))
        except vol.Invalid as err:
            return form_errors(err, extra_key=f"not used by {platform}"), {}
        current = OPTIONS_LAYOUT.merge(self.entry.data, self.options)
        taken = {
            slugify(str(c.get("name") or ""))
            for key in (*PLATFORM_SCHEMAS, CONF_CONSUMERS)
            for c in current.get(key) or ()
        }
        if slugify(config["name"]) in taken:
            return {"name": "duplicate_name"}, {}
        if "value_template" in config:
            problem = check_template(self.host, config["value_template"])
            if problem is not None:
                return {"value_template": problem}, {}
        return {}, config
