"""What the REST routes and WebSocket commands share: the loaded runtime, the periods,
and who may read what.

Every history, logbook and statistics answer is filtered with the caller's
permissions (``can_read``): an entity the role may not read is left out as if it had
no history (not an error, so its existence is not confirmed either). Statistics are
named by entity id and filtered the same way.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from gatehouse.core import Host

from .errors import RecorderUnavailableError
from .history import parse_time
from .runtime import RecorderRuntime
from .services import LOADED

#: The default period when no end is given (HA: one day).
DEFAULT_PERIOD = 86400.0
#: At most this many entities in one query.
MAX_ENTITIES = 1000


def runtime_of(host: Host) -> RecorderRuntime:
    for runtime in LOADED.runtimes(host).values():
        return runtime
    raise RecorderUnavailableError("the recorder is not loaded")


def period(start: str | None, end: str | None) -> tuple[float, float]:
    """``(start, end)`` POSIX seconds: start defaults to a day ago, end to a day after
    start; ``ValueError`` naming the parameter."""
    begin = parse_time(start, "start_time")
    if begin is None:
        begin = time.time() - DEFAULT_PERIOD
    finish = parse_time(end, "end_time")
    if finish is None:
        finish = begin + DEFAULT_PERIOD
    if finish < begin:
        raise ValueError("end_time: before the start time")
    return begin, finish


def entity_list(value: Any, name: str) -> list[str]:
    """Comma-separated text or a list → lower-case ids, each once; ``ValueError``."""
    items: Iterable[Any]
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list):
        items = value
    else:
        raise ValueError(f"{name}: expected entity ids")
    out: list[str] = []
    for item in items:
        text = str(item).strip().lower()
        if text and text not in out:
            out.append(text)
    if len(out) > MAX_ENTITIES:
        raise ValueError(f"{name}: at most {MAX_ENTITIES} entities")
    return out


def readable(permissions: Any, entity_ids: Iterable[str]) -> list[str]:
    return [e for e in entity_ids if permissions is None or permissions.can_read(e)]


def flag(value: str | None) -> bool:
    """HA's query flags: present (even empty) means on, except "0"/"false"."""
    return value is not None and value.lower() not in ("0", "false", "no")
