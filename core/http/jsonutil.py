"""JSON for the API: one encoder for every core type, and NaN-safe output.

Entity attributes may hold anything an integration put there (sets, datetimes, enums,
read-only mappings); ``default`` turns each into plain JSON. Python's ``json`` writes
``NaN`` for float('nan'), which browsers' ``JSON.parse`` rejects, so output is produced
with ``allow_nan=False`` and, only when that fails, the value is sanitised (NaN and
infinities become null) and encoded again: the common case pays nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import math
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

from ..context import Context
from ..states import State


def json_default(obj: Any) -> Any:
    if isinstance(obj, State):
        return obj.as_dict()
    if isinstance(obj, Context):
        return obj.as_dict()
    if isinstance(obj, Mapping):
        return dict(obj)
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    if isinstance(obj, dt.datetime | dt.date | dt.time):
        return obj.isoformat()
    if isinstance(obj, dt.timedelta):
        return obj.total_seconds()
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, PurePath):
        return str(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, bytes):
        return obj.decode("utf-8", "replace")
    return str(obj)


def dumps(obj: Any) -> str:
    """Compact JSON text of ``obj`` (NaN and infinities as null)."""
    try:
        return json.dumps(
            obj, default=json_default, separators=(",", ":"), allow_nan=False,
            ensure_ascii=False,
        )
    except ValueError:
        return json.dumps(
            _sanitise(json.loads(json.dumps(obj, default=json_default))),
            separators=(",", ":"),
            allow_nan=False,
            ensure_ascii=False,
        )


def dumpb(obj: Any) -> bytes:
    return dumps(obj).encode("utf-8")


def _sanitise(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _sanitise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_sanitise(v) for v in value]
    return value
