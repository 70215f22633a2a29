"""Query parameters of plugin APIs: a time and a bounded whole number, checked the same way.

The audit log's and the quarantine's queries (and any plugin's) take ``since``/``until``
as seconds since 1970 or ISO 8601, and ``limit``/``before`` as bounded integers; a bad
value must be a 400 that names the parameter, never a 500 or a silent default. One
implementation, so every API words and bounds them alike. No aiohttp here: pure parsing.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

#: Later than any real timestamp (year 5138): a bigger number is a typo, not a time.
_LATEST = 1e11


def query_time(name: str, value: Any) -> float:
    """Seconds since 1970 from a number or ISO 8601 text (no zone: UTC); ValueError
    naming ``name`` otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"{name}: expected a time (seconds since 1970 or ISO 8601)")
    if isinstance(value, int | float):
        number = float(value)
    else:
        text = str(value).strip()
        try:
            number = float(text)
        except ValueError:
            try:
                moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                raise ValueError(f"{name}: {text[:64]!r} is not a time (seconds since "
                                 "1970 or ISO 8601)") from None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=dt.UTC)
            return moment.timestamp()
    if not math.isfinite(number) or not 0 <= number < _LATEST:
        raise ValueError(f"{name}: expected seconds since 1970")
    return number


def query_int(name: str, value: Any, *, low: int, high: int) -> int:
    """A whole number in ``low..high``; ValueError naming ``name`` otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"{name}: expected a whole number")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a whole number") from None
    if not low <= number <= high:
        raise ValueError(f"{name}: expected {low} to {high}, got {number}")
    return number
