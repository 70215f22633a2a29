"""One config entry: its fields, its lifecycle states, and the resources it owns.

The entry is data plus the handles that make unload complete: a task group
(``spawn``) and a list of undo callbacks (``on_unload``). The manager that drives the
lifecycle is ``ConfigEntries`` in ``config_entries.py``.

States (``ConfigEntryState``)::

    not_loaded -> setup_in_progress -> loaded
                                    -> setup_retry  (ConfigEntryNotReady: backoff, retry)
                                    -> setup_error  (bad config, auth, a bug: no retry)
               -> migration_error  (stored version could not be migrated)
    loaded -> not_loaded (unload) | failed_unload (the integration's unload raised)
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Coroutine, Mapping
from types import MappingProxyType
from typing import Any, Generic, TypeVar

import anyio
from anyio.abc import TaskGroup

from .context import new_id
from .exceptions import HostStoppingError

T = TypeVar("T")


class ConfigEntryState(enum.StrEnum):
    NOT_LOADED = "not_loaded"
    SETUP_IN_PROGRESS = "setup_in_progress"
    LOADED = "loaded"
    SETUP_ERROR = "setup_error"
    SETUP_RETRY = "setup_retry"
    MIGRATION_ERROR = "migration_error"
    FAILED_UNLOAD = "failed_unload"

    @property
    def can_setup(self) -> bool:
        """States from which a set-up attempt is allowed."""
        return self in (
            ConfigEntryState.NOT_LOADED,
            ConfigEntryState.SETUP_ERROR,
            ConfigEntryState.SETUP_RETRY,
        )


class Source(enum.StrEnum):
    USER = "user"
    IMPORT = "import"


class ConfigEntry(Generic[T]):
    """One configured instance of an integration.

    ``data`` is what the flow collected (host, credentials); ``options`` what the user
    may change later; ``runtime_data`` is the integration's typed slot for the live
    objects of this entry (its client, coordinator...), cleared on unload.
    """

    runtime_data: T

    def __init__(
        self,
        *,
        domain: str,
        title: str,
        data: Mapping[str, Any],
        options: Mapping[str, Any] | None = None,
        version: int = 1,
        minor_version: int = 1,
        unique_id: str | None = None,
        source: Source | str = Source.USER,
        disabled_by: str | None = None,
        entry_id: str | None = None,
        created_at: float | None = None,
        modified_at: float | None = None,
    ) -> None:
        self.entry_id = entry_id or new_id()
        self.domain = domain
        self.title = title
        self.data: Mapping[str, Any] = MappingProxyType(dict(data))
        self.options: Mapping[str, Any] = MappingProxyType(dict(options or {}))
        self.version = version
        self.minor_version = minor_version
        self.unique_id = unique_id
        self.source = Source(source)
        self.disabled_by = disabled_by
        self.created_at = created_at if created_at is not None else time.time()
        self.modified_at = modified_at if modified_at is not None else self.created_at
        self.state = ConfigEntryState.NOT_LOADED
        self.reason: str | None = None
        self.setup_attempts = 0
        self.next_retry_at: float | None = None
        self._undos: list[Callable[[], Any]] = []
        self._task_group: TaskGroup | None = None
        self._scope: anyio.CancelScope | None = None
        self._lifetime_done: anyio.Event | None = None
        self._retry_scope: anyio.CancelScope | None = None
        self._lock = anyio.Lock()

    def __repr__(self) -> str:
        return f"<ConfigEntry {self.domain} {self.entry_id} {self.title!r} {self.state}>"

    @property
    def disabled(self) -> bool:
        return self.disabled_by is not None

    # -- resources owned by the entry ---------------------------------------------

    def on_unload(self, undo: Callable[[], Any]) -> None:
        """Run ``undo`` (sync or async) when the entry unloads; undos run in reverse."""
        self._undos.append(undo)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str | None = None) -> None:
        """Run ``coro`` as a task of this entry: cancelled when the entry unloads."""
        if self._task_group is None:
            coro.close()
            raise HostStoppingError(f"entry {self.entry_id} is not set up")
        from .host import _logged

        self._task_group.start_soon(_logged, coro, name=name or f"{self.domain} task")

    @property
    def undo_count(self) -> int:
        return len(self._undos)

    # -- serialisation -------------------------------------------------------------

    def as_storage(self) -> dict[str, Any]:
        return {
            "entry_id": self.entry_id,
            "domain": self.domain,
            "title": self.title,
            "data": dict(self.data),
            "options": dict(self.options),
            "version": self.version,
            "minor_version": self.minor_version,
            "unique_id": self.unique_id,
            "source": str(self.source),
            "disabled_by": self.disabled_by,
            "created_at": self.created_at,
            "modified_at": self.modified_at,
        }

    @classmethod
    def from_storage(cls, raw: Mapping[str, Any]) -> ConfigEntry[Any]:
        return cls(
            entry_id=raw["entry_id"],
            domain=raw["domain"],
            title=raw["title"],
            data=raw.get("data", {}),
            options=raw.get("options", {}),
            version=raw.get("version", 1),
            minor_version=raw.get("minor_version", 1),
            unique_id=raw.get("unique_id"),
            source=raw.get("source", Source.USER),
            disabled_by=raw.get("disabled_by"),
            created_at=raw.get("created_at"),
            modified_at=raw.get("modified_at"),
        )

    def as_summary(self) -> dict[str, Any]:
        """What the CLI and API show: no data or options (they may hold secrets)."""
        return {
            "entry_id": self.entry_id,
            "domain": self.domain,
            "title": self.title,
            "state": str(self.state),
            "reason": self.reason,
            "source": str(self.source),
            "unique_id": self.unique_id,
            "disabled_by": self.disabled_by,
            "version": self.version,
        }
