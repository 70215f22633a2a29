"""PII fields masked before a payload is stored or an error message is logged.

Fields are named in the house's ``json_path`` dialect (``$.owner.email``,
``readings[0].serial``), plus ``*`` for "every element or value" at one level
(``users.*.email``). A masked value keeps its JSON type so that a replayed message is
judged on its shape, not tripped by the mask: strings become ``"***"``, numbers ``0``,
booleans ``false``, objects and arrays empty. Error messages about a masked field (a
validator quotes the value it refused) are replaced by the keyword alone.

A payload that cannot be decoded cannot be searched for its fields; where PII paths
are configured the quarantine then keeps its size and digest, not its bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gatehouse.core.helpers import JsonPath

from .const import MASK

_WILD = "*"


def _placeholder(value: Any) -> Any:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return 0
    if isinstance(value, dict):
        return {}
    if isinstance(value, list):
        return []
    return MASK if value is not None else None


def _unescape(part: str) -> str:
    return part.replace("~1", "/").replace("~0", "~")


class PiiMask:
    """The configured PII paths of one rule (or of the unmatched topics)."""

    __slots__ = ("paths",)

    def __init__(self, paths: Iterable[str]) -> None:
        self.paths = tuple(JsonPath.compile(path).keys for path in paths)

    def __bool__(self) -> bool:
        return bool(self.paths)

    def mask(self, value: Any) -> Any:
        """A copy of ``value`` with every configured field masked (copies only what
        it changes: the rest is shared with ``value``)."""
        for keys in self.paths:
            value = self._mask(value, keys, 0)
        return value

    def _mask(self, node: Any, keys: tuple[str | int, ...], at: int) -> Any:
        key = keys[at]
        last = at == len(keys) - 1
        if isinstance(node, dict):
            names = list(node) if key == _WILD else [str(key)] if str(key) in node else []
            if not names:
                return node
            copy = dict(node)
            for name in names:
                copy[name] = _placeholder(node[name]) if last else self._mask(
                    node[name], keys, at + 1)
            return copy
        if isinstance(node, list):
            if key == _WILD:
                indices = range(len(node))
            else:
                try:
                    index = int(key)
                except ValueError:
                    return node
                if not -len(node) <= index < len(node):
                    return node
                indices = range(index % len(node), index % len(node) + 1)
            copy_list = list(node)
            for index in indices:
                copy_list[index] = _placeholder(node[index]) if last else self._mask(
                    node[index], keys, at + 1)
            return copy_list
        return node

    def covers(self, path: str) -> bool:
        """True if the JSON pointer ``path`` is a masked field or inside one."""
        if not self.paths or not path:
            return False
        parts = [_unescape(p) for p in path.split("/")[1:]]
        for keys in self.paths:
            if len(parts) >= len(keys) and all(
                k == _WILD or str(k) == part for k, part in zip(keys, parts, strict=False)
            ):
                return True
        return False

    def message(self, path: str, message: str) -> str:
        """``message`` unless it is about a masked field (then only that it failed)."""
        return "value masked (PII)" if self.covers(path) else message
