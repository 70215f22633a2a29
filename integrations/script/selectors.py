"""Blueprint input selectors: Home Assistant's, checked against the values given.

``check_selector(host, selector, value)`` returns why ``value`` does not fit, or None.
Known: ``entity`` (``domain``, ``device_class``, ``integration``, ``multiple``;
``filter:`` lists of those too), ``target``, ``number`` (``min``, ``max``),
``boolean``, ``select`` (``options``, ``multiple``, ``custom_value``), ``text``,
``time``, ``duration``, ``object``, ``template``, ``action``, ``trigger``,
``condition``, and the free-form ``device``, ``area``, ``icon``, ``color_rgb``,
``datetime``, ``date``, ``state``, ``attribute``, ``constant``. A selector we do not
know is reported by ``unknown_selectors`` as missing instead of being guessed at.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gatehouse.core import Host

from .errors import ScriptConfigError
from .syntax import as_list, normalize_actions, normalize_condition, normalize_trigger
from .templating import is_template
from .timeparse import parse_duration, parse_time

_FREE = frozenset({"device", "area", "icon", "color_rgb", "datetime", "date", "state",
                   "attribute", "constant", "color_temp", "addon", "floor", "label",
                   "backup_location", "config_entry", "conversation_agent", "language",
                   "location", "media", "theme", "ui_action", "ui_color"})


def selector_kind(selector: Any) -> str | None:
    if isinstance(selector, Mapping) and len(selector) == 1:
        return str(next(iter(selector)))
    return None


def known_selectors() -> frozenset[str]:
    return frozenset(_CHECKS) | _FREE


def _entity_filters(options: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    filters = [f for f in as_list(options.get("filter")) if isinstance(f, Mapping)]
    own = {k: options[k] for k in ("domain", "device_class", "integration") if k in options}
    if own:
        filters.append(own)
    return filters


def _entity_ok(host: Host, entity_id: str, filters: list[Mapping[str, Any]]) -> str | None:
    if not isinstance(entity_id, str) or "." not in entity_id:
        return f"{entity_id!r} is not an entity id"
    if not filters:
        return None
    domain = entity_id.partition(".")[0]
    state = host.states.get(entity_id)
    for flt in filters:
        domains = [str(d) for d in as_list(flt.get("domain"))]
        if domains and domain not in domains:
            continue
        classes = [str(c) for c in as_list(flt.get("device_class"))]
        if classes:
            got = state.attributes.get("device_class") if state is not None else None
            if got not in classes:
                continue
        return None
    wanted = "; ".join(
        " ".join(f"{k} {', '.join(map(str, as_list(v)))}" for k, v in flt.items())
        for flt in filters)
    return f"{entity_id} does not match the selector ({wanted})"


def _entity(host: Host, options: Mapping[str, Any], value: Any) -> str | None:
    values = as_list(value) if options.get("multiple") else [value]
    if not options.get("multiple") and isinstance(value, list):
        return "expected one entity id, got a list (the selector is not multiple)"
    filters = _entity_filters(options)
    for item in values:
        problem = _entity_ok(host, item, filters)
        if problem:
            return problem
    return None


def _target(host: Host, options: Mapping[str, Any], value: Any) -> str | None:
    if not isinstance(value, Mapping):
        return "expected a target mapping (entity_id, device_id, area_id)"
    extra = set(value) - {"entity_id", "device_id", "area_id", "floor_id", "label_id"}
    if extra:
        return f"unknown target keys {sorted(map(str, extra))}"
    filters = _entity_filters(options.get("entity") or {}) if isinstance(
        options.get("entity"), Mapping) else []
    for entity_id in as_list(value.get("entity_id")):
        problem = _entity_ok(host, entity_id, filters)
        if problem:
            return problem
    return None


def _number(host: Host, options: Mapping[str, Any], value: Any) -> str | None:
    if isinstance(value, bool):
        return f"expected a number, got {value!r}"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return f"expected a number, got {value!r}"
    low, high = options.get("min"), options.get("max")
    if low is not None and number < float(low):
        return f"{value} is below the minimum {low}"
    if high is not None and number > float(high):
        return f"{value} is above the maximum {high}"
    return None


def _boolean(host: Host, options: Mapping[str, Any], value: Any) -> str | None:
    return None if isinstance(value, bool) else f"expected true or false, got {value!r}"


def _select(host: Host, options: Mapping[str, Any], value: Any) -> str | None:
    allowed = [o.get("value") if isinstance(o, Mapping) else o
               for o in as_list(options.get("options"))]
    values = as_list(value) if options.get("multiple") else [value]
    if options.get("custom_value"):
        return None
    for item in values:
        if item not in allowed and str(item) not in map(str, allowed):
            return f"{item!r} is not one of {allowed}"
    return None


def _text(host: Host, options: Mapping[str, Any], value: Any) -> str | None:
    if options.get("multiple"):
        return None if all(isinstance(v, str) for v in as_list(value)) else "expected texts"
    return None if isinstance(value, (str, int, float)) else f"expected text, got {value!r}"


def _time(host: Host, options: Mapping[str, Any], value: Any) -> str | None:
    try:
        parse_time(value)
    except ScriptConfigError as err:
        return str(err)
    return None


def _duration(host: Host, options: Mapping[str, Any], value: Any) -> str | None:
    try:
        parse_duration(value)
    except ScriptConfigError as err:
        return str(err)
    return None


def _object(host: Host, options: Mapping[str, Any], value: Any) -> str | None:
    return None


def _template(host: Host, options: Mapping[str, Any], value: Any) -> str | None:
    return None if isinstance(value, str) else "expected a template (text)"


def _action(host: Host, options: Mapping[str, Any], value: Any) -> str | None:
    try:
        normalize_actions(value)
    except ScriptConfigError as err:
        return str(err)
    return None


def _trigger(host: Host, options: Mapping[str, Any], value: Any) -> str | None:
    try:
        for item in as_list(value):
            normalize_trigger(item)
    except ScriptConfigError as err:
        return str(err)
    return None


def _condition(host: Host, options: Mapping[str, Any], value: Any) -> str | None:
    try:
        for item in as_list(value):
            normalize_condition(item)
    except ScriptConfigError as err:
        return str(err)
    return None


_CHECKS = {
    "entity": _entity,
    "target": _target,
    "number": _number,
    "boolean": _boolean,
    "select": _select,
    "text": _text,
    "time": _time,
    "duration": _duration,
    "object": _object,
    "template": _template,
    "action": _action,
    "trigger": _trigger,
    "condition": _condition,
}


def check_selector(host: Host, selector: Any, value: Any) -> str | None:
    """Why ``value`` does not fit ``selector`` (None: it fits, or the selector is
    free-form). A template string is accepted for any selector: it renders later."""
    kind = selector_kind(selector)
    if kind is None:
        return None
    check = _CHECKS.get(kind)
    if check is None:
        return None
    if is_template(value) and kind not in ("template",):
        return None
    options = selector[kind] if isinstance(selector[kind], Mapping) else {}
    return check(host, options, value)
