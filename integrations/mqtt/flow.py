"""The config flow (one form, checked by really connecting) and the options flow.

**Config flow.** It makes a throw-away connection (same code as the entry: TLS context,
CONNACK) before it creates the entry, so a wrong password or CA shows up as a form
error instead of as an entry that cannot connect.

**Options flow.** What the operator sets in the browser goes into the entry's
``options`` and is read through ``config.OPTIONS_LAYOUT`` (set-up reads it the same way):

* ``sensor``/``binary_sensor``/``switch``/``number``: entity lists, validated with the
  same ``PLATFORM_SCHEMAS`` as YAML, appended to the data's;
* ``discovery``, ``discovery_prefix``, ``publish_discovery``: replace the data's;
* ``statestream``: ``None`` turns statestream off, a mapping (``base_topic``) turns it
  on, laid over the data's statestream block (its YAML filters stay).

The options flow is a menu (``init``) with one select field ``action``; each step
returns to the menu, and ``done`` saves the options (the entry is then reloaded by the
host). Only entities added here can be removed here: YAML entities live in the entry
data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import voluptuous as vol

from gatehouse.core import ConfigFlow, EntityListOptionsFlow, FlowResult
from gatehouse.core.helpers import check_template, form_errors, slugify

from .client import MqttConnection
from .config import (
    ADD_ENTITY_SCHEMA,
    OPTIONS_LAYOUT,
    PLATFORM_SCHEMAS,
    STATESTREAM_SCHEMA,
    USER_STEP_SCHEMA,
    ConnectionSettings,
    entry_data,
    entry_title,
    entry_unique_id,
)
from .const import (
    CONF_DISCOVERY,
    CONF_DISCOVERY_PREFIX,
    CONF_PUBLISH_DISCOVERY,
    CONF_STATESTREAM,
    DEFAULT_DISCOVERY_PREFIX,
    DEFAULT_STATESTREAM_BASE_TOPIC,
    PLATFORMS,
)
from .errors import ConnectError, ConnectErrorKind
from .tls import build_tls_context
from .topics import valid_topic

if TYPE_CHECKING:
    from gatehouse.core import Host

#: ``ConnectError.kind`` → the form error shown (base errors, not one field's).
ERRORS: dict[ConnectErrorKind, str] = {
    "auth": "invalid_auth",
    "tls": "tls_failed",
    "refused": "connection_refused",
    "cannot_connect": "cannot_connect",
    "timeout": "cannot_connect",
}


async def probe(host: Host, data: dict[str, Any]) -> ConnectError | None:
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
        await self.set_unique_id(entry_unique_id(data))
        self.abort_if_unique_id_configured()
        error = await probe(self.host, data)
        if error is not None:
            return self.show_form(
                step_id="user",
                data_schema=USER_STEP_SCHEMA,
                errors={"base": ERRORS.get(error.kind, "cannot_connect")},
                description_placeholders={"error": str(error)},
            )
        return self.create_entry(title=entry_title(data), data=data)


#: Settings the options replace (``statestream`` is laid over the data's block).
SETTING_KEYS = OPTIONS_LAYOUT.settings


class MqttOptionsFlow(EntityListOptionsFlow):
    """Menu → add entity / remove entity / settings → menu … → done (saves)."""

    PLATFORMS = tuple(PLATFORMS)
    ADD_SCHEMA = ADD_ENTITY_SCHEMA

    def _current(self) -> dict[str, Any]:
        return OPTIONS_LAYOUT.merge(self.entry.data, self.options)

    def actions(self) -> list[str]:
        return [*super().actions(), "settings"]

    def validate_entity(
        self, platform: str, raw: dict[str, Any]
    ) -> tuple[dict[str, str], dict[str, Any]]:
        current = self._current()
        taken = {
            slugify(str(c.get("name") or ""))
            for p in PLATFORMS for c in current.get(p) or ()
        }
        if slugify(raw["name"]) in taken:
            return {"name": "duplicate_name"}, {}
        raw["unique_id"] = f"{self.entry.entry_id}_{platform}_{slugify(raw['name'])}"
        try:
            config = dict(PLATFORM_SCHEMAS[platform](raw))
        except vol.Invalid as err:
            return form_errors(err, extra_key=f"not used by {platform}"), {}
        if "value_template" in config:
            problem = check_template(self.host, config["value_template"])
            if problem is not None:
                return {"value_template": problem}, {}
        return {}, config

    # -- settings -------------------------------------------------------------------------

    def _settings_schema(self) -> vol.Schema:
        current = self._current()
        stream = current.get(CONF_STATESTREAM)
        return vol.Schema(
            {
                vol.Optional(CONF_DISCOVERY, default=bool(current.get(CONF_DISCOVERY, True))):
                    bool,
                vol.Optional(
                    CONF_DISCOVERY_PREFIX,
                    default=current.get(CONF_DISCOVERY_PREFIX) or DEFAULT_DISCOVERY_PREFIX,
                ): valid_topic,
                vol.Optional(
                    CONF_PUBLISH_DISCOVERY,
                    default=bool(current.get(CONF_PUBLISH_DISCOVERY, False)),
                ): bool,
                vol.Optional(CONF_STATESTREAM, default=stream is not None): bool,
                vol.Optional(
                    "statestream_base_topic",
                    default=(stream or {}).get("base_topic") or DEFAULT_STATESTREAM_BASE_TOPIC,
                ): valid_topic,
            }
        )

    async def step_settings(self, user_input: dict[str, Any] | None) -> FlowResult:
        if user_input is None:
            return self.show_form(step_id="settings", data_schema=self._settings_schema())
        # Only what differs from the entry data is kept: YAML edits still apply to the rest.
        base = _validated(self.entry.data)
        for key in SETTING_KEYS:
            if key in base and base[key] == user_input[key]:
                self.options.pop(key, None)
            else:
                self.options[key] = user_input[key]
        yaml_stream = base.get(CONF_STATESTREAM)
        if user_input[CONF_STATESTREAM]:
            block = {"base_topic": user_input["statestream_base_topic"]}
            STATESTREAM_SCHEMA(block)  # same rules as YAML (valid_topic already checked)
            if yaml_stream is not None and yaml_stream.get("base_topic") == block["base_topic"]:
                self.options.pop(CONF_STATESTREAM, None)
            else:
                self.options[CONF_STATESTREAM] = block
        elif yaml_stream is None:
            self.options.pop(CONF_STATESTREAM, None)
        else:
            self.options[CONF_STATESTREAM] = None
        return self.menu()


def _validated(data: Mapping[str, Any]) -> dict[str, Any]:
    """The entry data with defaults filled ({} if it does not validate)."""
    try:
        return entry_data(data)
    except vol.Invalid:
        return {}
