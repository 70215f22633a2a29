"""Voluptuous schemas: the ``modbus:`` YAML section (a list of hubs) and the flow form.

Each hub block becomes one config entry, so the same schema also re-validates stored
entry data at set-up (it is idempotent), which turns JSON's string keys back into ints
and fills defaults added since the entry was stored.

The schemas are plain dicts wrapped in ``vol.All(dict, check)``: the dict part lets the
core's config checker suggest "did you mean" for a misspelt key, and the check functions
add the rules that span several keys (a string needs ``count``, a ``bit`` needs a
register, a block must fit the address space). Their errors carry the key's path so the
checker can point at the line.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

import voluptuous as vol

from gatehouse.core.helpers import OptionsLayout

from .const import (
    CONF_ADDRESS,
    CONF_ADDRESS_COUNT,
    CONF_ADDRESS_STRIDE,
    CONF_BAUDRATE,
    CONF_BINARY_SENSORS,
    CONF_BIT,
    CONF_BYTE_ORDER,
    CONF_BYTESIZE,
    CONF_COALESCE,
    CONF_COMMAND_OFF,
    CONF_COMMAND_ON,
    CONF_COUNT,
    CONF_DATA_TYPE,
    CONF_DELAY,
    CONF_DEVICE_CLASS,
    CONF_DIAGNOSTICS,
    CONF_HOST,
    CONF_ICON,
    CONF_INPUT_TYPE,
    CONF_MAX,
    CONF_MAX_BIT_GAP,
    CONF_MAX_GAP,
    CONF_MIN,
    CONF_NAME,
    CONF_NUMBERS,
    CONF_OFFSET,
    CONF_PARITY,
    CONF_PORT,
    CONF_PRECISION,
    CONF_RECONNECT_DELAY,
    CONF_RECONNECT_DELAY_MAX,
    CONF_RETRIES,
    CONF_SCALE,
    CONF_SCAN_INTERVAL,
    CONF_SENSORS,
    CONF_SLAVE,
    CONF_SLAVE_COUNT,
    CONF_SLAVE_TIMEOUTS,
    CONF_STATE_CLASS,
    CONF_STEP,
    CONF_STOPBITS,
    CONF_SWITCHES,
    CONF_TIMEOUT,
    CONF_TYPE,
    CONF_UNIQUE_ID,
    CONF_UNIT,
    CONF_VERIFY,
    CONF_WORD_ORDER,
    CONF_WRITE_TYPE,
    DEFAULT_BAUDRATE,
    DEFAULT_DELAY,
    DEFAULT_MAX_BIT_GAP,
    DEFAULT_MAX_GAP,
    DEFAULT_RECONNECT_DELAY,
    DEFAULT_RECONNECT_DELAY_MAX,
    DEFAULT_RETRIES,
    DEFAULT_SCAN_INTERVAL,
    DEFAULT_SLAVE,
    DEFAULT_TCP_PORT,
    DEFAULT_TIMEOUT,
    MAX_ADDRESS,
    MAX_READ_REGISTERS,
    HubType,
    RegisterType,
)
from .datatypes import DataType, Order, register_count

# -- building blocks ------------------------------------------------------------------------

NAME = vol.All(str, vol.Length(min=1, max=64))
SECONDS = vol.All(vol.Coerce(float), vol.Range(min=0.01, max=86400))
SLAVE = vol.All(int, vol.Range(min=0, max=255))
ADDRESS = vol.All(int, vol.Range(min=0, max=MAX_ADDRESS))
REGISTER_VALUE = vol.All(int, vol.Range(min=0, max=0xFFFF))
TCP_PORT = vol.All(int, vol.Range(min=1, max=65535))


def _choice(enum_cls: type[enum.StrEnum], *allowed: enum.StrEnum) -> Any:
    """Accept the enum's values (or ``allowed`` ones) as strings; produce the member."""
    names = [str(m) for m in (allowed or list(enum_cls))]
    return vol.All(vol.In(names, msg=f"expected one of {', '.join(names)}"), vol.Coerce(enum_cls))


def _scale(value: Any) -> float:
    number = vol.Coerce(float)(value)
    if number == 0:
        raise vol.Invalid("scale must not be 0")
    return float(number)


POINT_FIELDS: dict[Any, Any] = {
    vol.Required(CONF_NAME): NAME,
    vol.Optional(CONF_UNIQUE_ID): vol.All(str, vol.Length(min=1, max=128)),
    vol.Optional(CONF_SLAVE, default=DEFAULT_SLAVE): SLAVE,
    vol.Required(CONF_ADDRESS): ADDRESS,
    vol.Optional(CONF_SCAN_INTERVAL): SECONDS,
    vol.Optional(CONF_SLAVE_COUNT): vol.All(int, vol.Range(min=1, max=255)),
    vol.Optional(CONF_ADDRESS_COUNT): vol.All(int, vol.Range(min=1, max=10000)),
    vol.Optional(CONF_ADDRESS_STRIDE): vol.All(int, vol.Range(min=1, max=MAX_READ_REGISTERS)),
    vol.Optional(CONF_ICON): str,
    vol.Optional(CONF_DEVICE_CLASS): str,
}

