"""History and statistics in Home Assistant's JSON shapes, for the REST and WebSocket API.

* REST ``/api/history/period``: a list per entity of full states (``entity_id``,
  ``state``, ``attributes``, ``last_changed``, ``last_updated`` as ISO 8601); with
  ``minimal_response`` the first state is full and the others only ``state`` and
  ``last_changed``; with ``no_attributes`` attributes are ``{}``.
* WebSocket ``history/history_during_period`` and ``history/stream``: HA's compressed
  states ``{entity_id: [{"s", "a", "lu", "lc"?}]}``, times as POSIX seconds, ``lc``
  only when it differs from ``lu``; minimal: ``{"s", "lu"}`` after the first.
* ``recorder/statistics_during_period``: ``{statistic_id: [{"start", "end", "mean",
  "min", "max"}]}``, times in milliseconds (HA 2023.3+).

The time parameters are HA's: ISO 8601, a naive time taken as UTC.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from json.encoder import encode_basestring_ascii
from typing import Any

from .queries import Found, Row

#: Domains whose every state keeps its attributes in a minimal response (HA's
#: ``NEED_ATTRIBUTE_DOMAINS``).
NEED_ATTRIBUTE_DOMAINS = frozenset({"climate", "humidifier", "input_datetime", "thermostat",
                                    "water_heater"})
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


#: Rows per piece of ``rest_history_json``: a piece is a few ms of work, so a caller
#: on the loop (or a stream) can interleave it with other tasks.
REST_PIECE_ROWS = 1000


class _IsoCache:
    """``iso(ts)`` without a ``datetime`` per row, for times mostly in order: the text
    up to the minute is made by ``iso`` when the minute changes; the seconds and
    microseconds are formatted here, rounded as ``datetime.fromtimestamp`` rounds
    (the fraction times 1e6, half to even: Python's ``round``). The fraction is the
    same double as ``math.modf``'s: ``ts - minute_start`` and ``- second`` are exact
    (Sterbenz). Identical output to ``iso`` is proven in tests; anything unusual
    (negative, not finite, past year 9999) goes to ``iso``."""

    __slots__ = ("prefix", "start")

    def __init__(self) -> None:
        self.start = -1e300  # no minute yet
        self.prefix = ""

    def __call__(self, ts: float) -> str:
        offset = ts - self.start
        if 0.0 <= offset < 60.0:
            second = int(offset)
            micro = round((offset - second) * 1e6)
            if not micro:
                return f"{self.prefix}{second:02d}+00:00"
            if micro < 1_000_000:
                return f"{self.prefix}{second:02d}.{micro:06d}+00:00"
        return self._new_minute(ts)

    def _new_minute(self, ts: float) -> str:
        if not 0.0 <= ts < 253_402_300_799.0:  # also NaN
            return iso(ts)
        frac, whole_f = math.modf(ts)
        micro = round(frac * 1e6)
        whole = int(whole_f)
        if micro >= 1_000_000:
            micro -= 1_000_000
            whole += 1
        minute, second = divmod(whole, 60)
        self.start = minute * 60.0
        self.prefix = iso(self.start)[:17]
        if micro:
            return f"{self.prefix}{second:02d}.{micro:06d}+00:00"
        return f"{self.prefix}{second:02d}+00:00"


def _json_value(value: Any, cache: dict[Any, str]) -> str:
    text = cache.get(value)
    if text is None:
        text = encode_basestring_ascii(value) if type(value) is str else json.dumps(value)
        if len(cache) < 4096:
            cache[value] = text
    return text


def rest_history_json(found: Found, *, minimal: bool, no_attributes: bool,
                      piece_rows: int = REST_PIECE_ROWS) -> Iterator[str]:
    """``json.dumps(rest_history(...))`` in pieces, byte for byte the same text.

    WHY: a day at 1 Hz is 86,400 state dicts (attributes repeated in each, as HA's
    ``State.as_dict`` does); building and encoding them took ~300 ms. Here each
    attributes dict is encoded once and its text spliced into every row that shares
    it, the entity id and states are encoded once, and rows are formatted from a
    template. Pieces of ``piece_rows`` rows let the caller send while encoding."""
    attr_text: dict[Any, str] = {}
    states_text: dict[Any, str] = {}
    to_iso = _IsoCache()
    attributes = found.attributes
    yield "["
    for number, (entity_id, rows) in enumerate(found.states.items()):
        keep_attrs = entity_id.split(".", 1)[0] in NEED_ATTRIBUTE_DOMAINS
        head = '{"entity_id": ' + encode_basestring_ascii(entity_id) + ', "state": '
        yield ", [" if number else "["
        texts: list[str] = []
        for index, (state, key, changed, updated) in enumerate(rows):
            state_text = states_text.get(state) if type(state) is str else None
            if state_text is None:
                state_text = _json_value(state, states_text)
            if minimal and index and not keep_attrs:
                texts.append(f'{{"state": {state_text}, "last_changed": "{to_iso(changed)}"}}')
            else:
                attrs: str | None = "{}" if no_attributes else attr_text.get(key)
                if attrs is None:
                    attrs = attr_text[key] = json.dumps(attributes.get(key, {}))
                updated_text = to_iso(updated)
                changed_text = updated_text if changed == updated else to_iso(changed)
                texts.append(f'{head}{state_text}, "attributes": {attrs}, "last_changed": '
                             f'"{changed_text}", "last_updated": "{updated_text}"}}')
            if len(texts) >= piece_rows:  # a piece; ", " first unless it starts the list
                yield (", " if index >= len(texts) else "") + ", ".join(texts)
                texts = []
        if texts:
            yield (", " if len(rows) > len(texts) else "") + ", ".join(texts)
        yield "]"
    yield "]"


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
