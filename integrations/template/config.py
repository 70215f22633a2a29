"""Schemas of the template integration: Home Assistant's ``template:`` format and the
UI form.

``template:`` in configuration.yaml is a list of blocks; a block lists entities by
platform (``sensor:``, ``binary_sensor:``, ``switch:``, ``number:``, ``button:``) and,
for trigger-based entities, ``trigger:`` (or ``triggers:``) with optional
``variables:``, ``condition:`` (``conditions:``) and ``action:`` (``actions:``).
Fields are Home Assistant's: ``state``, ``availability``, ``icon``, ``attributes``,
``name``, ``unique_id``, ``turn_on``/``turn_off``, ``set_value``, ``press``...
Templates are checked when the entry is set up (``check_template``), where
the error can name the entity and the field; the schema checks the shape.

Actions (``turn_on``, ``set_value``, ``press``) and triggers are Home Assistant's, run
and attached by the ``script`` integration's engine (``actions.py``, ``triggers.py``),
which checks them when the entry is set up.
"""

from __future__ import annotations

from typing import Any

import voluptuous as vol

from gatehouse.core import YamlEntry

from .const import (
    CONF_ACTION,
    CONF_ACTIONS,
    CONF_ATTRIBUTES,
    CONF_AVAILABILITY,
    CONF_BLOCKS,
    CONF_CONDITION,
    CONF_CONDITIONS,
    CONF_DEVICE_CLASS,
    CONF_ICON,
    CONF_MAX,
    CONF_MIN,
    CONF_NAME,
    CONF_OPTIMISTIC,
    CONF_PRESS,
    CONF_SET_VALUE,
    CONF_STATE,
    CONF_STATE_CLASS,
    CONF_STEP,
    CONF_TEMPLATE_TYPE,
    CONF_TRIGGER,
    CONF_TRIGGERS,
    CONF_TURN_OFF,
    CONF_TURN_ON,
    CONF_UNIQUE_ID,
    CONF_UNIT,
    CONF_VARIABLES,
    YAML_UNIQUE_ID,
)


def ensure_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


#: A template (a plain value is a template that renders itself).
TEMPLATE = vol.All(vol.Any(str, int, float, bool), vol.Coerce(str), vol.Length(max=65_536))


#: An action sequence (compiled by the script engine at set-up, which names what is
#: wrong); one action or a list.
ACTIONS = vol.All(ensure_list, vol.Length(min=1, max=256), [dict])

#: Triggers (attached by the script engine, every platform it knows); one or a list.
TRIGGERS = vol.All(ensure_list, vol.Length(min=1, max=64), [dict])

_BASE: dict[Any, Any] = {
    vol.Optional(CONF_NAME): TEMPLATE,
    vol.Optional(CONF_UNIQUE_ID): vol.All(vol.Coerce(str), vol.Length(min=1, max=200)),
    vol.Optional(CONF_ICON): TEMPLATE,
    vol.Optional(CONF_AVAILABILITY): TEMPLATE,
    vol.Optional(CONF_ATTRIBUTES, default=dict): {str: TEMPLATE},
    vol.Optional(CONF_DEVICE_CLASS): str,
}

SENSOR_SCHEMA = vol.Schema({
    **_BASE,
    vol.Required(CONF_STATE): TEMPLATE,
    vol.Optional(CONF_UNIT): str,
    vol.Optional(CONF_STATE_CLASS): str,
})
BINARY_SENSOR_SCHEMA = vol.Schema({**_BASE, vol.Required(CONF_STATE): TEMPLATE})
SWITCH_SCHEMA = vol.Schema({
    **_BASE,
    vol.Optional(CONF_STATE): TEMPLATE,
    vol.Required(CONF_TURN_ON): ACTIONS,
    vol.Required(CONF_TURN_OFF): ACTIONS,
    vol.Optional(CONF_OPTIMISTIC, default=False): bool,
})
NUMBER_SCHEMA = vol.Schema({
    **_BASE,
    vol.Required(CONF_STATE): TEMPLATE,
    vol.Required(CONF_SET_VALUE): ACTIONS,
    vol.Optional(CONF_MIN, default=0.0): vol.Coerce(float),
    vol.Optional(CONF_MAX, default=100.0): vol.Coerce(float),
    vol.Optional(CONF_STEP, default=1.0): vol.All(vol.Coerce(float), vol.Range(min=0,
                                                                               min_included=False)),
    vol.Optional(CONF_UNIT): str,
    vol.Optional(CONF_OPTIMISTIC, default=False): bool,
})
BUTTON_SCHEMA = vol.Schema({**_BASE, vol.Required(CONF_PRESS): ACTIONS})

