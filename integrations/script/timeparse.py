"""Durations and times of day in Home Assistant's spellings.

``for:``, ``delay:`` and ``timeout:`` accept seconds (``30``), ``"HH:MM[:SS[.fff]]"``
and mappings (``{hours, minutes, seconds, milliseconds, days}``), any of them as a
template. Times of day (``at:``, ``after:``, ``before:``) are ``"HH:MM[:SS]"``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from gatehouse.core import Host

from .errors import ScriptConfigError
from .templating import is_template, render, render_value

_UNITS = {"days": 86400.0, "hours": 3600.0, "minutes": 60.0, "seconds": 1.0,
          "milliseconds": 0.001}


def parse_duration(value: Any) -> float:
    """Seconds of a duration in any accepted spelling (not a template)."""
    if isinstance(value, bool):
        raise ScriptConfigError(f"expected a duration, got {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, dt.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, str):
        seconds = _parse_clock(value)
    elif isinstance(value, Mapping):
        unknown = set(value) - set(_UNITS)
        if unknown:
            raise ScriptConfigError(
                f"unknown duration key(s) {sorted(map(str, unknown))}; use {sorted(_UNITS)}")
        seconds = sum(float(value[key]) * _UNITS[key] for key in value)
    else:
        raise ScriptConfigError(f"expected a duration, got {value!r}")
    if seconds < 0:
        raise ScriptConfigError(f"a duration cannot be negative: {value!r}")
    return seconds


def _parse_clock(text: str) -> float:
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    negative = text.startswith("-")
    parts = text.lstrip("-").split(":")
    if len(parts) not in (2, 3):
        raise ScriptConfigError(f"expected a duration like 00:01:30 or seconds, got {text!r}")
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        raise ScriptConfigError(f"expected a duration like 00:01:30, got {text!r}") from None
    seconds = numbers[0] * 3600 + numbers[1] * 60 + (numbers[2] if len(numbers) == 3 else 0)
    return -seconds if negative else seconds


def check_duration(value: Any) -> Any:
    """Validate at compile time; templates (strings or inside mappings) pass as they are."""
    if is_template(value) or (isinstance(value, Mapping) and any(map(is_template,
                                                                      value.values()))):
        return value
    parse_duration(value)
    return value


def duration(host: Host, value: Any, variables: Mapping[str, Any] | None) -> float:
    """Seconds of ``value`` (rendered first if it holds templates)."""
    if isinstance(value, str) and is_template(value):
        value = render(host, value, variables)
    elif isinstance(value, Mapping):
        value = render_value(host, value, variables)
    return parse_duration(value)


def parse_time(value: Any) -> dt.time:
    """A time of day, ``"HH:MM"`` or ``"HH:MM:SS"``."""
    if isinstance(value, dt.time):
        return value
    if not isinstance(value, str):
        raise ScriptConfigError(f"expected a time like 07:30:00, got {value!r}")
    parts = value.strip().split(":")
    try:
        if len(parts) == 2:
            return dt.time(int(parts[0]), int(parts[1]))
        if len(parts) == 3:
            whole, _, frac = parts[2].partition(".")
            micro = int((frac + "000000")[:6]) if frac else 0
            return dt.time(int(parts[0]), int(parts[1]), int(whole), micro)
    except ValueError:
        pass
    raise ScriptConfigError(f"expected a time like 07:30:00, got {value!r}")
