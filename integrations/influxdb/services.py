"""The ``influxdb.write`` service: arbitrary points, through the entry's outbox.

Registered with the first loaded entry and removed with the last (``LOADED``); it acts
on the entry named by ``entry_id`` (id or title; ``entry`` is the deprecated spelling),
or the only one loaded (``LoadedEntries.pick_entry``: with several, name one). Admin-only: it
writes anything anywhere in the entry's database, past the entities a user's policy
names. The call returns once every point is on disk in the outbox (delivered later,
like state points: the same retries and dead letters). A point with nothing writable
(no fields left after the line protocol's rules) fails the call, naming it, before
anything is queued.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from gatehouse.core import Host, LoadedEntries, ServiceCall
from gatehouse.core.helpers import OutboxError

from .const import DOMAIN, MAX_POINTS_PER_MESSAGE
from .errors import InfluxWriteError
from .lineprotocol import encode, timestamp

if TYPE_CHECKING:
    from .runtime import InfluxdbRuntime


def _time(value: Any) -> float:
    """POSIX seconds, or an ISO 8601 date-time (a naive one is UTC)."""
    if isinstance(value, bool):
        raise vol.Invalid("time must be POSIX seconds or an ISO 8601 date-time")
    if isinstance(value, int | float):
        return float(value)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as err:
        raise vol.Invalid(f"time must be POSIX seconds or ISO 8601, got {value!r}") from err
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


_FIELD_VALUE = vol.Any(bool, int, float, str)

POINT_SCHEMA = vol.Schema(
    {
        vol.Required("measurement"): vol.All(str, vol.Length(min=1)),
        vol.Optional("tags", default=dict): {str: vol.Coerce(str)},
        vol.Required("fields"): vol.All({str: _FIELD_VALUE}, vol.Length(min=1)),
        vol.Optional("time"): _time,
    }
)


def _points(value: Any) -> list[dict[str, Any]]:
    items = value if isinstance(value, list) else [value]
    if not items or len(items) > 10_000:
        raise vol.Invalid("points: between 1 and 10000 points")
    return [POINT_SCHEMA(item) for item in items]


WRITE_SCHEMA = vol.Schema(
    {
        vol.Optional("measurement"): str,
        vol.Optional("tags"): dict,
        vol.Optional("fields"): dict,
        vol.Optional("time"): vol.Any(int, float, str),
        vol.Optional("points"): _points,
        **LoadedEntries.ENTRY_FIELDS,
    }
)


def _register_services(host: Host) -> list[Callable[[], None]]:
    """Admin-only: it writes any point to the entry's database."""
    return [host.services.register(DOMAIN, "write", _write(host), WRITE_SCHEMA, admin_only=True)]


#: Loaded InfluxDB entries of a host, by entry id; the service acts on these.
LOADED: LoadedEntries[InfluxdbRuntime] = LoadedEntries(DOMAIN, _register_services)


def call_points(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The call's points: ``points`` (a list), or one point at the top level."""
    if "points" in data:
        if "measurement" in data or "fields" in data:
            raise vol.Invalid("give points, or measurement/fields, not both")
        points: list[dict[str, Any]] = data["points"]
        return points
    return _points({k: data[k] for k in ("measurement", "tags", "fields", "time") if k in data})


def _write(host: Host) -> Callable[[ServiceCall], Any]:
    async def write(call: ServiceCall) -> None:
        runtime = LOADED.pick_entry(host, call)
        try:
            points = call_points(dict(call.data))
        except vol.Invalid as err:
            raise InfluxWriteError(f"influxdb.write: {err}") from err
        now = time.time()
        precision = runtime.maker.precision
        lines = []
        for index, point in enumerate(points):
            line = encode(
                runtime.maker.escaper, point["measurement"], sorted(point["tags"].items()),
                point["fields"].items(), timestamp(point.get("time", now), precision),
            )
            if line is None:
                raise InfluxWriteError(
                    f"influxdb.write: point {index} ({point['measurement']!r}) has no "
                    "writable field (NaN, infinity, too long or out of range)"
                )
            lines.append(line.encode())
        link = runtime.exporter.link
        size = MAX_POINTS_PER_MESSAGE
        messages = [b"\n".join(lines[i:i + size]) for i in range(0, len(lines), size)]
        try:
            # Commits keep their order: once the last is on disk, so is every other.
            for payload in messages[:-1]:
                link.enqueue_nowait(payload)
            await link.enqueue(messages[-1])
        except OutboxError as err:
            raise InfluxWriteError(f"influxdb.write: not queued: {err}") from err

    return write
