"""Located values: what the YAML loader hands out instead of bare dicts, lists and strings.

A configuration error is only useful if it says *where* the user has to look. Plain
``dict``/``list``/``str`` objects forget where they came from the moment PyYAML has built
them, so the loader returns thin subclasses that remember their source position instead.
They compare, hash and serialise exactly like the built-ins, so integrations and
voluptuous schemas never notice the difference.

``int``, ``float``, ``bool`` and ``None`` cannot carry attributes (``bool`` cannot even be
subclassed), so the position of every key *and* every value is also kept in a side table
on the containing :class:`NodeDict` / :class:`NodeList`. That side table is what
:func:`location_of` reads, and it is what error reporting walks.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Self

__all__ = [
    "UNRESOLVED",
    "Input",
    "Location",
    "NodeDict",
    "NodeList",
    "NodeStr",
    "SecretStr",
    "collect_secret_values",
    "location_of",
    "node_location",
]


_NO_SECRETS: Final[frozenset[str]] = frozenset()


@dataclass(frozen=True, slots=True)
class Location:
    """A position in a YAML file.

    ``line`` and ``column`` are 1-based, as editors show them (PyYAML's marks are
    0-based; the loader converts). ``column`` is ``None`` when only the line is known,
    e.g. for the entries that ``!include_dir_named`` synthesises for whole files.
    """

    file: Path
    line: int
    column: int | None = None

    def __str__(self) -> str:
        if self.column is None:
            return f"{self.file}:{self.line}"
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class Input:
    """A blueprint's ``!input name``: a placeholder the blueprint's instance fills in.

    Not a string (so no schema mistakes it for a value, and ``detach`` keeps it as it
    is); blueprint code substitutes it, anything else that meets one reports it.
    """

    name: str
    location: Location | None = None

    def __repr__(self) -> str:
        return f"!input {self.name}"


class NodeStr(str):
    """A ``str`` that remembers where it was written.

    ``str(node_str)`` gives back a plain ``str``, and equality/hashing are the ones of
    ``str``, so a ``NodeStr`` is usable anywhere a string is.
    """

    __slots__ = ("location",)

    location: Location | None

    def __new__(cls, value: str, location: Location | None = None) -> Self:
        # ``location`` must have a default: pickle and copy rebuild str subclasses by
        # calling ``cls.__new__(cls, plain_value)`` and restore the slots afterwards.
        self = super().__new__(cls, value)
        self.location = location
        return self


class SecretStr(NodeStr):
    """A string that came from ``secrets.yaml`` through ``!secret``.

    It behaves like any other string for the integration that uses it; only its
    ``repr`` is masked, so that dumping a loaded configuration into a log or a test
    failure never prints a password.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "'***'"


