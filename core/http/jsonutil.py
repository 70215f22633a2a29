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
from collections.abc import Callable, Mapping
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from pathlib import PurePath
from typing import Any, Final

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


#: The C encoder with ``dumps``' settings, made once: ``json.dumps`` makes a new one per
#: call, which is most of the cost of a small object (a registry entry, a state's
#: attributes). No circular check: a circular value recurses until RecursionError.
c_encode: Callable[[Any, int], list[str]] = c_make_encoder(
    None, json_default, encode_basestring, None, ":", ",", False, False, False
)


def dumpb_fast(obj: Any) -> bytes:
    """``dumpb(obj)``, byte for byte, for the many small objects of one list: anything
    the shared encoder refuses (NaN, infinities, a circular value) goes through
    ``dumpb``, which sanitises or raises as it always did."""
    try:
        return "".join(c_encode(obj, 0)).encode("utf-8")
    except (ValueError, RecursionError):
        return dumpb(obj)


def _sanitise(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _sanitise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_sanitise(v) for v in value]
    return value


#: Deepest nesting accepted in what clients send (REST bodies, WebSocket messages):
#: far beyond any real service data, far below what the encoder or a recursive
#: consumer (validation, comparison of attributes) could choke on.
MAX_JSON_DEPTH: Final = 64


class NestingError(ValueError):
    """JSON from a client nested deeper than ``MAX_JSON_DEPTH``."""


def loads(raw: str | bytes, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse JSON from a client: ``ValueError`` if invalid, ``NestingError`` if too deep.

    The parser itself recurses, so a document nested beyond the interpreter's recursion
    limit raises ``RecursionError`` inside it: that is a client error too, not a bug.
    """
    try:
        value = json.loads(raw)
    except RecursionError:
        raise NestingError(f"JSON nested deeper than {max_depth} levels") from None
    if _deeper_than(value, max_depth):
        raise NestingError(f"JSON nested deeper than {max_depth} levels")
    return value


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether containers nest more than ``limit`` deep (iterative: no recursion)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth >= limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False
