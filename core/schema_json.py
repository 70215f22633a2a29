"""Describe a voluptuous schema as JSON data, so a web UI or the CLI can render a form.

Only what a form needs is described: field name, type, required, default, choices,
ranges, and whether the field is a secret (a password field, never echoed back). A
validator we cannot describe becomes ``{"type": "string"}``; the schema itself still
validates the submitted data on the server, so a coarse description is safe.

Mark secrets on the key: ``vol.Required("password", description={"secret": True})``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import voluptuous as vol

SECRET_KEY_NAMES = frozenset({"password", "token", "secret", "api_key", "key_password"})


def is_secret_key(key: Any) -> bool:
    """True if a schema key is marked secret (or is conventionally named like one)."""
    description = getattr(key, "description", None)
    if isinstance(description, Mapping) and description.get("secret"):
        return True
    name = str(getattr(key, "schema", key))
    return name in SECRET_KEY_NAMES


def secret_fields(schema: vol.Schema | Mapping[Any, Any] | None) -> set[str]:
    """Names of the top-level fields of ``schema`` that hold secrets."""
    if schema is None:
        return set()
    raw = schema.schema if isinstance(schema, vol.Schema) else schema
    if not isinstance(raw, Mapping):
        return set()
    return {str(getattr(k, "schema", k)) for k in raw if is_secret_key(k)}


def serialize_schema(schema: vol.Schema | Mapping[Any, Any] | None) -> list[dict[str, Any]]:
    """A list of field descriptions, in schema order."""
    if schema is None:
        return []
    raw = schema.schema if isinstance(schema, vol.Schema) else schema
    if not isinstance(raw, Mapping):
        raise TypeError("only dict schemas can be rendered as forms")
    fields: list[dict[str, Any]] = []
    for key, value in raw.items():
        name = getattr(key, "schema", key)
        if not isinstance(name, str):
            continue
        field: dict[str, Any] = {"name": name, "required": isinstance(key, vol.Required)}
        default = getattr(key, "default", vol.UNDEFINED)
        if default is not vol.UNDEFINED:
            field["default"] = default() if callable(default) else default
        description = getattr(key, "description", None)
        if isinstance(description, Mapping):
            field.update({k: v for k, v in description.items() if k != "secret"})
        field.update(_describe(value))
        if is_secret_key(key):
            field["type"] = "string"
            field["secret"] = True
            field.pop("default", None)
        fields.append(field)
    return fields


_SIMPLE: dict[Any, str] = {str: "string", int: "integer", float: "float", bool: "boolean"}


def _describe(validator: Any) -> dict[str, Any]:
    if isinstance(validator, type) and validator in _SIMPLE:
        return {"type": _SIMPLE[validator]}
    if isinstance(validator, vol.In):
        container = validator.container
        options = list(container.keys() if isinstance(container, Mapping) else container)  # type: ignore[arg-type]
        return {"type": "select", "options": options}
    if isinstance(validator, vol.Range):
        out: dict[str, Any] = {"type": "float"}
        if validator.min is not None:
            out["min"] = validator.min
        if validator.max is not None:
            out["max"] = validator.max
        return out
    if isinstance(validator, vol.Length):
        out = {"type": "string"}
        if validator.min is not None:
            out["min_length"] = validator.min
        if validator.max is not None:
            out["max_length"] = validator.max
        return out
    if isinstance(validator, vol.Coerce):
        return {"type": _SIMPLE.get(validator.type, "string")}
    if isinstance(validator, vol.All):
        merged: dict[str, Any] = {}
        for inner in validator.validators:
            described = _describe(inner)
            if "type" in merged and described.get("type") in ("float", "string") and (
                "min" in described or "max" in described or "min_length" in described
            ):
                described = {k: v for k, v in described.items() if k != "type"}
            merged.update(described)
        return merged or {"type": "string"}
    if isinstance(validator, list):
        inner = _describe(validator[0]) if validator else {"type": "string"}
        return {"type": "list", "items": inner}
    if isinstance(validator, Mapping | vol.Schema):
        return {"type": "object", "fields": serialize_schema(validator)}
    if isinstance(validator, Callable):  # type: ignore[arg-type]
        custom = getattr(validator, "__gatehouse_type__", None)
        if isinstance(custom, str):
            return {"type": custom}
    return {"type": "string"}
