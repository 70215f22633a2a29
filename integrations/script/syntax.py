"""Both of Home Assistant's spellings, brought to one before anything is compiled.

The older syntax writes ``trigger:``/``condition:``/``action:`` at the top of an
automation, ``platform:`` in a trigger and ``service:`` in an action; the newer one
(2024.8+) writes ``triggers:``/``conditions:``/``actions:``, ``trigger:`` and
``action:``. Files mix them freely, so ``normalize_*`` rewrite every spelling into the
newer one (a copy; the input is left alone) and the compilers read only that.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import ScriptConfigError

#: Keys that make a mapping a particular action (Home Assistant's order of checks).
ACTION_KEYS = (
    "delay", "wait_template", "wait_for_trigger", "event", "condition", "choose", "if",
    "repeat", "parallel", "sequence", "variables", "stop", "action",
)


def as_list(value: Any) -> list[Any]:
    """``None`` → ``[]``, a single item → ``[item]``, a list as it is."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def _both(config: Mapping[str, Any], new: str, old: str, where: str) -> Any:
    if new in config and old in config:
        raise ScriptConfigError(f"{where}: use either {new!r} or {old!r}, not both")
    return config.get(new, config.get(old))


def normalize_automation(config: Mapping[str, Any]) -> dict[str, Any]:
    """An automation with ``triggers``/``conditions``/``actions`` in the newer syntax."""
    out = {k: v for k, v in config.items()
           if k not in ("trigger", "triggers", "condition", "conditions", "action", "actions")}
    where = f"automation {config.get('alias') or config.get('id') or ''}".strip()
    out["triggers"] = [normalize_trigger(t) for t in
                       as_list(_both(config, "triggers", "trigger", where))]
    out["conditions"] = [normalize_condition(c) for c in
                         as_list(_both(config, "conditions", "condition", where))]
    out["actions"] = normalize_actions(_both(config, "actions", "action", where))
    return out


def normalize_trigger(config: Any) -> dict[str, Any]:
    if not isinstance(config, Mapping):
        raise ScriptConfigError(f"a trigger must be a mapping, got {config!r}")
    out = dict(config)
    platform = _both(config, "trigger", "platform", "trigger")
    if platform is None:
        raise ScriptConfigError("a trigger needs 'trigger:' (or 'platform:') naming its kind")
    out.pop("platform", None)
    out["trigger"] = str(platform)
    return out


def normalize_condition(config: Any) -> Any:
    """Shorthands kept apart here: a template string, ``{and|or|not: [...]}``."""
    if isinstance(config, str):
        return {"condition": "template", "value_template": config}
    if not isinstance(config, Mapping):
        raise ScriptConfigError(f"a condition must be a mapping or a template, got {config!r}")
    out = dict(config)
    if "condition" not in out:
        for word in ("and", "or", "not"):
            if word in out:
                out["conditions"] = out.pop(word)
                out["condition"] = word
                break
        else:
            raise ScriptConfigError(f"a condition needs 'condition:' naming its kind: {config!r}")
    if out["condition"] in ("and", "or", "not"):
        out["conditions"] = [normalize_condition(c) for c in as_list(out.get("conditions"))]
    return out


def normalize_actions(value: Any) -> list[dict[str, Any]]:
    return [normalize_action(a) for a in as_list(value)]


def normalize_action(config: Any) -> dict[str, Any]:
    if not isinstance(config, Mapping):
        raise ScriptConfigError(f"an action must be a mapping, got {config!r}")
    out = dict(config)
    if "service" in out or "service_template" in out:
        if "action" in out:
            raise ScriptConfigError("an action has both 'action:' and 'service:'")
        out["action"] = out.pop("service", None) or out.pop("service_template")
    if "data_template" in out:
        out["data"] = {**dict(out.get("data") or {}), **dict(out.pop("data_template"))}
    if "service_data" in out:
        out["data"] = {**dict(out.get("data") or {}), **dict(out.pop("service_data"))}
    if "event_data_template" in out:
        out["event_data"] = {**dict(out.get("event_data") or {}),
                             **dict(out.pop("event_data_template"))}
    kind = action_kind(out)
    if kind == "condition":
        return {**normalize_condition({k: v for k, v in out.items()
                                       if k not in ("alias", "enabled", "continue_on_error")}),
                **{k: out[k] for k in ("alias", "enabled", "continue_on_error") if k in out}}
    if kind == "choose":
        out["choose"] = [
            {**dict(opt), "conditions": [normalize_condition(c)
                                         for c in as_list(opt.get("conditions"))],
             "sequence": normalize_actions(opt.get("sequence"))}
            for opt in as_list(out["choose"]) if isinstance(opt, Mapping)
        ]
        if "default" in out:
            out["default"] = normalize_actions(out["default"])
    elif kind == "if":
        out["if"] = [normalize_condition(c) for c in as_list(out["if"])]
        out["then"] = normalize_actions(out.get("then"))
        if "else" in out:
            out["else"] = normalize_actions(out["else"])
    elif kind == "repeat":
        repeat = dict(out["repeat"])
        repeat["sequence"] = normalize_actions(repeat.get("sequence"))
        for key in ("while", "until"):
            if key in repeat:
                repeat[key] = [normalize_condition(c) for c in as_list(repeat[key])]
        out["repeat"] = repeat
    elif kind == "parallel":
        out["parallel"] = [
            {"sequence": normalize_actions(item["sequence"])}
            if isinstance(item, Mapping) and set(item) <= {"sequence", "alias"}
            and "sequence" in item else normalize_action(item)
            for item in as_list(out["parallel"])
        ]
    elif kind == "sequence":
        out["sequence"] = normalize_actions(out["sequence"])
    elif kind == "wait_for_trigger":
        out["wait_for_trigger"] = [normalize_trigger(t) for t in as_list(out["wait_for_trigger"])]
    return out


def action_kind(config: Mapping[str, Any]) -> str:
    """Which action a mapping is (``ScriptConfigError`` if none)."""
    for key in ACTION_KEYS:
        if key in config:
            return key
    if "scene" in config or "device_id" in config:
        raise ScriptConfigError(
            f"{'scene' if 'scene' in config else 'device'} actions are not supported here")
    raise ScriptConfigError(f"cannot tell which action this is: {dict(config)!r}")