class NodeDict(dict[Any, Any]):
    """A ``dict`` loaded from a YAML mapping, with the position of each key and value.

    ``location`` is where the mapping itself starts (its first key for block mappings,
    the ``{`` for flow mappings). ``__location__(key)`` is where ``key`` is written and
    :meth:`value_location` where its value starts; both return ``None`` for keys added
    after loading (voluptuous output, defaults), which callers must tolerate.
    """

    # ``__weakref__``: validation checks that the tree is gone once it is done with it.
    __slots__ = ("__weakref__", "_locations", "_secret_values", "location")

    location: Location | None
    _locations: dict[Hashable, tuple[Location, Location]]
    _secret_values: frozenset[str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Keep the ``dict`` constructor signature: voluptuous builds its output with
        # ``data.__class__()`` and ``copy`` rebuilds through ``__reduce_ex__``.
        dict.__init__(self, *args, **kwargs)
        self.location = None
        self._locations = {}
        self._secret_values = _NO_SECRETS

    def __location__(self, key: Hashable) -> Location | None:
        """Where ``key`` is written, or ``None`` if it was not loaded from YAML."""
        try:
            entry = self._locations.get(key)
        except TypeError:  # unhashable probe
            return None
        return entry[0] if entry is not None else None

    def value_location(self, key: Hashable) -> Location | None:
        """Where the value of ``key`` starts (for ``!include`` values: the tag)."""
        try:
            entry = self._locations.get(key)
        except TypeError:
            return None
        return entry[1] if entry is not None else None

    def set_location(
        self, key: Hashable, key_location: Location, value_location: Location | None = None
    ) -> None:
        """Record the position of an entry; used by the loader and by synthesised dicts."""
        self._locations[key] = (key_location, value_location or key_location)

    def add_secret_values(self, values: Iterable[str]) -> None:
        """Remember string forms of values that came from ``!secret`` (see below)."""
        self._secret_values = self._secret_values.union(values)

    @property
    def secret_values(self) -> frozenset[str]:
        """String forms of every value that reached this tree through ``!secret``.

        Covers nested mappings and lists too, so the top-level mapping answers for the
        whole file (includes included). Validation scrubs these out of error messages;
        the host can hand them to its log redactor.
        """
        return collect_secret_values(self)


class NodeList(list[Any]):
    """A ``list`` loaded from a YAML sequence, with the position of each item.

    The positions are a snapshot taken at load time: indices are not updated if the
    list is mutated afterwards.
    """

    __slots__ = ("_item_locations", "_secret_values", "location")

    location: Location | None
    _item_locations: list[Location | None]
    _secret_values: frozenset[str]

    def __init__(self, iterable: Iterable[Any] = (), /) -> None:
        list.__init__(self, iterable)
        self.location = None
        self._item_locations = []
        self._secret_values = _NO_SECRETS

    def __location__(self, index: int) -> Location | None:
        """Where item ``index`` starts, or ``None`` if it was not loaded from YAML."""
        if not isinstance(index, int) or isinstance(index, bool):
            return None
        if index < 0:
            index += len(self)
        if 0 <= index < len(self._item_locations):
            return self._item_locations[index]
        return None

    def append_located(self, value: Any, location: Location | None) -> None:
        """Append ``value`` and remember where it was written; used by the loader."""
        self.append(value)
        # Pad in case items were appended without a location in between.
        while len(self._item_locations) < len(self) - 1:
            self._item_locations.append(None)
        self._item_locations.append(location)

    def add_secret_values(self, values: Iterable[str]) -> None:
        """Remember string forms of values that came from ``!secret``."""
        self._secret_values = self._secret_values.union(values)

    @property
    def secret_values(self) -> frozenset[str]:
        """String forms of every value that reached this tree through ``!secret``."""
        return collect_secret_values(self)


class _Unresolved:
    """Type of :data:`UNRESOLVED`; only that one instance is ever made."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<unresolved>"

    def __reduce__(self) -> str:
        return "UNRESOLVED"


UNRESOLVED: Final = _Unresolved()
"""Stands in for a value the loader could not produce (missing secret, broken include...).

The loader has already reported the reason as a located issue; validation uses the
marker to suppress the follow-up noise ("expected str") a stand-in would otherwise
cause. It never escapes the public API: :func:`load_config_file` raises instead and
:func:`check_config` drops the affected sections.
"""


def collect_secret_values(value: object) -> frozenset[str]:
    """String forms of every ``!secret`` value anywhere inside ``value``.

    Iterative with an identity set: YAML anchors can make the tree share or even
    contain itself.
    """
    found: set[str] = set()
    seen: set[int] = set()
    stack: list[object] = [value]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, SecretStr):
            found.add(str(current))
        elif isinstance(current, NodeDict):
            found |= current._secret_values
            stack.extend(current.values())
        elif isinstance(current, NodeList):
            found |= current._secret_values
            stack.extend(current)
        elif isinstance(current, dict):
            stack.extend(current.values())
        elif isinstance(current, list):
            stack.extend(current)
    found.discard("")
    return frozenset(found)


def location_of(container: object, key_or_index: object) -> Location | None:
    """Where ``container[key_or_index]`` was written, or ``None`` if unknown.

    Works for any container; only the loader's :class:`NodeDict` and :class:`NodeList`
    know positions. Taking the position from the *container* is what makes ints,
    bools and ``None`` values locatable.
    """
    if isinstance(container, NodeDict):
        try:
            hash(key_or_index)
        except TypeError:
            return None
        return container.__location__(key_or_index)
    if isinstance(container, NodeList) and isinstance(key_or_index, int):
        return container.__location__(key_or_index)
    return None


def node_location(value: object) -> Location | None:
    """Where ``value`` itself starts, if it is a located node (dict, list or str)."""
    if isinstance(value, (NodeDict, NodeList, NodeStr)):
        return value.location
    return None
