"""Typed slots for host-wide shared data (``HostKey[T]``).

Integrations share objects through the host (the mqtt client that aws_iot reuses, say).
A plain ``dict[str, Any]`` loses the type at every read; a ``HostKey[T]`` carries it, so
``host.data[MQTT_CLIENT]`` is typed for mypy without casts at the call site. The idea is
aiohttp's ``AppKey``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Generic, TypeVar, cast, overload

T = TypeVar("T")
D = TypeVar("D")


class HostKey(Generic[T]):
    """A key for ``HostData``; ``name`` is for reprs and diagnostics."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<HostKey {self.name}>"


class HostData:
    """A mapping from ``HostKey[T]`` to ``T``."""

    def __init__(self) -> None:
        self._data: dict[HostKey[Any], Any] = {}

    def __getitem__(self, key: HostKey[T]) -> T:
        return cast(T, self._data[key])

    def __setitem__(self, key: HostKey[T], value: T) -> None:
        self._data[key] = value

    def __delitem__(self, key: HostKey[Any]) -> None:
        del self._data[key]

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[HostKey[Any]]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    @overload
    def get(self, key: HostKey[T]) -> T | None: ...

    @overload
    def get(self, key: HostKey[T], default: D) -> T | D: ...

    def get(self, key: HostKey[T], default: Any = None) -> Any:
        return self._data.get(key, default)

    def setdefault(self, key: HostKey[T], default: T) -> T:
        return cast(T, self._data.setdefault(key, default))

    def pop(self, key: HostKey[T], default: T | None = None) -> T | None:
        return cast("T | None", self._data.pop(key, default))
