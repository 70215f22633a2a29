"""Config entries: one configured instance of an integration, with a full lifecycle.

An entry is created by a config flow (source ``user``) or from ``configuration.yaml``
(source ``import``), persisted in ``.storage/core.config_entries`` and set up by calling
its integration. Every entry owns a task group and a list of undo callbacks, so unload
is "run the integration's unload, cancel the entry's tasks, run the undos in reverse":
nothing the entry made outlives it, which is what makes ``reload`` safe to call forever.

The entry object and its states live in ``config_entry.py`` (re-exported here).

Invariants (``tests/core/test_entry_start_race.py``):

* one object per entry id for the life of the host: storage is read once, before
  anything is added or written (``add`` reads it first if bootstrap has not yet), so a
  stored entry never replaces a live one and ``add`` never writes a file it has not
  read (that would drop the stored entries from disk);
* one set-up per entry at a time: every attempt runs under the entry's ``lock``;
* an entry added while the host is starting is set up once: by ``add`` (the host is
  already ``is_running``), and ``setup_all`` sets up only entries nobody has tried yet;
* an attempt that fails releases what it made (``entry.teardown``: tasks, then undos
  such as an outbox destination's unregistration), so the next attempt starts clean.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import anyio

from .bus import EventType
from .config_entry import ConfigEntry, ConfigEntryState, Source
from .context import acting_context
from .exceptions import (
    EXIT_STORE_TOO_NEW,
    ConfigEntryAuthFailed,
    ConfigEntryError,
    ConfigEntryNotReady,
    GatehouseError,
    OperationNotAllowed,
    StoreTooNewError,
    UnknownEntry,
)
from .integration import YamlEntry
from .logging_setup import REDACTOR
from .secrets import secret_keys, secret_values
from .storage import Store
from .util.backoff import Backoff

if TYPE_CHECKING:
    from .config_flow import FlowManager, OptionsFlowManager
    from .host import Host
    from .plugins import LoadedIntegration

_LOGGER = logging.getLogger(__name__)

__all__ = [
    "EVENT_CONFIG_ENTRY_CHANGED",
    "ConfigEntries",
    "ConfigEntry",
    "ConfigEntryState",
    "Source",
]

STORAGE_KEY: Final = "core.config_entries"
STORAGE_VERSION: Final = 1

DEFAULT_RETRY: Final = Backoff(initial=2.0, maximum=300.0, jitter=0.2)

EVENT_CONFIG_ENTRY_CHANGED: Final[EventType[dict[str, Any]]] = EventType("config_entry_changed")


class ConfigEntries:
    """All config entries of the host: storage, lifecycle and flows."""

    def __init__(self, host: Host) -> None:
        self._host = host
        self._entries: dict[str, ConfigEntry[Any]] = {}
        self._store: Store[dict[str, Any]] | None = None
        #: Pacing of set-up retries after ``ConfigEntryNotReady``: a hundred devices behind
        #: one dead switch must not retry in lock-step, nor more often than every 5 min.
        self.retry_policy = DEFAULT_RETRY
        self._setup_order: list[str] = []
        self._loaded = False
        self._load_lock = anyio.Lock()
        from .config_flow import FlowManager, OptionsFlowManager

        self.flow: FlowManager = FlowManager(host, self)
        self.options: OptionsFlowManager = OptionsFlowManager(host, self)

    # -- storage -------------------------------------------------------------------

    def _get_store(self) -> Store[dict[str, Any]]:
        if self._store is None:
            self._store = Store(self._host.storage_dir, STORAGE_KEY, STORAGE_VERSION)
        return self._store

    async def load(self) -> None:
        """Read stored entries (does not set them up); only the first call reads.

        Idempotent because ``add`` may come first (an entry added while the host is
        starting, before bootstrap got here): reading again would replace that live,
        maybe loaded, entry with a second object of the same id and its own lock, and
        ``setup_all`` would set the entry up a second time alongside the first.
        """
        await self._load_once()

    async def _load_once(self) -> None:
        async with self._load_lock:
            if self._loaded:
                return
            raw = await self._get_store().load()
            for item in (raw or {}).get("entries", []):
                entry = ConfigEntry.from_storage(item)
                self._entries.setdefault(entry.entry_id, entry)
            self._loaded = True

    def _schedule_save(self) -> None:
        self._get_store().delay_save(self._data_to_save, 0.5)

    def _data_to_save(self) -> dict[str, Any]:
        return {"entries": [e.as_storage() for e in self._entries.values()]}

    async def flush(self) -> None:
        if self._store is not None:
            await self._store.flush()

    async def save_now(self) -> None:
        await self._get_store().save(self._data_to_save())

    # -- queries -------------------------------------------------------------------

    def entries(self, domain: str | None = None) -> list[ConfigEntry[Any]]:
        return [e for e in self._entries.values() if domain is None or e.domain == domain]

    def get(self, entry_id: str) -> ConfigEntry[Any]:
        try:
            return self._entries[entry_id]
        except KeyError:
            raise UnknownEntry(entry_id) from None

    def find_unique_id(self, domain: str, unique_id: str) -> ConfigEntry[Any] | None:
        for entry in self._entries.values():
            if entry.domain == domain and entry.unique_id == unique_id:
                return entry
        return None

    # -- changes -------------------------------------------------------------------

    async def add(self, entry: ConfigEntry[Any], *, setup: bool = True) -> ConfigEntry[Any]:
        """Store a new entry and (unless disabled or ``setup=False``) set it up.

        Storage is read first if it has not been (see ``load``): the duplicate checks
        need the stored entries, and the save below must not drop them from disk.
        """
        await self._load_once()
        if entry.entry_id in self._entries:
            raise OperationNotAllowed(f"entry {entry.entry_id} exists already")
        if entry.unique_id is not None and self.find_unique_id(entry.domain, entry.unique_id):
            raise OperationNotAllowed(
                f"an entry of {entry.domain} with unique_id {entry.unique_id!r} exists already"
            )
        self._entries[entry.entry_id] = entry
        # Written now, not after the usual delay: integrations key durable data (the
        # outbox queue of an mqtt entry) by entry_id, which a crash must not orphan.
        await self.save_now()
        self._changed(entry, "added")
        if setup and not entry.disabled and self._host.is_running:
            await self.setup(entry.entry_id)
        return entry

    def update_entry(
        self,
        entry: ConfigEntry[Any],
        *,
        title: str | None = None,
        data: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
        unique_id: str | None = None,
        version: int | None = None,
        minor_version: int | None = None,
    ) -> bool:
        """Change an entry's stored fields; True if anything changed (then saved)."""
        changed = entry.apply_update(
            title=title, data=data, options=options, unique_id=unique_id,
            version=version, minor_version=minor_version,
        )
        if changed:
            self._schedule_save()
            self._changed(entry, "updated")
        return changed

    async def remove(self, entry_id: str) -> None:
        """Unload an entry, forget it, and remove its entities and devices."""
        entry = self.get(entry_id)
        # Not only when loaded: unload takes the entry's lock, so a set-up in progress
        # finishes and is undone, instead of coming alive after the entry is gone.
        if entry.state is not ConfigEntryState.FAILED_UNLOAD:
            await self.unload(entry_id)
        self._entries.pop(entry_id, None)
        self._host.entity_registry.remove_config_entry(entry_id)
        self._host.device_registry.remove_config_entry(entry_id)
        self._schedule_save()
        self._changed(entry, "removed")

    async def set_disabled(self, entry_id: str, disabled: bool) -> None:
        entry = self.get(entry_id)
        if disabled == entry.disabled:
            return
        entry.set_disabled_by("user" if disabled else None)
        if disabled and entry.state is not ConfigEntryState.FAILED_UNLOAD:
            await self.unload(entry_id)  # waits for a set-up in progress (see remove)
        self._schedule_save()
        self._changed(entry, "updated")
        if not disabled and self._host.is_running:
            await self.setup(entry_id)

    def _changed(self, entry: ConfigEntry[Any], change: str) -> None:
        # With the acting user's context (set by the web server per request), so the
        # audit log can say who added, changed or removed an entry.
        self._host.bus.fire(
            EVENT_CONFIG_ENTRY_CHANGED,
            {"entry_id": entry.entry_id, "domain": entry.domain, "change": change,
             "state": str(entry.state)},
            acting_context(),
        )

    # -- lifecycle -----------------------------------------------------------------

    async def setup(self, entry_id: str) -> bool:
        """Set up an entry; True if it ended ``loaded``.

        One attempt per entry at a time: the attempt holds ``entry.lock``, so a second
        caller (a retry timer, ``setup_all``, a reload) waits and then finds the entry
        ``loaded`` (and returns) or in a state it may set up from.

        Failures never raise here: they move the entry to ``setup_error``,
        ``setup_retry`` or ``migration_error`` with a ``reason``, because one broken
        integration must not stop the others from starting.
        """
        entry = self.get(entry_id)
        async with entry.lock:
            return await self._setup_locked(entry)

    async def _setup_locked(self, entry: ConfigEntry[Any]) -> bool:
        if entry.disabled:
            raise OperationNotAllowed(f"entry {entry.entry_id} is disabled")
        if entry.state is ConfigEntryState.LOADED:
            return True
        if not entry.state.can_setup:
            raise OperationNotAllowed(
                f"cannot set up entry {entry.entry_id} in state {entry.state}"
            )
        entry.next_retry_at = None
        try:
            loaded = self._host.plugins.load(entry.domain)
        except GatehouseError as err:
            return self._fail(entry, ConfigEntryState.SETUP_ERROR, str(err))
        except Exception as err:
            _LOGGER.exception("Integration %s failed to load", entry.domain)
            return self._fail(entry, ConfigEntryState.SETUP_ERROR, f"import failed: {err}")
        self._host.services.describe(entry.domain, loaded.service_descriptions)
        # Whatever the integration logs from now on, its secrets come out masked.
        REDACTOR.add(secret_values(entry.data, secret_keys(self._host, entry.domain)))
        if not await self._migrate(entry, loaded):
            return False
        self._set_state(entry, ConfigEntryState.SETUP_IN_PROGRESS)
        entry.setup_attempts += 1
        await self._host.task_group.start(entry.lifetime)
        try:
            await loaded.integration.setup_entry(self._host, entry)
        except anyio.get_cancelled_exc_class():
            # Cancelled mid-way (the caller went away, the host is stopping): release
            # what the attempt made, or the entry stays "setup_in_progress" for good,
            # refusing setup, unload and reload alike.
            with anyio.CancelScope(shield=True):
                await entry.teardown()
            entry.reason = "set-up was cancelled"
            self._set_state(entry, ConfigEntryState.NOT_LOADED)
            raise
        except ConfigEntryNotReady as err:
            await entry.teardown()
            delay = self.retry_policy.delay(entry.setup_attempts)
            entry.next_retry_at = time.time() + delay
            self._fail(entry, ConfigEntryState.SETUP_RETRY, str(err) or "not ready", log=False)
            _LOGGER.warning(
                "%s entry %r not ready (%s); retrying in %.1f s",
                entry.domain, entry.title, entry.reason, delay,
            )
            # The scope is made and recorded now, not when the task first runs: an
            # unload or reload before then must be able to cancel this retry, or it
            # would run alongside the next one and the retries would multiply.
            scope = entry.new_retry_scope()
            self._host.spawn(
                self._retry_later(entry, delay, scope), f"retry {entry.entry_id}"
            )
            return False
        except (ConfigEntryAuthFailed, ConfigEntryError) as err:
            await entry.teardown()
            return self._fail(entry, ConfigEntryState.SETUP_ERROR, str(err) or type(err).__name__)
        except StoreTooNewError as err:
            # Data from a newer release: never start on it (no silent downgrade), and not
            # only this entry: the host stops, saying why (issue 15, upgrades).
            await entry.teardown()
            self._fail(entry, ConfigEntryState.SETUP_ERROR, str(err), log=False)
            _LOGGER.critical("Refusing to run: %s (was Gatehouse downgraded?); stopping", err)
            self._host.request_stop(EXIT_STORE_TOO_NEW)
            return False
        except Exception as err:
            _LOGGER.exception("Error setting up %s entry %r", entry.domain, entry.title)
            await entry.teardown()
            return self._fail(entry, ConfigEntryState.SETUP_ERROR, f"unexpected error: {err}")
        entry.setup_attempts = 0
        entry.reason = None
        self._set_state(entry, ConfigEntryState.LOADED)
        return True

    def _fail(
        self, entry: ConfigEntry[Any], state: ConfigEntryState, reason: str, *, log: bool = True
    ) -> bool:
        entry.reason = reason
        self._set_state(entry, state)
        if log:
            _LOGGER.error("Setup of %s entry %r failed: %s", entry.domain, entry.title, reason)
        return False

    def _set_state(self, entry: ConfigEntry[Any], state: ConfigEntryState) -> None:
        entry.state = state
        self._changed(entry, "state")

    async def _migrate(self, entry: ConfigEntry[Any], loaded: LoadedIntegration) -> bool:
        target = loaded.entry_version
        if entry.version == target:
            return True
        if entry.version > target:
            self._fail(
                entry,
                ConfigEntryState.MIGRATION_ERROR,
                f"entry version {entry.version} is newer than the integration's {target}",
            )
            return False
        migrate = loaded.migrate_entry
        if migrate is None:
            self._fail(
                entry,
                ConfigEntryState.MIGRATION_ERROR,
                f"entry version {entry.version} needs migration to {target}, "
                "but the integration has no migrate_entry",
            )
            return False
        try:
            ok = bool(await migrate(self._host, entry))
        except Exception as err:
            _LOGGER.exception("Migration of %s entry %r failed", entry.domain, entry.title)
            ok, reason = False, f"migration raised {err!r}"
        else:
            reason = "the integration refused to migrate the entry"
        if not ok or entry.version != target:
            self._fail(entry, ConfigEntryState.MIGRATION_ERROR, reason)
            return False
        return True

    async def _retry_later(
        self, entry: ConfigEntry[Any], delay: float, scope: anyio.CancelScope
    ) -> None:
        with scope:  # cancelled before it started: exits at once
            await anyio.sleep(delay)
            # Waiting for the lock is still cancellable: an unload that holds it now
            # has cancelled this retry, and must not see the entry set up right after.
            async with entry.lock:
                # The attempt itself is not cancelled by unload, which waits for it on
                # the lock instead; a new retry gets a scope of its own.
                entry.retry_finished(scope)
                if entry.state is ConfigEntryState.SETUP_RETRY and self._host.is_running:
                    await self._setup_locked(entry)
        entry.retry_finished(scope)

    async def unload(self, entry_id: str) -> bool:
        """Unload an entry; True if it ended ``not_loaded``."""
        entry = self.get(entry_id)
        entry.cancel_retry()
        async with entry.lock:
            return await self._unload_locked(entry)

    async def _unload_locked(self, entry: ConfigEntry[Any]) -> bool:
        # again under the lock: an attempt that ran while we waited may have scheduled
        # a new retry after unload() cancelled the previous one
        entry.cancel_retry()
        if entry.state is ConfigEntryState.SETUP_RETRY:
            self._set_state(entry, ConfigEntryState.NOT_LOADED)
            return True
        if entry.state is not ConfigEntryState.LOADED:
            if entry.state in (ConfigEntryState.NOT_LOADED, ConfigEntryState.SETUP_ERROR,
                               ConfigEntryState.MIGRATION_ERROR):
                return True
            raise OperationNotAllowed(
                f"cannot unload entry {entry.entry_id} in state {entry.state}"
            )
        loaded = self._host.plugins.loaded()[entry.domain]
        failure: str | None = None
        try:
            await loaded.integration.unload_entry(self._host, entry)
        except Exception as err:
            _LOGGER.exception("Error unloading %s entry %r", entry.domain, entry.title)
            failure = f"unload raised {err!r}"
        errors = await entry.teardown()
        if failure is None and errors:
            failure = f"{len(errors)} clean-up step(s) failed: {errors[0]!r}"
        if failure is not None:
            entry.reason = failure
            self._set_state(entry, ConfigEntryState.FAILED_UNLOAD)
            return False
        entry.reason = None
        self._set_state(entry, ConfigEntryState.NOT_LOADED)
        return True

    async def reload(self, entry_id: str) -> bool:
        """Unload then set up again; True if the entry ends ``loaded``."""
        entry = self.get(entry_id)
        if entry.state is ConfigEntryState.FAILED_UNLOAD:
            raise OperationNotAllowed(
                f"entry {entry_id} failed to unload; restart the host to recover it"
            )
        if not await self.unload(entry_id):
            return False
        if entry.state is ConfigEntryState.MIGRATION_ERROR:
            entry.state = ConfigEntryState.NOT_LOADED
        if entry.disabled:
            return False
        entry.setup_attempts = 0
        return await self.setup(entry_id)

    async def setup_all(self, domains_order: list[str]) -> None:
        """Set up every enabled entry, domain by domain in dependency order.

        Entries of one domain are set up concurrently: one slow device does not hold
        up its siblings. Only entries nobody has tried yet (``not_loaded``) are set up:
        one added while the host was starting was set up by ``add``, and if that attempt
        failed, its retry timer (or the user) tries again, not a second attempt here.
        """
        self._setup_order = list(domains_order)
        rank = {domain: i for i, domain in enumerate(domains_order)}
        by_domain: dict[str, list[ConfigEntry[Any]]] = {}
        for entry in self._entries.values():
            if not entry.disabled and entry.state is ConfigEntryState.NOT_LOADED:
                by_domain.setdefault(entry.domain, []).append(entry)
        for domain in sorted(by_domain, key=lambda d: rank.get(d, len(rank))):
            async with anyio.create_task_group() as tg:
                for entry in by_domain[domain]:
                    tg.start_soon(self._setup_untried, entry)

    async def _setup_untried(self, entry: ConfigEntry[Any]) -> None:
        async with entry.lock:
            # again under the lock: an ``add`` may have set it up while we waited, or a
            # ``remove`` taken it away
            if (
                self._entries.get(entry.entry_id) is entry
                and not entry.disabled
                and entry.state is ConfigEntryState.NOT_LOADED
            ):
                await self._setup_locked(entry)

    async def unload_all(self) -> None:
        """Unload every entry, dependents before their dependencies (host stop)."""
        rank = {domain: i for i, domain in enumerate(self._setup_order)}
        entries = sorted(self._entries.values(), key=lambda e: rank.get(e.domain, -1))
        for entry in reversed(entries):
            entry.cancel_retry()
            if entry.state in (ConfigEntryState.LOADED, ConfigEntryState.SETUP_RETRY):
                try:
                    await self.unload(entry.entry_id)
                except GatehouseError:
                    _LOGGER.exception("Could not unload %s", entry)

    # -- YAML import ---------------------------------------------------------------

    async def sync_yaml(self, domain: str, wanted: list[YamlEntry]) -> list[ConfigEntry[Any]]:
        """Make the ``import`` entries of ``domain`` match its YAML section.

        New blocks become entries, changed blocks update theirs (reloaded if loaded),
        blocks that disappeared remove their entries. Returns the current import entries.
        """
        existing = {
            e.unique_id: e
            for e in self._entries.values()
            if e.domain == domain and e.source is Source.IMPORT
        }
        loaded = self._host.plugins.loaded().get(domain)
        version = loaded.entry_version if loaded is not None else 1
        result: list[ConfigEntry[Any]] = []
        for item in wanted:
            entry = existing.pop(item.unique_id, None)
            if entry is None:
                clash = self.find_unique_id(domain, item.unique_id)
                if clash is not None:
                    _LOGGER.warning(
                        "YAML for %s describes %r, already configured in the UI; ignoring it",
                        domain, item.unique_id,
                    )
                    continue
                entry = ConfigEntry(
                    domain=domain, title=item.title, data=item.data, options=item.options,
                    unique_id=item.unique_id, source=Source.IMPORT, version=version,
                )
                await self.add(entry, setup=False)
            # YAML that states no options leaves those set in the options flow alone
            # (else every restart would silently undo them and "change" the entry).
            elif self.update_entry(
                entry, title=item.title, data=item.data, options=item.options or None
            ):
                _LOGGER.info("YAML for %s entry %r changed", domain, entry.title)
                if entry.state is ConfigEntryState.LOADED:
                    await self.reload(entry.entry_id)
            result.append(entry)
        for gone in existing.values():
            _LOGGER.info("YAML for %s entry %r was removed; removing the entry", domain, gone.title)
            await self.remove(gone.entry_id)
        return result