PLATFORM_SCHEMAS: dict[str, vol.Schema] = {
    "sensor": SENSOR_SCHEMA,
    "binary_sensor": BINARY_SENSOR_SCHEMA,
    "switch": SWITCH_SCHEMA,
    "number": NUMBER_SCHEMA,
    "button": BUTTON_SCHEMA,
}


def _block(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise vol.Invalid("a template block is a mapping (sensor:, binary_sensor:, ...)")
    block = dict(value)
    for plural, singular in ((CONF_TRIGGERS, CONF_TRIGGER), (CONF_CONDITIONS, CONF_CONDITION),
                             (CONF_ACTIONS, CONF_ACTION)):
        if plural in block:
            if singular in block:
                raise vol.Invalid(f"give {singular}: or {plural}:, not both")
            block[singular] = block.pop(plural)
    if (CONF_CONDITION in block or CONF_ACTION in block) and CONF_TRIGGER not in block:
        raise vol.Invalid("condition: and action: belong to a block with trigger:")
    schema = vol.Schema({
        vol.Optional(CONF_TRIGGER): TRIGGERS,
        vol.Optional(CONF_CONDITION): vol.All(ensure_list, vol.Length(max=64)),
        vol.Optional(CONF_ACTION): ACTIONS,
        vol.Optional(CONF_VARIABLES, default=dict): {str: object},
        vol.Optional(CONF_UNIQUE_ID): vol.Coerce(str),
        **{vol.Optional(platform): vol.All(ensure_list, vol.Length(max=1000), [schema_])
           for platform, schema_ in PLATFORM_SCHEMAS.items()},
    })
    validated: dict[str, Any] = schema(block)
    return validated


BLOCK_SCHEMA = vol.All(_block)

#: ``template:`` in configuration.yaml: a list of blocks (or one).
CONFIG_SCHEMA = vol.All(ensure_list, vol.Length(max=1000), [BLOCK_SCHEMA])

#: The UI's form: one template sensor or binary sensor.
USER_STEP_SCHEMA = vol.Schema({
    vol.Required(CONF_TEMPLATE_TYPE, default="sensor"): vol.In(["sensor", "binary_sensor"]),
    vol.Required(CONF_NAME): vol.All(str, vol.Length(min=1, max=100)),
    vol.Required(CONF_STATE): vol.All(str, vol.Length(min=1, max=65_536)),
    vol.Optional(CONF_UNIT): str,
    vol.Optional(CONF_DEVICE_CLASS): str,
})

#: The WebSocket preview: the form's fields, none required but the state.
PREVIEW_SCHEMA: dict[Any, Any] = {
    vol.Optional(CONF_TEMPLATE_TYPE, default="sensor"): vol.In(["sensor", "binary_sensor"]),
    vol.Required(CONF_STATE): vol.All(str, vol.Length(max=65_536)),
    vol.Optional(CONF_NAME): str,
    vol.Optional(CONF_UNIT): str,
    vol.Optional(CONF_DEVICE_CLASS): str,
}


def block_of_form(data: dict[str, Any]) -> dict[str, Any]:
    """The ``template:`` block of one entity made in the UI."""
    platform = data[CONF_TEMPLATE_TYPE]
    entity = {key: value for key, value in data.items() if key != CONF_TEMPLATE_TYPE}
    validated: dict[str, Any] = BLOCK_SCHEMA({platform: [entity]})
    return validated


def yaml_entries(config: list[Any]) -> list[YamlEntry]:
    """The one entry of a validated ``template:`` section (all its blocks)."""
    return [YamlEntry(unique_id=YAML_UNIQUE_ID, title="Templates (YAML)",
                      data={CONF_BLOCKS: config})]
