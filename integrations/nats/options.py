"""The options flow: add and remove subject entities (sensors and binary sensors).

An entry's ``options`` hold ``sensor`` and ``binary_sensor`` lists, validated with the
same ``SENSOR_SCHEMA``/``BINARY_SENSOR_SCHEMA`` as YAML; ``merged_data`` appends them
to the entry data's lists. The flow is a menu (``init``) with one select field
``action``; each step returns to the menu and ``done`` saves (the host then reloads
the entry). Only entities added here can be removed here: YAML ones live in the data.

Streams, consumers, the KV mirror and the fleet bridge stay YAML-only: each needs a
bucket, stream or site name together with lists (globs, subjects, hosts), which a flat
form renders badly, and a half-filled one would fail the entry's set-up.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from gatehouse.core import EntityListOptionsFlow
from gatehouse.core.template import TemplateEngine, TemplateError
from gatehouse.core.util import slugify

from .config import BINARY_SENSOR_SCHEMA, SENSOR_SCHEMA
from .const import CONF_BINARY_SENSORS, CONF_CONSUMERS, CONF_SENSORS

if TYPE_CHECKING:
    from gatehouse.core import Host

PLATFORM_SCHEMAS: dict[str, vol.Schema] = {
    CONF_SENSORS: SENSOR_SCHEMA,
    CONF_BINARY_SENSORS: BINARY_SENSOR_SCHEMA,
}


#: The add-entity form. Fields a platform does not take are refused by its schema.
ADD_ENTITY_SCHEMA = vol.Schema(
    {
        vol.Required("platform"): vol.In(list(PLATFORM_SCHEMAS)),
        vol.Required("name"): vol.All(str, vol.Length(min=1, max=128)),
        vol.Required("subject"): str,
        vol.Optional("value_template"): str,
        vol.Optional("json_path"): str,
        vol.Optional("unit_of_measurement"): str,
        vol.Optional("device_class"): str,
        vol.Optional("payload_on"): str,
        vol.Optional("payload_off"): str,
        vol.Optional("queue"): str,
    }
)

def merged_data(data: Mapping[str, Any], options: Mapping[str, Any]) -> dict[str, Any]:
    """Entry data with the options' entities appended (validated by ``ENTRY_SCHEMA``)."""
    merged = dict(data)
    for platform in PLATFORM_SCHEMAS:
        if options.get(platform):
            merged[platform] = [*(data.get(platform) or ()), *options[platform]]
    return merged


def check_template(host: Host, source: str) -> str | None:
    """The error of compiling ``source`` with the host's own engine (filters included)."""
    try:
        TemplateEngine(host).compile(source)
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
        elif "exclusion" in message:
            field, message = "json_path", "value_template and json_path exclude each other"
        errors.setdefault(field, message)
    return errors


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
            return _errors(err, platform), {}
        current = merged_data(self.entry.data, self.options)
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
