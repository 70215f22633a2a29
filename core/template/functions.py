"""Home Assistant's template functions that need no host: conversions, maths, time.

Each behaves as Home Assistant documents it, including its strictness: ``float``,
``int``, ``bool``, ``round``, ``as_timestamp``, ``as_datetime``, ``average``, ``log``...
raise on input they cannot convert unless given a ``default`` (the error names the
function, the input and the template), so a sensor does not silently read 0.

Anything whose cost grows with an argument is bounded first: ``round`` refuses a
precision beyond ±300 digits (``10 ** precision`` is the cost), ``timedelta`` and
``utc_from_timestamp`` turn overflows into errors.
"""

from __future__ import annotations

import base64
import math
import statistics
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from datetime import time as dt_time
from typing import Any, Final, NoReturn

from jinja2 import filters as jf
from jinja2.utils import pass_environment

from ..util import slugify as _slugify
from ..util.jsonpath import loads
from .budget import current_budget
from .states import collect_time

#: "No default given" (None is a valid default).
SENTINEL: Final = object()

DATE_STR_FORMAT: Final = "%Y-%m-%d %H:%M:%S"
_TRUE: Final = frozenset({"1", "true", "yes", "on", "enable"})
_FALSE: Final = frozenset({"0", "false", "no", "off", "disable"})
_MAX_PRECISION: Final = 300


def raise_no_default(function: str, value: Any) -> NoReturn:
    budget = current_budget()
    template = budget.template if budget is not None else ""
    raise ValueError(
        f"{function} got invalid input {value!r} when rendering template {template!r} "
        "but no default was specified"
    )


# -- conversions ------------------------------------------------------------------------


def forgiving_float(value: Any, default: Any = SENTINEL) -> Any:
    try:
        return float(value)
    except (ValueError, TypeError):
        if default is SENTINEL:
            raise_no_default("float", value)
        return default


def forgiving_int(value: Any, default: Any = SENTINEL, base: int = 10) -> Any:
    result = jf.do_int(value, default=default, base=base)
    if result is SENTINEL:
        raise_no_default("int", value)
    return result


