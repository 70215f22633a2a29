"""``RecorderRuntime``: a loaded recorder: its database, writer thread and listeners.

Opening the database is blocking (and may move a corrupt file aside) and runs in a
worker thread. ``start`` attaches the bus listeners (one ``deque.append`` each, see
``writer.py``) and starts the thread; queries run in worker threads on their own
read-only connections (``queries.py``). The daily purge is queued to the writer
thread like a commit, so it never races a write.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from gatehouse.core import EVENT_STATE_CHANGED, MATCH_ALL, Event, Host
from gatehouse.core.helpers import TagCipher, decrypting_cipher, entity_filter, tag_cipher

from . import queries
from .const import (
    CONF_AUTO_PURGE,
    CONF_COMMIT_INTERVAL,
    CONF_DB_FILE,
    CONF_EXCLUDE_EVENT_TYPES,
    CONF_MAX_QUEUE,
    CONF_MAX_SIZE_MB,
    CONF_PURGE_KEEP_DAYS,
    CONF_STATISTICS_KEEP_DAYS,
    SIZE_CHECK_INTERVAL,
)
from .database import Database, InitialStates, state_row
from .writer import RecorderWriter

_LOGGER = logging.getLogger(__name__)

#: Events never stored: state changes are stored as states; the others fire many
#: times a second and say nothing after the fact.
NOT_RECORDED = frozenset({"state_changed", "time_changed", "service_registered",
                          "service_removed", "call_service"})


class RecorderRuntime:
    """See the module docstring."""

    def __init__(self, host: Host, config: Mapping[str, Any], path: Path,
                 writer: RecorderWriter, cipher: TagCipher | None) -> None:
        self.host = host
        self.config = config
        self.path = path
        self.writer = writer
        self.cipher = cipher
        selected = entity_filter(host, config)
        self.selects: Callable[[Any], bool] | None = None if selected.empty else selected
        self._excluded = NOT_RECORDED | frozenset(config[CONF_EXCLUDE_EVENT_TYPES])
        self.on_problem: Callable[[], None] | None = None
        self.purges = 0
        self.last_purge: float | None = None

    @classmethod
    async def open(cls, host: Host, config: Mapping[str, Any], *,
                   max_page_count: int | None = None) -> RecorderRuntime:
        path = host.config_dir / str(config[CONF_DB_FILE])
        cipher = tag_cipher(host)
        if cipher is not None:
            await anyio.to_thread.run_sync(cipher.prepare)

        def reopen() -> Database:
            return Database.open(path, cipher, max_page_count=max_page_count)

        db = await anyio.to_thread.run_sync(reopen)
        writer = RecorderWriter(db, commit_interval=float(config[CONF_COMMIT_INTERVAL]),
                                max_queue=int(config[CONF_MAX_QUEUE]), reopen=reopen)
        return cls(host, config, path, writer, cipher)

    def start(self) -> list[Callable[[], None]]:
        """Start the thread and listen; returns the undos (listeners, then the thread)."""
        loop = asyncio.get_running_loop()

        def status() -> None:  # from the writer thread
            if self.on_problem is not None:
                loop.call_soon_threadsafe(self.on_problem)

        self.writer.on_status = status
        self.writer.start()
        bus = self.host.bus
        undo = [bus.listen(EVENT_STATE_CHANGED, self._on_state),
                bus.listen(MATCH_ALL, self._on_event)]
        # What exists already (entries set up before us): queued ahead of any change.
        selects = self.selects
        self.writer.offer(InitialStates([
            state_row(state) for state in self.host.states.all()
            if selects is None or selects(state)]))
        return undo

    def _on_state(self, event: Event[Any]) -> None:
        new = event.data["new_state"]
        if new is None:
            return
        if self.selects is not None and not self.selects(new):
            return
        self.writer.offer(state_row(new))

    def _on_event(self, event: Event[Any]) -> None:
        if event.event_type in self._excluded:
            return
        entity_id = event.data.get("entity_id") if event.data else None
        if self.selects is not None and isinstance(entity_id, str):
            state = self.host.states.get(entity_id)
            if state is not None and not self.selects(state):
                return
        self.writer.offer(event)

    async def close(self) -> None:
        await anyio.to_thread.run_sync(self.writer.close)

    async def flush(self) -> None:
        """Return once everything offered before the call is committed."""
        await anyio.to_thread.run_sync(self.writer.call, None, abandon_on_cancel=True)

    @property
    def reader_cipher(self) -> TagCipher | None:
        """What opens sealed rows: the configured cipher, else a decrypt-only one (rows
        sealed before the configuration changed)."""
        if self.cipher is not None:
            return self.cipher
        try:
            return decrypting_cipher(self.host)
        except Exception:  # noqa: BLE001 - no keyring: sealed rows stay sealed
            return None

    # -- purging ---------------------------------------------------------------------

    async def purge(self, keep_days: float | None = None) -> int:
        keep = float(self.config[CONF_PURGE_KEEP_DAYS] if keep_days is None else keep_days)
        stats_keep = max(float(self.config[CONF_STATISTICS_KEEP_DAYS]), keep)

        def job(db: Database) -> int:
            return db.purge(keep, stats_keep, pause=self.writer.commit_queued)

        deleted = int(await anyio.to_thread.run_sync(self.writer.call, job,
                                                      abandon_on_cancel=True))
        self.purges += 1
        self.last_purge = time.time()
        _LOGGER.info("Recorder: purged %d rows older than %s days", deleted, keep)
        return deleted

    async def trim(self) -> int:
        """Keep the database within ``max_size_mb`` (oldest states and events first)."""
        max_bytes = int(self.config[CONF_MAX_SIZE_MB]) * 1024 * 1024

        def job(db: Database) -> int:
            return db.trim_to(max_bytes, pause=self.writer.commit_queued)

        deleted = int(await anyio.to_thread.run_sync(self.writer.call, job,
                                                      abandon_on_cancel=True))
        if deleted:
            _LOGGER.warning("Recorder: over its size bound of %s MiB; deleted the %d oldest "
                            "states and events", self.config[CONF_MAX_SIZE_MB], deleted)
        return deleted

    async def size_guard(self) -> None:
        """Check the size bound every ``SIZE_CHECK_INTERVAL`` seconds."""
        while True:
            await anyio.sleep(SIZE_CHECK_INTERVAL)
            try:
                await self.trim()
            except Exception as err:  # noqa: BLE001 - a loop that must not die
                _LOGGER.error("Recorder: the size check failed: %s", err)

    async def daily_purge(self) -> None:
        """Purge once a day (HA purges at 04:12 local time; we purge a day after set-up
        and every day after that; the first run a minute after start)."""
        if not self.config[CONF_AUTO_PURGE]:
            return
        await anyio.sleep(60)
        while True:
            try:
                await self.purge()
            except Exception as err:  # noqa: BLE001 - tomorrow again
                _LOGGER.error("Recorder: the daily purge failed: %s", err)
            await anyio.sleep(86400)

    # -- queries ---------------------------------------------------------------------

    async def states_during(self, entity_ids: Sequence[str], start: float, end: float, *,
                            significant_only: bool, no_attributes: bool,
                            include_start_state: bool = True,
                            ) -> queries.Found:
        return await anyio.to_thread.run_sync(
            lambda: queries.states_during(
                self.path, entity_ids, start, end, cipher=self.reader_cipher,
                significant_only=significant_only, no_attributes=no_attributes,
                include_start_state=include_start_state))

    async def logbook(self, start: float, end: float, entity_ids: Sequence[str] | None,
                      event_types: Sequence[str]) -> list[queries.LogRow]:
        return await anyio.to_thread.run_sync(
            lambda: queries.logbook_rows(self.path, start, end, entity_ids, event_types,
                                         self.reader_cipher))

    async def statistics(self, statistic_ids: Sequence[str], start: float, end: float,
                         period: str) -> dict[str, list[tuple[float, float | None,
                                                              float | None, float | None]]]:
        return await anyio.to_thread.run_sync(
            queries.statistics_during, self.path, statistic_ids, start, end, period)

    def diagnostics(self) -> dict[str, Any]:
        return {"database": str(self.path), "purges": self.purges,
                "last_purge": self.last_purge, "filtered": self.selects is not None,
                "moved_aside": str(self.writer.db.moved_aside or "") or None,
                **self.writer.diagnostics()}
