"""The options flow: add and remove entities, discovery and statestream settings.

An entry's ``options`` hold what the operator set in the browser:

* ``sensor``/``binary_sensor``/``switch``/``number``: entity lists, validated with the
  same ``PLATFORM_SCHEMAS`` as YAML; ``merged_data`` appends them to the entry data's;
* ``discovery``, ``discovery_prefix``, ``publish_discovery``: replace the data's;
* ``statestream``: ``None`` turns statestream off, a mapping (``base_topic``) turns it
  on, laid over the data's statestream block (its YAML filters stay).

The flow is a menu (``init``) with one select field ``action``; each step returns to
the menu, and ``done`` saves the options (the entry is then reloaded by the host).
Only entities added here can be removed here: YAML entities live in the entry data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from gatehouse.core import EntityListOptionsFlow, FlowResult
from gatehouse.core.template import TemplateError
from gatehouse.core.util import slugify

from .config import PLATFORM_SCHEMAS, QOS, STATESTREAM_SCHEMA, entry_data
from .const import (
    CONF_DISCOVERY,
    CONF_DISCOVERY_PREFIX,
    CONF_PUBLISH_DISCOVERY,
    CONF_QOS,
    CONF_STATESTREAM,
    DEFAULT_DISCOVERY_PREFIX,
    PLATFORMS,
)
from .topics import valid_topic

if TYPE_CHECKING:
    from gatehouse.core import Host

#: Settings the options replace (``statestream`` is laid over the data's block).
SETTING_KEYS = (CONF_DISCOVERY, CONF_DISCOVERY_PREFIX, CONF_PUBLISH_DISCOVERY)
DEFAULT_STATESTREAM_TOPIC = "gatehouse/states"


#: The add-entity form. Fields a platform does not take are refused by its schema.
ADD_ENTITY_SCHEMA = vol.Schema(
    {
        vol.Required("platform"): vol.In(list(PLATFORMS)),
        vol.Required("name"): vol.All(str, vol.Length(min=1, max=128)),
        vol.Optional("state_topic"): str,
        vol.Optional("command_topic"): str,
        vol.Optional("value_template"): str,
        vol.Optional("json_path"): str,
        vol.Optional("unit_of_measurement"): str,
        vol.Optional("device_class"): str,
        vol.Optional("payload_on"): str,
        vol.Optional("payload_off"): str,
        vol.Optional(CONF_QOS, default=0): QOS,
    }
)

def merged_data(data: Mapping[str, Any], options: Mapping[str, Any]) -> dict[str, Any]:
    """Entry data with the options applied (not validated: ``entry_data`` does that)."""
    merged = dict(data)
    for platform in PLATFORMS:
        if options.get(platform):
            merged[platform] = [*(data.get(platform) or ()), *options[platform]]
    for key in SETTING_KEYS:
        if key in options:
            merged[key] = options[key]
    if CONF_STATESTREAM in options:
        stream = options[CONF_STATESTREAM]
        if stream is None:
            merged.pop(CONF_STATESTREAM, None)
        else:
            merged[CONF_STATESTREAM] = {**(data.get(CONF_STATESTREAM) or {}), **stream}
    return merged


def check_template(host: Host, source: str) -> str | None:
    """The error of compiling ``source`` with the host's own engine (filters included)."""
    from .services import template_engine

    try:
        template_engine(host).compile(source)
    except TemplateError as err:
        return str(err)
    return None


def _errors(err: vol.Invalid, platform: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    for item in err.errors if isinstance(err, vol.MultipleInvalid) else [err]:
        field = str(item.path[0]) if item.path else "base"
        message = str(item.msg)
        if message == "extra keys not allowed":
            message = f"not used by {platform}"
        elif message.startswith("value_template and json_path"):
            field = "json_path"
        errors.setdefault(field, message)
    return errors


class MqttOptionsFlow(EntityListOptionsFlow):
    """Menu → add entity / remove entity / settings → menu … → done (saves)."""

    PLATFORMS = tuple(PLATFORMS)
    ADD_SCHEMA = ADD_ENTITY_SCHEMA

    def _current(self) -> dict[str, Any]:
        return merged_data(self.entry.data, self.options)

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
            return _errors(err, platform), {}
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
                    default=(stream or {}).get("base_topic") or DEFAULT_STATESTREAM_TOPIC,
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