VALUE_FIELDS: dict[Any, Any] = {
    vol.Optional(CONF_DATA_TYPE, default=DataType.UINT16): _choice(DataType),
    vol.Optional(CONF_COUNT): vol.All(int, vol.Range(min=1, max=MAX_READ_REGISTERS)),
    vol.Optional(CONF_BYTE_ORDER, default=Order.BIG): _choice(Order),
    vol.Optional(CONF_WORD_ORDER, default=Order.BIG): _choice(Order),
    vol.Optional(CONF_SCALE, default=1.0): _scale,
    vol.Optional(CONF_OFFSET, default=0.0): vol.Coerce(float),
    vol.Optional(CONF_PRECISION): vol.All(int, vol.Range(min=0, max=10)),
}

BIT = vol.All(int, vol.Range(min=0, max=15))


def _check_point(conf: dict[str, Any]) -> dict[str, Any]:
    """Rules across keys of any point block; errors name the key to fix."""
    data_type = conf.get(CONF_DATA_TYPE, DataType.UINT16)
    if data_type is DataType.STRING and CONF_COUNT not in conf:
        raise vol.Invalid("data_type string needs count (registers)", path=[CONF_DATA_TYPE])
    if CONF_COUNT in conf and data_type is not DataType.STRING:
        raise vol.Invalid("count is only for data_type string", path=[CONF_COUNT])
    register_type = conf.get(CONF_INPUT_TYPE) or conf.get(CONF_WRITE_TYPE)
    if CONF_BIT in conf:
        if isinstance(register_type, RegisterType) and register_type.is_bit:
            raise vol.Invalid(f"bit needs a register, not a {register_type}", path=[CONF_BIT])
        if data_type not in (DataType.INT16, DataType.UINT16):
            raise vol.Invalid("bit works on 16-bit registers only", path=[CONF_BIT])
    bit_table = isinstance(register_type, RegisterType) and register_type.is_bit
    width = 1 if bit_table or CONF_BIT in conf else register_count(data_type, conf.get(CONF_COUNT))
    stride = conf.get(CONF_ADDRESS_STRIDE, width)
    last = conf[CONF_ADDRESS] + stride * (conf.get(CONF_ADDRESS_COUNT, 1) - 1) + width - 1
    if last > MAX_ADDRESS:
        raise vol.Invalid(f"the block ends at address {last}, past {MAX_ADDRESS}",
                          path=[CONF_ADDRESS])
    if conf[CONF_SLAVE] + conf.get(CONF_SLAVE_COUNT, 1) - 1 > 255:
        raise vol.Invalid("slave + slave_count goes past 255", path=[CONF_SLAVE_COUNT])
    return conf


def _check_number(conf: dict[str, Any]) -> dict[str, Any]:
    if conf[CONF_DATA_TYPE] is DataType.STRING:
        raise vol.Invalid("a number cannot be a string", path=[CONF_DATA_TYPE])
    if conf[CONF_MIN] >= conf[CONF_MAX]:
        raise vol.Invalid(f"min {conf[CONF_MIN]} must be below max {conf[CONF_MAX]}",
                          path=[CONF_MIN])
    return _check_point(conf)


SENSOR_SCHEMA = vol.All(
    vol.Schema({
        **POINT_FIELDS,
        **VALUE_FIELDS,
        vol.Optional(CONF_INPUT_TYPE, default=RegisterType.HOLDING): _choice(
            RegisterType, RegisterType.HOLDING, RegisterType.INPUT
        ),
        vol.Optional(CONF_UNIT): str,
        vol.Optional(CONF_STATE_CLASS): vol.In(["measurement", "total", "total_increasing"]),
    }),
    _check_point,
)

BINARY_SENSOR_SCHEMA = vol.All(
    vol.Schema({
        **POINT_FIELDS,
        vol.Optional(CONF_INPUT_TYPE, default=RegisterType.COIL): _choice(RegisterType),
        vol.Optional(CONF_BIT): BIT,
        vol.Optional(CONF_BYTE_ORDER, default=Order.BIG): _choice(Order),
    }),
    _check_point,
)

