"""Rendering voluptuous errors for people: one field → problem mapping for forms and APIs.

Every place that validates user input (config flows, options flows, service calls, the
REST API) must turn a ``vol.Invalid`` into something a person can act on: which field,
what is wrong. Before this module that translation was written eight times with eight
small differences (one lost errors on fields the form does not show, one named the list
index instead of the field). Here it is once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import voluptuous as vol

BASE = "base"


def _key_name(part: Any) -> str:
    # Path elements are keys as the schema wrote them: ``vol.Required("x")`` or "x".
    return str(getattr(part, "schema", part))


def _exclusive_members(keys: Iterable[Any], group: str) -> list[str]:
    return [
        str(k.schema)
        for k in keys
        if isinstance(k, vol.Exclusive) and k.group_of_exclusion == group
    ]


def invalid_problems(
    err: vol.Invalid, schema: vol.Schema | None = None
) -> list[tuple[tuple[str, ...], str]]:
    """Every problem in ``err`` as (path, message), in the order voluptuous found them.

    The path is the chain of keys (list indices as strings) from the top of the data;
    ``()`` is the data as a whole. A missing required key says ``required``. A clash of
    ``vol.Exclusive`` keys is reported by voluptuous on the *group's* name, which is no
    field; it is put on the data as a whole, or, when the ``schema`` that was used is
    given, on the last member of the group, saying which keys exclude each other.
    """
    errors = err.errors if isinstance(err, vol.MultipleInvalid) else [err]
    problems: list[tuple[tuple[str, ...], str]] = []
    for error in errors:
        path = tuple(
            _key_name(p) for p in error.path if not isinstance(p, vol.VirtualPathComponent)
        )
        if isinstance(error, vol.RequiredFieldInvalid):
            message = "required"
        else:
            message = str(error.msg) or "invalid"
        if isinstance(error, vol.ExclusiveInvalid) and error.path:
            group = str.__str__(error.path[-1])  # a str subclass whose str() adds <>
            members = _exclusive_members(schema.schema, group) if schema is not None else []
            if len(path) == 0 and members:
                path = (members[-1],)
                message = f"{' and '.join(members)} exclude each other"
        problems.append((path, message))
    return problems


def describe_invalid(err: vol.Invalid) -> str:
    """One line naming every problem: ``port: value must be at most 65535; name: required``."""
    parts = [
        f"{'.'.join(path)}: {message}" if path else message
        for path, message in invalid_problems(err)
    ]
    return "; ".join(parts)


def form_errors(
    err: vol.Invalid,
    *,
    fields: Iterable[Any] | vol.Schema | None = None,
    extra_key: str | None = None,
) -> dict[str, str]:
    """``{field: problem}`` for a form, the first problem of each field.

    The field is the first key of the error's path (``base`` for the data as a whole).
    With ``fields`` (the form's schema or its field names) a problem with a key the form
    does not show goes to ``base``, prefixed with that key, so it is never lost.
    ``extra_key`` replaces voluptuous' "extra keys not allowed" (say, "not used by
    switch"), which means nothing to someone filling in a form.
    """
    shown: set[str] | None = None
    if fields is not None:
        keys = fields.schema if isinstance(fields, vol.Schema) else fields
        shown = {_key_name(k) for k in keys}
    schema = fields if isinstance(fields, vol.Schema) else None
    errors: dict[str, str] = {}
    for path, problem in invalid_problems(err, schema):
        field, message = (path[0] if path else BASE), problem
        if extra_key is not None and message == "extra keys not allowed":
            message = extra_key
        if shown is not None and field != BASE and field not in shown:
            field, message = BASE, f"{'.'.join(path)}: {message}"
        errors.setdefault(field, message)
    return errors
