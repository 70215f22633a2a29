"""The words of an integration's flows, from ``strings.json`` beside its manifest.

Flows speak in identifiers (step ``user``, field ``update_interval``, error
``cannot_connect``); people want "Connect to the hub", "How often to poll" and "s".
Home Assistant keeps those words in a ``strings.json`` per integration; we read the same
structure, so an author who knows HA's knows ours::

    {"config": {"step": {"user": {"title": ..., "description": ...,
                                  "data": {field: label},
                                  "data_description": {field: help},
                                  "data_unit": {field: unit}}},
                "error": {code: message}, "abort": {reason: message}},
     "options": {...the same...}}

``data_unit`` is ours (HA puts units into selectors, which our schemas do not have).
A missing file is fine (the UI falls back to humanised identifiers); a file that is not
JSON or not shaped like the above is a ``ManifestError`` naming the file and the place,
raised when the strings are read, so an author sees it at once and not as an empty form.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from .exceptions import ManifestError

STRINGS_JSON: Final = "strings.json"

_SECTIONS: Final = ("config", "options")
_STEP_TEXTS: Final = ("title", "description")
_STEP_MAPS: Final = ("data", "data_description", "data_unit")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def load_flow_strings(domain: str, package: Path) -> dict[str, Any]:
    """The checked contents of ``package/strings.json``; ``{}`` when there is none."""
    path = package / STRINGS_JSON
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as err:
        raise ManifestError(domain, [f"{path} could not be read: {err}"]) from err
    try:
        content = json.loads(text)
    except ValueError as err:
        raise ManifestError(domain, [f"{path} is not valid JSON: {err}"]) from err
    problems = list(_shape_problems(content))
    if problems:
        raise ManifestError(domain, [f"{path}: {problem}" for problem in problems])
    return dict(content)


def _shape_problems(content: Any) -> list[str]:
    if not isinstance(content, dict):
        return [f"must be a JSON object, not {type(content).__name__}"]
    problems: list[str] = []
    for section in _SECTIONS:
        part = content.get(section)
        if part is None:
            continue
        if not isinstance(part, dict):
            problems.append(f"{section} must be an object")
            continue
        problems += _strings_map(part.get("error"), f"{section}.error")
        problems += _strings_map(part.get("abort"), f"{section}.abort")
        steps = part.get("step", {})
        if not isinstance(steps, dict):
            problems.append(f"{section}.step must be an object")
            continue
        for step_id, step in steps.items():
            where = f"{section}.step.{step_id}"
            if not isinstance(step, dict):
                problems.append(f"{where} must be an object")
                continue
            for key in _STEP_TEXTS:
                if key in step and not isinstance(step[key], str):
                    problems.append(f"{where}.{key} must be a string")
            for key in _STEP_MAPS:
                problems += _strings_map(step.get(key), f"{where}.{key}")
    return problems


def _strings_map(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, dict):
        return [f"{where} must be an object"]
    return [f"{where}.{key} must be a string" for key, text in value.items()
            if not isinstance(text, str)]


def fill_placeholders(text: str, values: Mapping[str, Any]) -> str:
    """``text`` with each ``{name}`` replaced by its value; unknown names are kept."""
    return _PLACEHOLDER.sub(
        lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), text
    )


def describe_form(
    strings: Mapping[str, Any], section: str, result: Mapping[str, Any]
) -> dict[str, Any]:
    """The words for a form result: ``{title, description, fields, errors}``.

    ``fields`` maps each field of the form to its ``label``/``description``/``unit``
    (only those the file has); ``errors`` maps each field in error to its message
    (the code itself when the file has no words for it, since flows may also answer
    with a sentence). Empty parts are left out.
    """
    part = strings.get(section) or {}
    step = (part.get("step") or {}).get(str(result.get("step_id")), {})
    placeholders = result.get("description_placeholders") or {}
    out: dict[str, Any] = {}
    for key in _STEP_TEXTS:
        if key in step:
            out[key] = fill_placeholders(step[key], placeholders)
    fields: dict[str, dict[str, str]] = {}
    for key, target in (("data", "label"), ("data_description", "description"),
                        ("data_unit", "unit")):
        for name, text in (step.get(key) or {}).items():
            fields.setdefault(name, {})[target] = text
    if fields:
        out["fields"] = fields
    known = part.get("error") or {}
    errors = {field: known.get(code, code) for field, code in (result.get("errors") or {}).items()}
    if errors:
        out["errors"] = errors
    return out


def describe_abort(strings: Mapping[str, Any], section: str, reason: str) -> str | None:
    """The message for an abort ``reason``, or None when the file has none."""
    found = ((strings.get(section) or {}).get("abort") or {}).get(reason)
    return found if isinstance(found, str) else None
