"""The config flow (the connection) and the options flow (query sensors).

**Config flow.** One form for the connection (1.x or 2.x fields), checked before saving
with the same empty write set-up uses: refused credentials are an ``invalid_auth``
error on the form, a server that does not answer ``cannot_connect``, fields of the
wrong API version ``invalid_settings`` with the field named. Filters, point shaping and
per-entity overrides are YAML: lists and mappings a flat form renders badly.

**Options flow.** Add and remove query sensors; their options list (``queries``) is
validated with the YAML's ``QUERY_SCHEMA`` and appended to the entry's by
``OPTIONS_LAYOUT``; a ``value_template`` is compiled before it is accepted.
"""

from __future__ import annotations

import logging
from typing import Any, Final

import voluptuous as vol

from gatehouse.core import ConfigEntryAuthFailed, ConfigFlow, EntityListOptionsFlow, FlowResult
from gatehouse.core.helpers import check_template, form_errors, slugify

from .client import InfluxClient, ssl_context
from .config import ENTRY_SCHEMA, OPTIONS_LAYOUT, QUERY_SCHEMA, USER_STEP_SCHEMA
from .const import CONF_NAME, CONF_QUERIES, DEFAULT_NAME
from .runtime import probe

_LOGGER = logging.getLogger(__name__)


async def try_connect(config: dict[str, Any]) -> str | None:
    """One empty write with ``config``; None on success, else the form's error key."""
    try:
        client = InfluxClient(config, await ssl_context(config))
    except (OSError, ValueError) as err:
        _LOGGER.info("InfluxDB flow: CA certificate: %s", err)
        return "invalid_settings"
    try:
        problem = await probe(client)
    except ConfigEntryAuthFailed:
        return "invalid_auth"
    finally:
        await client.close()
    if problem is not None:
        _LOGGER.info("InfluxDB flow: cannot connect: %s", problem)
        return "cannot_connect"
    return None


class InfluxConfigFlow(ConfigFlow):
    VERSION = 1
    NAME_FIELD = CONF_NAME  # a name in use is a field error, not an abort

    async def step_user(self, user_input: dict[str, Any] | None) -> FlowResult:
        if user_input is None:
            return self.show_form(step_id="user", data_schema=USER_STEP_SCHEMA)
        title = str(user_input.get(CONF_NAME) or DEFAULT_NAME)
        errors = self.name_errors({CONF_NAME: title})
        try:
            config = ENTRY_SCHEMA(dict(user_input))
        except vol.Invalid as err:
            errors = {**form_errors(err), **errors}
        if errors:
            return self.show_form(step_id="user", data_schema=USER_STEP_SCHEMA, errors=errors)
        await self.set_unique_id(slugify(title))
        error = await try_connect(config)
        if error is not None:
            return self.show_form(
                step_id="user", data_schema=USER_STEP_SCHEMA, errors={"base": error}
            )
        return self.create_entry(title=title, data=dict(user_input))


#: The add-query form; the YAML's ``QUERY_SCHEMA`` decides what is valid.
ADD_QUERY_SCHEMA: Final = vol.Schema(
    {
        vol.Required("platform", default=CONF_QUERIES): vol.In([CONF_QUERIES]),
        vol.Required("name"): vol.All(str, vol.Length(min=1, max=128)),
        vol.Optional("query"): str,
        vol.Optional("measurement"): str,
        vol.Optional("field"): str,
        vol.Optional("where"): str,
        vol.Optional("group_function"): str,
        vol.Optional("value_template"): str,
        vol.Optional("unit_of_measurement"): str,
        vol.Optional("device_class"): str,
        vol.Optional("scan_interval"): vol.Coerce(float),
    }
)


class InfluxOptionsFlow(EntityListOptionsFlow):
    """Menu → add query sensor / remove query sensor → menu … → done (saves)."""

    PLATFORMS = (CONF_QUERIES,)
    ADD_SCHEMA = ADD_QUERY_SCHEMA

    def validate_entity(
        self, platform: str, raw: dict[str, Any]
    ) -> tuple[dict[str, str], dict[str, Any]]:
        try:
            config = dict(QUERY_SCHEMA(raw))
        except vol.Invalid as err:
            return form_errors(err, extra_key="not used by query sensors"), {}
        current = OPTIONS_LAYOUT.merge(self.entry.data, self.options)
        taken = {slugify(str(c.get("name") or "")) for c in current.get(CONF_QUERIES) or ()}
        if slugify(config["name"]) in taken:
            return {"name": "duplicate_name"}, {}
        if "value_template" in config:
            problem = check_template(self.host, config["value_template"])
            if problem is not None:
                return {"value_template": problem}, {}
        return {}, config
