"""Finding things in voluptuous schemas and error paths.

voluptuous reports *where* data failed (``error.path``) but not which part of the schema
applied there. Suggestions ("did you mean 'interval'?") and re-checking the list items
voluptuous gave up on both need that part, so this module walks a schema along a data
path. Everything here is best effort: an opaque validator (a plain function) ends the
walk, which costs a hint, never a wrong error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import voluptuous as vol

from .nodes import UNRESOLVED

__all__ = [
    "child_of",
    "complete",
    "data_at",
    "flatten",
    "key_matches",
    "known_keys",
    "plain",
    "schemas_at",
]


def flatten(error: vol.Invalid) -> list[vol.Invalid]:
    """Every leaf error of a (possibly nested) ``MultipleInvalid``."""
    if isinstance(error, vol.MultipleInvalid):
        return [leaf for sub in error.errors for leaf in flatten(sub)]
    return [error]


def plain(element: Any) -> Any:
    """A path element as it appears in the data: ``Required('x')`` -> ``'x'``."""
    if isinstance(element, vol.Marker):
        return element.schema
    return element


def complete(
    schema: vol.Schema, value: Any, errors: list[vol.Invalid], depth: int = 0
) -> list[tuple[list[Any], vol.Invalid]]:
    """The errors voluptuous reported plus the ones it gave up on, with plain paths.

    voluptuous collects every bad key of a mapping, but a *list* schema stops at the
    first item whose error is nested (any bad key in a list of mappings) and drops what
    it had collected for earlier items. So for every list on an error's path, the other
    items are validated one by one against the list's own schema and their errors are
    added under their real index. Best effort: when the list's schema cannot be found
    unambiguously (opaque validators), the errors stay as voluptuous gave them.
    """
    found = [([plain(element) for element in error.path], error) for error in errors]
    if depth > 32:
        return found
    extra: list[tuple[list[Any], vol.Invalid]] = []
    expanded: set[tuple[Any, ...]] = set()
    for path, _ in found:
        for position, element in enumerate(path):
            if not isinstance(element, int) or isinstance(element, bool):
                continue
            prefix = tuple(path[:position])
            if prefix in expanded:
                continue
            expanded.add(prefix)
            container = data_at(value, prefix)
            item_schemas = [c for c in schemas_at(schema, prefix) if isinstance(c, list)]
            if not isinstance(container, list) or len(item_schemas) != 1:
                continue
            reported = {
                other[position]
                for other, _ in found
                if len(other) > position and tuple(other[:position]) == prefix
            }
            item_validator = vol.Schema(item_schemas[0])
            for index, item in enumerate(container):
                if index in reported:
                    continue
                try:
                    item_validator([item])
                except vol.Invalid as err:
                    nested = complete(item_validator, [item], flatten(err), depth + 1)
                    extra.extend(([*prefix, index, *sub_path[1:]], sub) for sub_path, sub in nested)
                except Exception:  # noqa: BLE001 - the full run already reported it
                    continue
    return found + extra


def data_at(value: Any, path: Sequence[Any]) -> Any:
    """The value at ``path`` in the data, or :data:`UNRESOLVED` if it is not there."""
    current = value
    for element in path:
        present, current = child_of(current, element)
        if not present:
            return UNRESOLVED
    return current


def child_of(container: Any, element: Any) -> tuple[bool, Any]:
    """``(True, container[element])`` if that entry exists, else ``(False, None)``.

    An int only indexes a list, a key only a mapping: voluptuous paths are data paths.
    """
    if isinstance(container, dict):
        try:
            if element in container:
                return True, container[element]
        except TypeError:  # unhashable path element
            pass
        return False, None
    if (
        isinstance(container, list)
        and isinstance(element, int)
        and not isinstance(element, bool)
        and -len(container) <= element < len(container)
    ):
        return True, container[element]
    return False, None


def schemas_at(schema: Any, path: Sequence[Any], depth: int = 0) -> list[Any]:
    """The sub-schemas that validate the data at ``path`` (every candidate).

    Follows ``vol.Schema``, dict and list schemas and the sub-validators of
    ``All``/``Any``/``Maybe``-style combinators; an opaque validator (a plain function)
    leads nowhere. Used for suggestions and for re-checking list items, so the worst
    case of not finding a schema is a missing hint, never a wrong error.
    """
    if depth > 64:
        return []
    if isinstance(schema, vol.Schema):
        return schemas_at(schema.schema, path, depth + 1)
    validators = getattr(schema, "validators", None)
    if isinstance(validators, (list, tuple)):
        return [found for sub in validators for found in schemas_at(sub, path, depth + 1)]
    if not path:
        return [schema]
    head, rest = path[0], path[1:]
    if isinstance(schema, dict):
        return [
            found
            for key, sub in schema.items()
            if key_matches(plain(key), head)
            for found in schemas_at(sub, rest, depth + 1)
        ]
    if isinstance(schema, (list, tuple)) and isinstance(head, int):
        return [found for sub in schema for found in schemas_at(sub, rest, depth + 1)]
    return []


def known_keys(schema: Any, path: Sequence[Any]) -> set[str]:
    """String keys the schema accepts in the mapping at ``path`` (for suggestions)."""
    keys: set[str] = set()
    for candidate in schemas_at(schema, path):
        if isinstance(candidate, dict):
            keys.update(key for key in map(plain, candidate) if isinstance(key, str))
    return keys


def key_matches(schema_key: Any, data_key: Any) -> bool:
    """Whether a dict-schema key would accept ``data_key`` (literal, type or validator)."""
    if isinstance(schema_key, type):
        return isinstance(data_key, schema_key)
    if callable(schema_key):
        try:
            schema_key(data_key)
        except (vol.Invalid, ValueError, TypeError):
            return False
        return True
    try:
        return bool(schema_key == data_key)
    except (TypeError, ValueError):
        return False
