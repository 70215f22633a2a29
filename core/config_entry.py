"""One config entry: its fields, its lifecycle states, and the resources it owns.

The entry is data plus the handles that make unload complete: a task group
(``spawn``) and a list of undo callbacks (``on_unload``). The manager that drives the
lifecycle is ``ConfigEntries`` in ``config_entries.py``; it decides *when* (states,
retries, order), while the entry owns *what* it holds and how that is released
(``lifetime``, ``teardown``, ``new_retry_scope``/``cancel_retry``, ``lock``,
``apply_update``, ``set_disabled_by``), so no other module reaches into the entry's
private attributes.

States (``ConfigEntryState``)::

    not_loaded -> setup_in_progress -> loaded
                                    -> setup_retry  (ConfigEntryNotReady: backoff, retry)
                                    -> setup_error  (bad config, auth, a bug: no retry)
               -> migration_error  (stored version could not be migrated)
    loaded -> not_loaded (unload) | failed_unload (the integration's unload raised)
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Generic, TypeVar

import anyio
from anyio.abc import TaskGroup, TaskStatus

from .context import new_id
from .tasks import spawn_logged

_LOGGER = logging.getLogger(__name__)

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


@dataclass(frozen=True, slots=True)
class EntryHealth:
    """How a loaded entry's link to its peer is doing, as the integration reports it.

    ``loaded`` says only that set-up succeeded; a Modbus hub or OPC UA server that goes
    away afterwards leaves the entry loaded while nothing arrives. Integrations with a
    connection call ``entry.set_health`` on every connect and every failed attempt, so
    the UI and the API can say "connected" or "reconnecting since ..., last error ...".
    """

    connected: bool
    #: When ``connected`` last changed (epoch seconds).
    since: float
    last_error: str | None = None
    last_error_at: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "connected": self.connected,
            "since": self.since,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
        }


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
        #: None until the integration reports (integrations without a link never do).
        self.health: EntryHealth | None = None
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

    def set_health(self, connected: bool, error: str | None = None) -> None:
        """Report the link: connected, or not (with why, if known).

        Cheap enough for every poll: ``since`` moves only when ``connected`` flips, and
        the last error is kept after a reconnect so the UI can still say what happened.
        """
        now = time.time()
        old = self.health
        since = old.since if old is not None and old.connected == connected else now
        last_error, last_error_at = (
            (old.last_error, old.last_error_at) if old is not None else (None, None)
        )
        if error:
            last_error, last_error_at = error, now
        self.health = EntryHealth(connected, since, last_error, last_error_at)

    # -- resources owned by the entry ---------------------------------------------

    def on_unload(self, undo: Callable[[], Any]) -> None:
        """Run ``undo`` (sync or async) when the entry unloads; undos run in reverse."""
        self._undos.append(undo)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str | None = None) -> None:
        """Run ``coro`` as a task of this entry: cancelled when the entry unloads."""
        spawn_logged(
            self._task_group,
            coro,
            name=name or f"{self.domain} task",
            refusal=f"entry {self.entry_id} is not set up",
        )

    @property
    def undo_count(self) -> int:
        return len(self._undos)

    @property
    def tasks_open(self) -> bool:
        """True while the entry's task group is open (``spawn`` accepts work)."""
        return self._task_group is not None

    # -- lifecycle pieces, driven by ConfigEntries ----------------------------------
    # Integrations do not call these: the manager does, in the order its states need.

    @property
    def lock(self) -> anyio.Lock:
        """Serialises set-up and unload of this entry.

        Held for a whole set-up attempt, so an unload (or remove, disable) that arrives
        meanwhile waits for the attempt and then undoes it, instead of racing it.
        """
        return self._lock

    async def lifetime(self, *, task_status: TaskStatus[None]) -> None:
        """Hold the entry's task group open until ``teardown`` cancels it.

        Started in the host's task group (``task_group.start``) before the
        integration's ``setup_entry`` runs, so ``spawn`` works during set-up and the
        entry's tasks are children of the host's: stopping the host ends them too,
        while tearing the entry down ends only them.
        """
        done = anyio.Event()
        self._lifetime_done = done
        try:
            with anyio.CancelScope() as scope:
                self._scope = scope
                async with anyio.create_task_group() as tg:
                    self._task_group = tg
                    task_status.started()
                    await anyio.sleep_forever()
        finally:
            self._task_group = None
            self._scope = None
            done.set()

    async def teardown(self) -> list[BaseException]:
        """Cancel the entry's tasks, then run its undos in reverse; return their errors.

        Tasks go first and are waited for, so no task still uses what an undo releases.
        A failing undo is logged and the rest still run: one stuck resource must not
        keep the others alive. ``runtime_data`` is dropped last, so the integration's
        live objects can be collected even if something still holds the entry.
        """
        errors: list[BaseException] = []
        if self._scope is not None:
            self._scope.cancel()
        if self._lifetime_done is not None:
            await self._lifetime_done.wait()
            self._lifetime_done = None
        while self._undos:
            undo = self._undos.pop()
            try:
                result = undo()
                if result is not None and hasattr(result, "__await__"):
                    await result
            except Exception as err:
                _LOGGER.exception("Error undoing %r for entry %s", undo, self.entry_id)
                errors.append(err)
        if hasattr(self, "runtime_data"):
            del self.runtime_data
        self.health = None  # the next set-up reports afresh
        return errors

    @property
    def retry_scheduled(self) -> bool:
        """True while a set-up retry is pending (its scope not yet finished or cancelled)."""
        return self._retry_scope is not None

    def new_retry_scope(self) -> anyio.CancelScope:
        """Cancel any pending retry and record the scope the next retry must run in.

        Only one retry may be pending: a second would run alongside the first and the
        retries would multiply with every failed attempt.
        """
        if self._retry_scope is not None:
            self._retry_scope.cancel()
        scope = self._retry_scope = anyio.CancelScope()
        return scope

    def retry_finished(self, scope: anyio.CancelScope) -> None:
        """Forget ``scope`` if it is still the pending retry's (a newer one keeps its own)."""
        if self._retry_scope is scope:
            self._retry_scope = None

    def cancel_retry(self) -> None:
        """Cancel the pending retry, if any, and clear when it was due."""
        if self._retry_scope is not None:
            self._retry_scope.cancel()
            self._retry_scope = None
        self.next_retry_at = None

    def apply_update(
        self,
        *,
        title: str | None = None,
        data: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
        unique_id: str | None = None,
        version: int | None = None,
        minor_version: int | None = None,
    ) -> bool:
        """Set the fields given (``None`` leaves one alone); True if any value changed.

        Values equal to the current ones are no change, so ``modified_at`` moves (and
        the manager saves and announces) only when something really did: YAML import
        applies every block on every start.
        """
        changed = False
        if title is not None and title != self.title:
            self.title, changed = title, True
        if data is not None and dict(data) != dict(self.data):
            self.data, changed = MappingProxyType(dict(data)), True
        if options is not None and dict(options) != dict(self.options):
            self.options, changed = MappingProxyType(dict(options)), True
        if unique_id is not None and unique_id != self.unique_id:
            self.unique_id, changed = unique_id, True
        if version is not None and version != self.version:
            self.version, changed = version, True
        if minor_version is not None and minor_version != self.minor_version:
            self.minor_version, changed = minor_version, True
        if changed:
            self.modified_at = time.time()
        return changed

    def set_disabled_by(self, disabled_by: str | None) -> bool:
        """Disable (``"user"``...) or enable (``None``) the entry; True if that changed it."""
        if disabled_by == self.disabled_by:
            return False
        self.disabled_by = disabled_by
        self.modified_at = time.time()
        return True

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
