"""Converting our values to the node's own data type before a write, and back for states.

OPC UA servers check the Variant type of a write against the variable's DataType and
answer ``BadTypeMismatch`` (or worse, silently change the type) when they differ; Python
``5`` would go out as Int64 and ``5.0`` as Double. So the client reads each node's
DataType once, maps it to a ``VariantType`` here, and converts explicitly, refusing
values that do not fit (300 for a Byte, 2.5 for an Int16) instead of truncating them.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from asyncua import ua

from .const import MAX_STATE_LENGTH
from .errors import OpcuaValueError

VT = ua.VariantType

#: Integer variant types and their inclusive ranges.
INT_RANGES: dict[ua.VariantType, tuple[int, int]] = {
    VT.SByte: (-(2**7), 2**7 - 1),
    VT.Byte: (0, 2**8 - 1),
    VT.Int16: (-(2**15), 2**15 - 1),
    VT.UInt16: (0, 2**16 - 1),
    VT.Int32: (-(2**31), 2**31 - 1),
    VT.UInt32: (0, 2**32 - 1),
    VT.Int64: (-(2**63), 2**63 - 1),
    VT.UInt64: (0, 2**64 - 1),
}
FLOAT_TYPES = (VT.Float, VT.Double)
FLOAT32_MAX = 3.4028234663852886e38
WRITABLE_TYPES = frozenset({VT.Boolean, VT.String, VT.DateTime, *INT_RANGES, *FLOAT_TYPES})

_TRUE = frozenset({"true", "on", "yes", "1"})
_FALSE = frozenset({"false", "off", "no", "0"})


def to_variant(value: Any, vtype: ua.VariantType) -> ua.Variant:
    """``value`` as a Variant of exactly ``vtype``; ``OpcuaValueError`` if it cannot be."""
    if vtype not in WRITABLE_TYPES:
        raise OpcuaValueError(f"writing {vtype.name} values is not supported")
    if vtype is VT.Boolean:
        converted: Any = _to_bool(value)
    elif vtype in INT_RANGES:
        converted = _to_int(value, vtype)
    elif vtype in FLOAT_TYPES:
        converted = _to_float(value, vtype)
    elif vtype is VT.DateTime:
        converted = _to_datetime(value)
    elif isinstance(value, bool | int | float | str):
        converted = str(value)
    else:
        raise OpcuaValueError(f"cannot write {type(value).__name__} {value!r} as String")
    return ua.Variant(converted, vtype)


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise OpcuaValueError(f"{value!r} is not a Boolean (use true/false)")


def _to_int(value: Any, vtype: ua.VariantType) -> int:
    if isinstance(value, bool):
        number: int = int(value)
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not value.is_integer():
            raise OpcuaValueError(f"{value!r} is not a whole number, as {vtype.name} needs")
        number = int(value)
    elif isinstance(value, str):
        try:
            number = int(value.strip(), 0)
        except ValueError:
            try:
                return _to_int(float(value), vtype)
            except ValueError:
                raise OpcuaValueError(f"{value!r} is not a number") from None
    else:
        raise OpcuaValueError(f"cannot write {type(value).__name__} {value!r} as {vtype.name}")
    low, high = INT_RANGES[vtype]
    if not low <= number <= high:
        raise OpcuaValueError(f"{number} is outside the {vtype.name} range {low}..{high}")
    return number


def _to_float(value: Any, vtype: ua.VariantType) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise OpcuaValueError(f"cannot write {type(value).__name__} {value!r} as {vtype.name}")
    try:
        number = float(value)
    except ValueError:
        raise OpcuaValueError(f"{value!r} is not a number") from None
    if vtype is VT.Float and math.isfinite(number) and abs(number) > FLOAT32_MAX:
        raise OpcuaValueError(f"{number} does not fit a Float (32-bit)")
    return number


def _to_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise OpcuaValueError(f"{value!r} is not an ISO 8601 date and time") from None
    else:
        raise OpcuaValueError(f"cannot write {type(value).__name__} {value!r} as DateTime")
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def to_json_value(value: Any) -> Any:
    """A read value as service responses carry it: JSON-able, arrays as lists."""
    if isinstance(value, list | tuple):
        return [to_json_value(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, ua.LocalizedText):
        return value.Text or ""
    return str(value)


def to_state_value(value: Any) -> Any:
    """A read value as an entity state holds it: a scalar, strings cut to what fits."""
    plain = to_json_value(value)
    if isinstance(plain, list):
        plain = str(plain)
    if isinstance(plain, str):
        return plain[:MAX_STATE_LENGTH]
    return plain
