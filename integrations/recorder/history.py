"""History and statistics in Home Assistant's JSON shapes, for the REST and WebSocket API.

* REST ``/api/history/period``: a list per entity of full states (``entity_id``,
  ``state``, ``attributes``, ``last_changed``, ``last_updated`` as ISO 8601); with
  ``minimal_response`` the first state is full and the others only ``state`` and
  ``last_changed``; with ``no_attributes`` attributes are ``{}``. ``rest_history``
  is the reference (dicts); the view sends the same text made by ``resttext``.
* WebSocket ``history/history_during_period`` and ``history/stream``: HA's compressed
  states ``{entity_id: [{"s", "a", "lu", "lc"?}]}``, times as POSIX seconds, ``lc``
  only when it differs from ``lu``; minimal: ``{"s", "lu"}`` after the first.
* ``recorder/statistics_during_period``: ``{statistic_id: [{"start", "end", "mean",
  "min", "max"}]}``, times in milliseconds (HA 2023.3+).

The time parameters are HA's: ISO 8601, a naive time taken as UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from .queries import NEED_ATTRIBUTE_DOMAINS, Found, Row

STAT_TYPES = frozenset({"mean", "min", "max"})
PERIODS = ("5minute", "hour", "day", "week", "month")


def parse_time(text: str | None, name: str) -> float | None:
    """POSIX seconds of an ISO 8601 time (naive: UTC); ``ValueError`` naming ``name``."""
    if text is None or text == "":
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        try:  # an unencoded '+' in a query string arrives as a space
            value = datetime.fromisoformat(text.replace(" ", "+"))
        except ValueError:
            raise ValueError(f"{name}: invalid datetime {text!r}") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def rest_history(found: Found, *, minimal: bool,
                 no_attributes: bool) -> list[list[dict[str, Any]]]:
    out: list[list[dict[str, Any]]] = []
    attributes = found.attributes
    for entity_id, rows in found.states.items():
        keep_attrs = entity_id.split(".", 1)[0] in NEED_ATTRIBUTE_DOMAINS
        states: list[dict[str, Any]] = []
        for index, (state, key, changed, updated) in enumerate(rows):
            if minimal and index and not keep_attrs:
                states.append({"state": state, "last_changed": iso(changed)})
                continue
            updated_text = iso(updated)
            states.append({
                "entity_id": entity_id, "state": state,
                "attributes": {} if no_attributes else attributes.get(key, {}),
                "last_changed": updated_text if changed == updated else iso(changed),
                "last_updated": updated_text,
            })
        out.append(states)
    return out


def compressed(rows: Sequence[Row], attributes: Mapping[Any, Mapping[str, Any]], *,
               minimal: bool, no_attributes: bool, entity_id: str) -> list[dict[str, Any]]:
    """HA's compressed states of ``rows`` (``{"s", "a", "lu", "lc"?}``; minimal:
    ``{"s", "lu"}`` after the first)."""
    if not rows:
        return []
    keep_attrs = entity_id.split(".", 1)[0] in NEED_ATTRIBUTE_DOMAINS
    if minimal and not keep_attrs:
        first = _full(rows[0], attributes, no_attributes)
        return [first, *[{"s": state, "lu": updated} for state, _, _, updated in rows[1:]]]
    return [_full(row, attributes, no_attributes) for row in rows]


def _full(row: Row, attributes: Mapping[Any, Mapping[str, Any]],
          no_attributes: bool) -> dict[str, Any]:
    state, key, changed, updated = row
    item: dict[str, Any] = {"s": state, "a": {} if no_attributes else attributes.get(key, {}),
                            "lu": updated}
    if changed != updated:
        item["lc"] = changed
    return item


def ws_history(found: Found, *, minimal: bool,
               no_attributes: bool) -> dict[str, list[dict[str, Any]]]:
    return {entity_id: compressed(rows, found.attributes, minimal=minimal,
                                  no_attributes=no_attributes, entity_id=entity_id)
            for entity_id, rows in found.states.items()}


def _period_start(ts: float, period: str) -> float:
    when = datetime.fromtimestamp(ts, UTC)
    if period == "day":
        when = when.replace(hour=0, minute=0, second=0, microsecond=0)
    elif period == "week":
        when = (when - timedelta(days=when.weekday())).replace(
            hour=0, minute=0, second=0, microsecond=0)
    elif period == "month":
        when = when.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return when.timestamp()


def _period_end(start: float, period: str) -> float:
    when = datetime.fromtimestamp(start, UTC)
    if period == "5minute":
        return start + 300
    if period == "hour":
        return start + 3600
    if period == "day":
        return (when + timedelta(days=1)).timestamp()
    if period == "week":
        return (when + timedelta(days=7)).timestamp()
    month = when.replace(year=when.year + 1, month=1) if when.month == 12 else \
        when.replace(month=when.month + 1)
    return month.timestamp()


def statistics_json(
    found: Mapping[str, Iterable[tuple[float, float | None, float | None, float | None]]],
    period: str, types: Iterable[str],
) -> dict[str, list[dict[str, Any]]]:
    """Rows → HA's shape; ``day``/``week``/``month`` folded from hourly rows (mean of
    the hours' means, min of mins, max of maxes)."""
    wanted = set(types) & STAT_TYPES or STAT_TYPES
    out: dict[str, list[dict[str, Any]]] = {}
    for statistic_id, rows in found.items():
        folded: list[tuple[float, float | None, float | None, float | None]]
        if period in ("5minute", "hour"):
            folded = list(rows)
        else:
            groups: dict[float, list[tuple[float, float | None, float | None,
                                           float | None]]] = {}
            for row in rows:
                groups.setdefault(_period_start(row[0], period), []).append(row)
            folded = []
            for start, members in groups.items():
                means = [m[1] for m in members if m[1] is not None]
                lows = [m[2] for m in members if m[2] is not None]
                highs = [m[3] for m in members if m[3] is not None]
                folded.append((start, sum(means) / len(means) if means else None,
                               min(lows) if lows else None, max(highs) if highs else None))
        items = []
        for start, mean, low, high in folded:
            item: dict[str, Any] = {"start": start * 1000.0,
                                    "end": _period_end(start, period) * 1000.0}
            for name, value in (("mean", mean), ("min", low), ("max", high)):
                if name in wanted:
                    item[name] = value
            items.append(item)
        out[statistic_id] = items
    return out