SWITCH_SCHEMA = vol.All(
    vol.Schema({
        **POINT_FIELDS,
        vol.Optional(CONF_WRITE_TYPE, default=RegisterType.COIL): _choice(
            RegisterType, RegisterType.COIL, RegisterType.HOLDING
        ),
        vol.Optional(CONF_COMMAND_ON, default=1): REGISTER_VALUE,
        vol.Optional(CONF_COMMAND_OFF, default=0): REGISTER_VALUE,
        vol.Optional(CONF_BIT): BIT,
        vol.Optional(CONF_BYTE_ORDER, default=Order.BIG): _choice(Order),
        vol.Optional(CONF_VERIFY, default=True): bool,
    }),
    _check_point,
)

NUMBER_SCHEMA = vol.All(
    vol.Schema({
        **POINT_FIELDS,
        **VALUE_FIELDS,
        vol.Optional(CONF_MIN, default=0.0): vol.Coerce(float),
        vol.Optional(CONF_MAX, default=100.0): vol.Coerce(float),
        vol.Optional(CONF_STEP, default=1.0): vol.All(vol.Coerce(float), vol.Range(min=1e-9)),
        vol.Optional(CONF_UNIT): str,
        vol.Optional(CONF_VERIFY, default=True): bool,
    }),
    _check_number,
)

PLATFORM_SCHEMAS: dict[str, Any] = {
    CONF_SENSORS: SENSOR_SCHEMA,
    CONF_BINARY_SENSORS: BINARY_SENSOR_SCHEMA,
    CONF_SWITCHES: SWITCH_SCHEMA,
    CONF_NUMBERS: NUMBER_SCHEMA,
}



def point_identity(point: Mapping[str, Any]) -> str:
    """What makes a point unique in its hub's list: its ``unique_id``, else its name."""
    return str(point.get(CONF_UNIQUE_ID) or point[CONF_NAME])


#: Points added in the options flow extend the hub's own lists (a UI point whose
#: identity a YAML point took since is skipped with a warning: YAML wins).
OPTIONS_LAYOUT = OptionsLayout(lists=tuple(PLATFORM_SCHEMAS), identity=point_identity)


# -- hubs --------------------------------------------------------------------------------------


HUB_FIELDS: dict[Any, Any] = {
    vol.Required(CONF_NAME): NAME,
    vol.Optional(CONF_TYPE, default=HubType.TCP): _choice(HubType),
    vol.Optional(CONF_HOST): vol.All(str, vol.Length(min=1)),
    vol.Optional(CONF_PORT): vol.Any(TCP_PORT, vol.All(str, vol.Length(min=1)),
                                     msg="expected a TCP port number or a serial device path"),
    vol.Optional(CONF_BAUDRATE, default=DEFAULT_BAUDRATE): vol.All(int, vol.Range(min=50)),
    vol.Optional(CONF_BYTESIZE, default=8): vol.In([5, 6, 7, 8]),
    vol.Optional(CONF_PARITY, default="N"): vol.In(["N", "E", "O"]),
    vol.Optional(CONF_STOPBITS, default=1): vol.In([1, 2]),
    vol.Optional(CONF_TIMEOUT, default=DEFAULT_TIMEOUT): vol.All(
        vol.Coerce(float), vol.Range(min=0.01, max=60)
    ),
    vol.Optional(CONF_RETRIES, default=DEFAULT_RETRIES): vol.All(int, vol.Range(min=0, max=10)),
    vol.Optional(CONF_DELAY, default=DEFAULT_DELAY): vol.All(
        vol.Coerce(float), vol.Range(min=0, max=60)
    ),
    vol.Optional(CONF_RECONNECT_DELAY, default=DEFAULT_RECONNECT_DELAY): vol.All(
        vol.Coerce(float), vol.Range(min=0.01, max=300)
    ),
    vol.Optional(CONF_RECONNECT_DELAY_MAX, default=DEFAULT_RECONNECT_DELAY_MAX): vol.All(
        vol.Coerce(float), vol.Range(min=0.01, max=3600)
    ),
    vol.Optional(CONF_SCAN_INTERVAL, default=DEFAULT_SCAN_INTERVAL): SECONDS,
    vol.Optional(CONF_MAX_GAP, default=DEFAULT_MAX_GAP): vol.All(
        int, vol.Range(min=0, max=MAX_READ_REGISTERS)
    ),
    vol.Optional(CONF_MAX_BIT_GAP, default=DEFAULT_MAX_BIT_GAP): vol.All(
        int, vol.Range(min=0, max=2000)
    ),
    vol.Optional(CONF_COALESCE, default=True): bool,
    vol.Optional(CONF_DIAGNOSTICS, default=True): bool,
    vol.Optional(CONF_SLAVE_TIMEOUTS, default=dict): {
        vol.All(vol.Coerce(int), vol.Range(min=0, max=255)): vol.All(
            vol.Coerce(float), vol.Range(min=0.01, max=60)
        )
    },
    **{vol.Optional(key, default=list): [schema] for key, schema in PLATFORM_SCHEMAS.items()},
}