def strict_boolean(value: Any) -> bool:
    """Home Assistant's ``cv.boolean``: yes/no words, numbers; ValueError otherwise."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.lower().strip()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    elif isinstance(value, int | float):
        return value != 0
    raise ValueError(f"invalid boolean value {value!r}")


def forgiving_boolean(value: Any, default: Any = SENTINEL) -> Any:
    try:
        return strict_boolean(value)
    except ValueError:
        if default is SENTINEL:
            raise_no_default("bool", value)
        return default


def is_number(value: Any) -> bool:
    try:
        number = float(value)
    except (ValueError, TypeError):
        return False
    return math.isfinite(number)


def iif(value: Any, if_true: Any = True, if_false: Any = False, if_none: Any = SENTINEL) -> Any:
    """Immediate if: ``if_none`` for None (when given), else by truth."""
    if value is None and if_none is not SENTINEL:
        return if_none
    return if_true if value else if_false


# -- maths ------------------------------------------------------------------------------


def forgiving_round(
    value: Any, precision: int = 0, method: str = "common", default: Any = SENTINEL
) -> Any:
    if not isinstance(precision, int) or abs(precision) > _MAX_PRECISION:
        raise ValueError(f"round: precision must be an integer within ±{_MAX_PRECISION}")
    try:
        multiplier = float(10**precision)
        if method == "ceil":
            number = math.ceil(float(value) * multiplier) / multiplier
        elif method == "floor":
            number = math.floor(float(value) * multiplier) / multiplier
        elif method == "half":
            number = round(float(value) * 2) / 2
        else:
            number = round(float(value), precision)
        return int(number) if precision == 0 else number
    except (ValueError, TypeError, OverflowError):
        if default is SENTINEL:
            raise_no_default("round", value)
        return default


def multiply(value: Any, amount: Any, default: Any = SENTINEL) -> Any:
    try:
        return float(value) * amount
    except (ValueError, TypeError):
        if default is SENTINEL:
            raise_no_default("multiply", value)
        return default


def add(value: Any, amount: Any, default: Any = SENTINEL) -> Any:
    try:
        return float(value) + amount
    except (ValueError, TypeError):
        if default is SENTINEL:
            raise_no_default("add", value)
        return default


def logarithm(value: Any, base: Any = math.e, default: Any = SENTINEL) -> Any:
    try:
        return math.log(float(value), float(base))
    except (ValueError, TypeError, ZeroDivisionError):
        if default is SENTINEL:
            raise_no_default("log", value)
        return default


def square_root(value: Any, default: Any = SENTINEL) -> Any:
    try:
        return math.sqrt(float(value))
    except (ValueError, TypeError):
        if default is SENTINEL:
            raise_no_default("sqrt", value)
        return default


def _min_max(builtin: Any, name: str) -> Any:
    """``min(1, 2)`` and ``min([1, 2])`` as globals (jinja's filters take a list)."""

    @pass_environment
    def wrapper(environment: Any, *args: Any, **kwargs: Any) -> Any:
        if not args:
            raise TypeError(f"{name} expected at least 1 argument, got 0")
        if len(args) == 1:
            if isinstance(args[0], Iterable):
                return builtin(environment, args[0], **kwargs)
            raise TypeError(f"'{type(args[0]).__name__}' object is not iterable")
        return builtin(environment, args, **kwargs)

    return wrapper


min_global = _min_max(jf.do_min, "min")
max_global = _min_max(jf.do_max, "max")


def _numbers_of(args: tuple[Any, ...], name: str, default: Any) -> tuple[Any, Any]:
    if not args:
        raise TypeError(f"{name} expected at least 1 argument, got 0")
    if isinstance(args[0], Iterable) and not isinstance(args[0], str):
        if len(args) > 1 and default is SENTINEL:
            default = args[1]
        return args[0], default
    if len(args) == 1:
        raise TypeError(f"'{type(args[0]).__name__}' object is not iterable")
    return args, default


def average(*args: Any, default: Any = SENTINEL) -> Any:
    values, default = _numbers_of(args, "average", default)
    try:
        return statistics.fmean(values)
    except (TypeError, ValueError, statistics.StatisticsError):
        if default is SENTINEL:
            raise_no_default("average", args)
        return default


def median(*args: Any, default: Any = SENTINEL) -> Any:
    values, default = _numbers_of(args, "median", default)
    try:
        return statistics.median(values)
    except (TypeError, ValueError, statistics.StatisticsError):
        if default is SENTINEL:
            raise_no_default("median", args)
        return default


def statistical_mode(*args: Any, default: Any = SENTINEL) -> Any:
    values, default = _numbers_of(args, "statistical_mode", default)
    try:
        return statistics.mode(values)
    except (TypeError, ValueError, statistics.StatisticsError):
        if default is SENTINEL:
            raise_no_default("statistical_mode", args)
        return default


def bitwise_and(first: int, second: int) -> int:
    return first & second


def bitwise_or(first: int, second: int) -> int:
    return first | second


# -- JSON, text -------------------------------------------------------------------------


def to_json(
    value: Any, ensure_ascii: bool = False, pretty_print: bool = False, sort_keys: bool = False
) -> str:
    import json

    return json.dumps(
        value, ensure_ascii=ensure_ascii, indent=2 if pretty_print else None,
        sort_keys=sort_keys, default=str,
    )


def from_json(value: Any, default: Any = SENTINEL) -> Any:
    """The house's JSON reader (it refuses absurd nesting with a ValueError)."""
    try:
        return loads(value)
    except (ValueError, TypeError):
        if default is SENTINEL:
            raise
        return default


def base64_encode(value: Any) -> str:
    data = value if isinstance(value, bytes) else str(value).encode("utf-8")
    return base64.b64encode(data).decode("ascii")


def base64_decode(value: Any, encoding: str | None = "utf-8") -> Any:
    data = base64.b64decode(value)
    return data.decode(encoding) if encoding else data


def slugify(value: Any, separator: str = "_") -> str:
    slug = _slugify(str(value))
    return slug.replace("_", separator) if separator != "_" else slug


def contains(seq: Any, value: Any) -> bool:
    return value in seq


def ordinal(value: Any) -> str:
    number = int(value)
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(
        number % 10, "th"
    )
    return f"{number}{suffix}"


# -- time -------------------------------------------------------------------------------


def local_zone() -> Any:
    """The time zone of the appliance (there is no configured one)."""
    return datetime.now().astimezone().tzinfo


def now() -> datetime:
    """The local time, aware; a tracked template re-renders every minute."""
    collect_time()
    return datetime.now(local_zone())


def utcnow() -> datetime:
    collect_time()
    return datetime.now(UTC)


def parse_datetime(value: str) -> datetime | None:
    """An ISO 8601 date and time (naive when the text has no offset), or None."""
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        return None


def _utc_from_timestamp(timestamp: float) -> datetime:
    try:
        return datetime.fromtimestamp(timestamp, UTC)
    except (OverflowError, OSError) as err:
        raise ValueError(f"timestamp out of range: {timestamp!r}") from err


def as_timestamp(value: Any, default: Any = SENTINEL) -> Any:
    parsed = value if isinstance(value, datetime) else parse_datetime(str(value))
    if parsed is None:
        if default is SENTINEL:
            raise_no_default("as_timestamp", value)
        return default
    return parsed.timestamp()


def as_datetime(value: Any, default: Any = SENTINEL) -> Any:
    """A datetime as is; a date at midnight; a number (or numeric text) as a UNIX time;
    ISO text parsed. Other text gives None without a default, as in Home Assistant."""
    if type(value) is datetime:
        return value
    if type(value) is date:
        return datetime.combine(value, dt_time(0, 0, 0))
    try:
        timestamp = float(value)
    except (ValueError, TypeError):
        parsed = parse_datetime(value) if isinstance(value, str) else None
        if parsed is not None:
            return parsed
        if default is SENTINEL:
            if isinstance(value, str):
                return None
            raise_no_default("as_datetime", value)
        return default
    try:
        return _utc_from_timestamp(timestamp)
    except ValueError:
        if default is SENTINEL:
            raise_no_default("as_datetime", value)
        return default


def as_local(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=local_zone())
    return value.astimezone(local_zone())


def _timestamp_format(name: str, value: Any, fmt: str, local: bool, default: Any) -> Any:
    try:
        moment = _utc_from_timestamp(float(value))
        return (as_local(moment) if local else moment).strftime(fmt)
    except (ValueError, TypeError):
        if default is SENTINEL:
            raise_no_default(name, value)
        return default


def timestamp_custom(
    value: Any, format_string: str = DATE_STR_FORMAT, local: bool = True,
    default: Any = SENTINEL,
) -> Any:
    return _timestamp_format("timestamp_custom", value, format_string, local, default)


def timestamp_local(value: Any, default: Any = SENTINEL) -> Any:
    try:
        return as_local(_utc_from_timestamp(float(value))).isoformat()
    except (ValueError, TypeError):
        if default is SENTINEL:
            raise_no_default("timestamp_local", value)
        return default


def timestamp_utc(value: Any, default: Any = SENTINEL) -> Any:
    try:
        return _utc_from_timestamp(float(value)).isoformat()
    except (ValueError, TypeError):
        if default is SENTINEL:
            raise_no_default("timestamp_utc", value)
        return default


def make_timedelta(*args: Any, **kwargs: Any) -> timedelta:
    try:
        return timedelta(*args, **kwargs)
    except OverflowError as err:
        raise ValueError(f"timedelta out of range: {err}") from err


def today_at(time_str: str = "") -> datetime:
    """Today (local) at ``time_str`` (``HH:MM[:SS]``)."""
    collect_time()
    today = datetime.now(local_zone()).replace(hour=0, minute=0, second=0, microsecond=0)
    if not time_str:
        return today
    try:
        moment = dt_time.fromisoformat(time_str)
    except ValueError as err:
        raise ValueError(f"could not convert {time_str!r} to a time") from err
    return today.replace(hour=moment.hour, minute=moment.minute, second=moment.second)


def get_age(moment: datetime) -> str:
    """How long ago ``moment`` was, in its largest unit: ``2 hours``, ``1 day``."""
    delta = (datetime.now(UTC) - moment).total_seconds()
    rounded = round(delta)
    unit = "year"
    for name, factor in (("second", 60), ("minute", 60), ("hour", 24), ("day", 30),
                         ("month", 12)):
        if rounded < factor:
            unit = name
            break
        delta /= factor
        rounded = round(delta)
    return f"1 {unit}" if rounded == 1 else f"{rounded:d} {unit}s"


def relative_time(value: Any) -> Any:
    """The age of a past datetime (``2 hours``); anything else unchanged."""
    collect_time()
    if not isinstance(value, datetime):
        return value
    if value.tzinfo is None:
        value = as_local(value)
    if datetime.now(UTC) < value:
        return value
    return get_age(value)


def strptime(value: str, fmt: str, default: Any = SENTINEL) -> Any:
    try:
        return datetime.strptime(value, fmt)
    except (ValueError, TypeError):
        if default is SENTINEL:
            raise_no_default("strptime", value)
        return default
