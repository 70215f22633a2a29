"""Validated configuration as plain data, with nothing of the located tree left in it.

The loader's located values (:class:`NodeDict`, :class:`NodeList`, :class:`NodeStr` and
their :class:`Location` objects) are there so that an error can name its file and
line. Once a section has validated, no error can come from it any more, yet its
validated form is still made of them: voluptuous passes strings through unchanged
(each dragging its ``Location`` along) and rebuilds mappings and lists with the input's
own class, and a section without a schema is the loaded tree itself. The host keeps
that for its whole run (``host.config``, the entry data made from it), so every value
of a large configuration paid for error reporting that would never happen: about
1.2 KB per entity of a 10 000-entity ``mqtt:`` section, twice the data itself.

:func:`detach` copies validated output into built-in types only. While it is at it, it
shares equal strings (the same unit, device class or platform word written ten
thousand times is one object afterwards) and interns mapping keys, since the same dozen
keys repeat in every entity. Only the loader's types and the built-in containers that
may hold them are rebuilt; any other object a validator returned (an enum member, a
compiled template, a ``str`` subclass) is kept as it is, since it is the validator's
business what it returns.
"""

from __future__ import annotations

import sys
from typing import Any, Final

from .nodes import NodeDict, NodeList, NodeStr

__all__ = ["detach"]

#: Exact types that hold no reference to anything: returned unchanged.
_ATOMS: Final[frozenset[type]] = frozenset({int, float, bool, complex, bytes, type(None)})


def detach(value: Any) -> Any:
    """A copy of ``value`` made of ``dict``/``list``/``str``... instead of located values.

    Shared values (YAML anchors) stay shared and a value that contains itself still
    does. Mappings and lists are filled from a work list rather than by recursion:
    aliases can nest a tree deeper than the interpreter's recursion limit.
    """
    return _Detacher().run(value)


class _Detacher:
    """One :func:`detach` call: what was copied already, and the strings seen."""

    __slots__ = ("_copies", "_pending", "_strings")

    def __init__(self) -> None:
        # id(original) -> (original, copy); the original is held so its id stays unique.
        self._copies: dict[int, tuple[Any, Any]] = {}
        self._pending: list[tuple[Any, dict[Any, Any] | list[Any]]] = []
        self._strings: dict[str, str] = {}

    def run(self, value: Any) -> Any:
        result = self._copy(value)
        pending = self._pending
        while pending:
            source, target = pending.pop()
            if isinstance(target, dict):
                for key, item in source.items():
                    target[self._key(key)] = self._copy(item)
            else:
                target.extend([self._copy(item) for item in source])
        return result

    def _copy(self, value: Any) -> Any:
        """The plain counterpart of ``value``; a new mapping or list is filled later."""
        kind = type(value)
        if kind is str:
            return self._strings.setdefault(value, value)
        if kind in _ATOMS:
            return value
        if isinstance(value, NodeStr):  # and SecretStr: the log redactor masks secrets
            shared = self._strings.get(value)
            if shared is None:
                shared = str(value)  # str() of a str subclass is a plain copy
                self._strings[shared] = shared
            return shared
        known = self._copies.get(id(value))
        if known is not None:
            return known[1]
        copy: Any
        if kind is dict or isinstance(value, NodeDict):
            copy = {}
            self._pending.append((value, copy))
        elif kind is list or isinstance(value, NodeList):
            copy = []
            self._pending.append((value, copy))
        elif kind is tuple or kind is set or kind is frozenset:
            # Immutable, so built at once; nesting of these comes from validators only.
            copy = kind(self._copy(item) for item in value)
        else:
            return value
        self._copies[id(value)] = (value, copy)
        return copy

    def _key(self, key: Any) -> Any:
        """Keys repeat in every entity: one interned string each."""
        if type(key) is str:
            return sys.intern(key)
        if isinstance(key, NodeStr):
            return sys.intern(str(key))
        return self._copy(key)