def _check_hub(conf: dict[str, Any]) -> dict[str, Any]:
    """Rules that depend on the hub type, and names that must be unique in a hub."""
    hub_type = conf[CONF_TYPE]
    port = conf.get(CONF_PORT)
    if hub_type is HubType.SERIAL:
        if not isinstance(port, str):
            raise vol.Invalid("a serial hub needs port: the device path, e.g. /dev/ttyUSB0",
                              path=[CONF_PORT])
    else:
        if CONF_HOST not in conf:
            raise vol.Invalid(f"a {hub_type} hub needs host", path=[CONF_HOST])
        if port is None:
            conf[CONF_PORT] = DEFAULT_TCP_PORT
        elif not isinstance(port, int):
            raise vol.Invalid(f"a {hub_type} hub needs a TCP port number", path=[CONF_PORT])
    for platform in PLATFORM_SCHEMAS:
        seen: set[str] = set()
        for index, item in enumerate(conf[platform]):
            key = point_identity(item)
            if key in seen:
                raise vol.Invalid(
                    f"{key!r} appears twice in {platform}; names must be unique per hub",
                    path=[platform, index, CONF_NAME],
                )
            seen.add(key)
    return conf


HUB_SCHEMA = vol.All(vol.Schema(HUB_FIELDS), _check_hub)


def _unique_hub_names(hubs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    for index, hub in enumerate(hubs):
        if hub[CONF_NAME] in seen:
            raise vol.Invalid(f"hub name {hub[CONF_NAME]!r} is used twice",
                              path=[index, CONF_NAME])
        seen.add(hub[CONF_NAME])
    return hubs


#: ``modbus:`` in configuration.yaml: a list of hubs.
CONFIG_SCHEMA = vol.All([HUB_SCHEMA], vol.Length(min=1), _unique_hub_names)


# -- the config flow form --------------------------------------------------------------------

USER_STEP_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_NAME, default="Modbus"): NAME,
        vol.Required(CONF_TYPE, default=str(HubType.TCP)): vol.In(
            [str(HubType.TCP), str(HubType.RTU_OVER_TCP)]
        ),
        vol.Required(CONF_HOST): vol.All(str, vol.Length(min=1)),
        vol.Required(CONF_PORT, default=DEFAULT_TCP_PORT): vol.All(
            vol.Coerce(int), vol.Range(min=1, max=65535)
        ),
        vol.Optional(CONF_TIMEOUT, default=DEFAULT_TIMEOUT): vol.All(
            vol.Coerce(float), vol.Range(min=0.01, max=60)
        ),
    }
)


# -- the options flow: points added in the web UI ------------------------------------------

#: The options flow's platform choice → the YAML key its points are stored under.
PLATFORM_KEYS: dict[str, str] = {
    "sensor": CONF_SENSORS,
    "binary_sensor": CONF_BINARY_SENSORS,
    "switch": CONF_SWITCHES,
    "number": CONF_NUMBERS,
}

#: Point fields the one-point form leaves to YAML (blocks that expand to many entities).
_NOT_IN_FORM = frozenset({CONF_UNIQUE_ID, CONF_SLAVE_COUNT, CONF_ADDRESS_COUNT,
                          CONF_ADDRESS_STRIDE})


def _form_validator(validator: Any) -> Any:
    """A point field's validator as a form can render it (the point schema still decides).

    Enum choices become their plain strings (a select); the scale becomes a float field.
    """
    if (isinstance(validator, vol.All) and validator.validators
            and isinstance(validator.validators[0], vol.In)):
        return validator.validators[0]
    if validator is _scale:
        return vol.Coerce(float)
    return validator


def _form_key(key: Any) -> Any:
    default = key.default
    if default is vol.UNDEFINED:
        return type(key)(key.schema)
    value = default()
    return type(key)(key.schema, default=str(value) if isinstance(value, enum.Enum) else value)


def point_form_schema(platform: str) -> vol.Schema:
    """The form to add one point of ``platform``: the fields of the YAML point schema."""
    point_schema = PLATFORM_SCHEMAS[PLATFORM_KEYS[platform]]
    fields: dict[Any, Any] = point_schema.validators[0].schema
    first = [CONF_NAME, CONF_SLAVE, CONF_ADDRESS, CONF_INPUT_TYPE, CONF_WRITE_TYPE, CONF_DATA_TYPE]
    ordered = sorted(
        (key for key in fields if key.schema not in _NOT_IN_FORM),
        key=lambda k: first.index(k.schema) if k.schema in first else len(first),
    )
    return vol.Schema({_form_key(key): _form_validator(fields[key]) for key in ordered})


def plain_point(point: dict[str, Any]) -> dict[str, Any]:
    """A validated point with enum members written as strings (stored as JSON)."""
    return {k: str(v) if isinstance(v, enum.Enum) else v for k, v in point.items()}
