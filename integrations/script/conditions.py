"""Conditions: compiled once into plain functions of the run's variables.

``compile_condition(host, config)`` returns ``check(variables, trace, path) -> bool``.
Checks are synchronous and cheap (a dict lookup and a comparison for a state
condition), so an automation's conditions are evaluated inline, in the event listener,
before any task is started: a trigger whose conditions fail costs no task at all.
Each check records itself in the run's trace under ``path``, with its result.

Kinds: ``state`` (``entity_id``, ``state``, ``attribute``, ``for``, ``match``),
``numeric_state`` (``above``/``below`` numbers or entity ids, ``attribute``,
``value_template``), ``template``, ``time`` (``after``, ``before``, ``weekday``),
``trigger`` (``id``), ``and``/``or``/``not``; shorthands are normalised in ``syntax``.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

from gatehouse.core import Host

from .errors import ScriptConfigError, ScriptTemplateError
from .syntax import as_list, normalize_condition
from .templating import is_template, render, truthy
from .timeparse import check_duration, duration, parse_time
from .trace import RunTrace

Variables: TypeAlias = Mapping[str, Any]
Check: TypeAlias = Callable[[Variables, RunTrace | None, str], bool]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _record(trace: RunTrace | None, path: str, result: bool, **extra: Any) -> bool:
    if trace is not None:
        trace.step(path, result={"result": result, **extra})
    return result


def compile_conditions(host: Host, configs: list[Any]) -> Check | None:
    """All of ``configs`` (an automation's ``conditions``), or None when there are none.

    Steps are recorded as ``<path>/<index>`` (``condition/0``...).
    """
    checks = [compile_condition(host, normalize_condition(c)) for c in configs]
    checks = [c for c in checks if c is not None]
    if not checks:
        return None

    def all_of(variables: Variables, trace: RunTrace | None, path: str) -> bool:
        return all(check(variables, trace, f"{path}/{i}") for i, check in enumerate(checks))

    return all_of


def compile_condition(host: Host, config: Mapping[str, Any]) -> Check:
    """One normalised condition. ``enabled: false`` makes a check that always passes."""
    if config.get("enabled") is False:
        return lambda variables, trace, path: _record(trace, path, True, enabled=False)
    kind = config.get("condition")
    builder = _BUILDERS.get(str(kind))
    if builder is None:
        raise ScriptConfigError(
            f"unknown condition {kind!r}; known: {', '.join(sorted(_BUILDERS))}")
    try:
        return builder(host, config)
    except (KeyError, TypeError, ValueError) as err:
        raise ScriptConfigError(f"condition {kind}: {err}") from err


def _combined(host: Host, config: Mapping[str, Any]) -> Check:
    kind = config["condition"]
    children = [compile_condition(host, normalize_condition(c))
                for c in as_list(config.get("conditions"))]

    def check(variables: Variables, trace: RunTrace | None, path: str) -> bool:
        results = (child(variables, trace, f"{path}/conditions/{i}")
                   for i, child in enumerate(children))
        if kind == "and":
            verdict = all(results)
        elif kind == "or":
            verdict = any(results)
        else:
            verdict = not any(results)
        return _record(trace, path, verdict)

    return check


def _entities(config: Mapping[str, Any]) -> list[str]:
    ids = [str(e) for e in as_list(config.get("entity_id"))]
    if not ids:
        raise ScriptConfigError(f"condition {config.get('condition')} needs entity_id")
    return ids


def _state(host: Host, config: Mapping[str, Any]) -> Check:
    entity_ids = _entities(config)
    if "state" not in config:
        raise ScriptConfigError("state condition needs 'state'")
    wanted = [str(s) if not isinstance(s, bool) else ("on" if s else "off")
              for s in as_list(config["state"])]
    attribute = config.get("attribute")
    if attribute is not None:
        wanted_values: list[Any] = list(as_list(config["state"]))
    hold = config.get("for")
    if hold is not None:
        check_duration(hold)
    match_any = config.get("match", "all") == "any"

    def one(entity_id: str, variables: Variables) -> tuple[bool, Any]:
        state = host.states.get(entity_id)
        if state is None:
            return False, None
        if attribute is not None:
            value = state.attributes.get(str(attribute))
            ok = value in wanted_values or str(value) in wanted
        else:
            value = state.state
            ok = value in wanted
        if ok and hold is not None:
            ok = time.time() - state.last_changed >= duration(host, hold, variables)
        return ok, value

    def check(variables: Variables, trace: RunTrace | None, path: str) -> bool:
        results = [one(e, variables) for e in entity_ids]
        verdict = any(r[0] for r in results) if match_any else all(r[0] for r in results)
        return _record(trace, path, verdict, state=[r[1] for r in results], wanted_state=wanted)

    return check


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number  # NaN is no number


def numeric_limit(host: Host, limit: Any) -> float | None:
    """``above``/``below``: a number, or an entity id whose state is one."""
    if limit is None:
        return None
    if isinstance(limit, str) and "." in limit and _number(limit) is None:
        state = host.states.get(limit)
        return _number(state.state) if state is not None else None
    return _number(limit)


def numeric_value(host: Host, config: Mapping[str, Any], entity_id: str,
                  variables: Variables) -> float | None:
    """The value a numeric_state trigger or condition compares (None: not a number)."""
    state = host.states.get(entity_id)
    if state is None:
        return None
    template = config.get("value_template")
    attribute = config.get("attribute")
    if template is not None:
        try:
            value = render(host, str(template), {**variables, "state": state})
        except ScriptTemplateError:
            return None
    elif attribute is not None:
        value = state.attributes.get(str(attribute))
    else:
        value = state.state
    return _number(value)


def in_range(host: Host, value: float | None, config: Mapping[str, Any]) -> bool:
    if value is None:
        return False
    above = numeric_limit(host, config.get("above"))
    below = numeric_limit(host, config.get("below"))
    if config.get("above") is not None and (above is None or not value > above):
        return False
    return not (config.get("below") is not None and (below is None or not value < below))


def _numeric_state(host: Host, config: Mapping[str, Any]) -> Check:
    entity_ids = _entities(config)
    if config.get("above") is None and config.get("below") is None:
        raise ScriptConfigError("numeric_state condition needs 'above' and/or 'below'")

    def check(variables: Variables, trace: RunTrace | None, path: str) -> bool:
        values = [numeric_value(host, config, e, variables) for e in entity_ids]
        verdict = all(in_range(host, v, config) for v in values)
        return _record(trace, path, verdict, state=values)

    return check


def _template(host: Host, config: Mapping[str, Any]) -> Check:
    source = config.get("value_template")
    if not isinstance(source, str) or not is_template(source):
        raise ScriptConfigError("template condition needs a value_template with {{ }}")

    def check(variables: Variables, trace: RunTrace | None, path: str) -> bool:
        try:
            value = render(host, source, variables)
        except ScriptTemplateError as err:
            if trace is not None:
                trace.step(path, result={"result": False}, error=err)
            return False
        return _record(trace, path, truthy(value), entities=[])

    return check


def _time(host: Host, config: Mapping[str, Any]) -> Check:
    after = parse_time(config["after"]) if config.get("after") is not None else None
    before = parse_time(config["before"]) if config.get("before") is not None else None
    days = [str(d).lower() for d in as_list(config.get("weekday"))]
    for day in days:
        if day not in WEEKDAYS:
            raise ScriptConfigError(f"weekday {day!r} is not one of {', '.join(WEEKDAYS)}")

    def check(variables: Variables, trace: RunTrace | None, path: str) -> bool:
        now = dt.datetime.now().astimezone()
        return _record(trace, path, time_matches(now, after, before, days))

    return check


def time_matches(now: dt.datetime, after: dt.time | None, before: dt.time | None,
                 days: list[str]) -> bool:
    """Home Assistant's rule: ``after`` later than ``before`` spans midnight."""
    if days and WEEKDAYS[now.weekday()] not in days:
        return False
    clock = now.time().replace(tzinfo=None)
    start = after or dt.time(0)
    end = before or dt.time(23, 59, 59, 999999)
    if start <= end:
        return start <= clock < end if before is not None else start <= clock
    return clock >= start or clock < end


def _trigger(host: Host, config: Mapping[str, Any]) -> Check:
    ids = [str(i) for i in as_list(config.get("id"))]
    if not ids:
        raise ScriptConfigError("trigger condition needs 'id'")

    def check(variables: Variables, trace: RunTrace | None, path: str) -> bool:
        trigger = variables.get("trigger")
        got = trigger.get("id") if isinstance(trigger, Mapping) else None
        return _record(trace, path, str(got) in ids)

    return check


_BUILDERS: dict[str, Callable[[Host, Mapping[str, Any]], Check]] = {
    "and": _combined,
    "or": _combined,
    "not": _combined,
    "state": _state,
    "numeric_state": _numeric_state,
    "template": _template,
    "time": _time,
    "trigger": _trigger,
}
