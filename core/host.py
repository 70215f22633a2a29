"""The Host: one per process, owner of the bus, the states, the services and every task.

Structured concurrency (anyio): everything the host runs lives in its task group, and
every config entry gets a task group of its own inside it, so stopping the host or
unloading an entry cancels exactly what it started. The host is always passed
explicitly; there is no global or thread-local way to find it.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import gc
import logging
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

import anyio
from anyio.abc import TaskGroup

from .bus import EventBus, EventType
from .const import STORAGE_DIR
from .exceptions import HostStoppingError
from .keys import HostData
from .services import ServiceRegistry
from .states import StateMachine
from .tasks import spawn_logged

if TYPE_CHECKING:
    from .plugins import PluginManager

_LOGGER = logging.getLogger(__name__)
T = TypeVar("T")

EVENT_HOST_STARTED: Final[EventType[dict[str, Any]]] = EventType("host_started")
EVENT_HOST_STOPPING: Final[EventType[dict[str, Any]]] = EventType("host_stopping")

#: Seconds the host gives entries to unload on stop before it cancels what is left.
DEFAULT_STOP_TIMEOUT: Final = 20.0

#: Event types that mark a set-up wave (an entry loaded, entities or devices registered).
_SETUP_WAVE_EVENTS: Final = (
    "config_entry_changed",
    "entity_registry_updated",
    "device_registry_updated",
)


class HostState(enum.StrEnum):
    NOT_RUNNING = "not_running"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"


class Host:
    """The root object of a Gatehouse process.

    Use ``await host.run()`` for a process that runs until SIGINT/SIGTERM, or
    ``async with host.running(): ...`` to run it inside a block (tests, the CLI).
    """

    def __init__(
        self,
        config_dir: Path | str,
        *,
        plugins: PluginManager | None = None,
        stop_timeout: float = DEFAULT_STOP_TIMEOUT,
    ) -> None:
        self.config_dir = Path(config_dir).resolve()
        self.stop_timeout = stop_timeout
        self.state = HostState.NOT_RUNNING
        self.bus = EventBus()
        self.states = StateMachine(self.bus)
        self.services = ServiceRegistry(self.bus)
        self.data = HostData()
        #: The validated configuration.yaml of this run (by domain), set by bootstrap.
        self.config: dict[str, Any] = {}
        self._task_group: TaskGroup | None = None
        self._stop_requested = anyio.Event()
        self._stopped = anyio.Event()
        self._shutdown_callbacks: list[Callable[[], Awaitable[None] | None]] = []
        self.exit_code = 0
        #: Seconds without a set-up event before the heap is frozen again, and the least
        #: time between two freezes (see ``freeze_gc_after_setup_waves``).
        self.gc_settle_quiet = 3.0
        self.gc_settle_interval = 60.0
        #: Least seconds between two settles that unfreeze everything first, so cyclic
        #: garbage frozen by an earlier settle is freed (a bounded leak in between).
        self.gc_full_interval = 3600.0
        self._gc_last_full = time.monotonic()
        self.gc_freezes = 0
        self._gc_timer: asyncio.TimerHandle | None = None
        self._gc_last_freeze = float("-inf")
        self._gc_wave_started = 0.0
        self._gc_wave_listeners: list[Callable[[], None]] = []

        from .config_entries import ConfigEntries
        from .device_registry import DeviceRegistry
        from .entity_manager import EntityManager
        from .entity_registry import EntityRegistry
        from .plugins import PluginManager

        self.plugins: PluginManager = plugins if plugins is not None else PluginManager()
        self.device_registry = DeviceRegistry(self)
        self.entity_registry = EntityRegistry(self)
        self.config_entries = ConfigEntries(self)
        self.entities = EntityManager(self)

    def __repr__(self) -> str:
        return f"<Host {self.config_dir} {self.state}>"

    @property
    def storage_dir(self) -> Path:
        return self.config_dir / STORAGE_DIR

    @property
    def is_running(self) -> bool:
        return self.state in (HostState.STARTING, HostState.RUNNING)

    # -- tasks -------------------------------------------------------------------

    @property
    def task_group(self) -> TaskGroup:
        if self._task_group is None:
            raise HostStoppingError("the host is not running")
        return self._task_group

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str | None = None) -> None:
        """Run ``coro`` as a background task of the host; its failure is logged.

        The task lives in the host's task group: it is cancelled when the host stops.
        Work that belongs to a config entry should use ``entry.spawn`` instead, so that
        unloading the entry cancels it.
        """
        group = None if self.state is HostState.STOPPED else self._task_group
        spawn_logged(group, coro, name=name, refusal="the host is not running")

    def call_soon_threadsafe(self, func: Callable[..., Any], *args: Any) -> None:
        """Run ``func(*args)`` in the loop from another thread (paho's network thread)."""
        self._loop.call_soon_threadsafe(func, *args)

    # -- lifecycle ---------------------------------------------------------------

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Host]:
        """Start the host, yield it, stop it on exit (also on error or cancellation).

        A failure while starting or running is re-raised as itself, not wrapped in the
        task group's ``ExceptionGroup``, after the host has stopped cleanly.
        """
        try:
            async with anyio.create_task_group() as tg:
                self._task_group = tg
                self._loop = asyncio.get_running_loop()
                self.bus.set_spawner(self.spawn)
                self.services.set_spawner(self.spawn)
                try:
                    await self._start()
                    yield self
                finally:
                    with anyio.CancelScope(shield=True):
                        await self._stop()
                    tg.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            if len(group.exceptions) == 1:
                raise group.exceptions[0] from None
            raise
        finally:
            self._task_group = None
            self.state = HostState.STOPPED
            self._stopped.set()

    async def run(self) -> int:
        """Run until ``request_stop`` or SIGINT/SIGTERM; return the exit code.

        Signals are watched from before start-up, so a SIGTERM while entries are still
        being set up still ends in a graceful stop (start finishes, then everything
        unloads and storage is flushed) instead of killing the process mid-write.
        A failure to start is raised as itself, as ``running`` does.
        """
        try:
            await self._run_until_stopped()
        except BaseExceptionGroup as group:
            if len(group.exceptions) == 1:
                raise group.exceptions[0] from None
            raise
        return self.exit_code

    async def _run_until_stopped(self) -> None:
        async with anyio.create_task_group() as outer:
            outer.start_soon(self._watch_signals)
            async with self.running():
                # Everything made during start-up lives as long as the process: move it
                # out of the collector's reach so later collections scan only new
                # objects (MQTT ingest p99 is dominated by collection pauses otherwise).
                # Only here, in the process's one host: tests start hundreds of hosts.
                # Collect first: a reference cycle made during start-up (a validation
                # traceback holding a whole YAML tree, say) would otherwise be frozen
                # for the life of the process instead of freed.
                self.settle_gc()
                self.freeze_gc_after_setup_waves()
                # Free space of the config dir as a problem entity and in /api/health.
                from .disk import DiskWatch

                DiskWatch(self).start()
                # Under systemd (Type=notify): READY=1 now, watchdog pings from this loop.
                from .systemd import SystemdLink

                systemd = SystemdLink.from_environment()
                if systemd is not None:
                    systemd.ready(self)
                await self._stop_requested.wait()
                if systemd is not None:
                    systemd.stopping()
            outer.cancel_scope.cancel()

    # -- garbage collector -------------------------------------------------------

    def settle_gc(self) -> None:
        """Collect, then move every object alive now out of the collector's reach.

        A full collection scans every tracked object: 27-29 ms idle and 30-73 ms under
        MQTT load for a host with 1,000 entities, a pause every few seconds that was
        most of the ingest p99. Objects made while setting up live as long as their
        entry, so scanning them again is pure cost; frozen, later collections see only
        what is new. Collecting first keeps a start-up reference cycle (a validation
        traceback holding a YAML tree) from being frozen instead of freed. Costs one
        collection of the unfrozen objects: call it when set-up is done, not per message.
        """
        now = time.monotonic()
        if now - self._gc_last_full >= self.gc_full_interval:
            # Objects frozen earlier that have since become cyclic garbage (an entity
            # discovery removed, with its undo closures) are never freed while frozen:
            # once in a while, unfreeze and collect everything. One full pause per
            # interval at most, and only when set-up waves keep coming.
            gc.unfreeze()
            self._gc_last_full = now
        gc.collect()
        gc.freeze()
        self.gc_freezes += 1
        with contextlib.suppress(RuntimeError):  # called outside the loop
            self._gc_last_freeze = asyncio.get_running_loop().time()

    def freeze_gc_after_setup_waves(self) -> Callable[[], None]:
        """From now on, ``settle_gc`` after every set-up wave; returns the undo.

        Entries loaded after start (a retry that succeeds, a flow), entities made by
        discovery and devices that appear later would otherwise sit in the oldest
        generation and be scanned by every full collection again. A wave is a burst of
        config entry, entity or device registry events; the freeze comes
        ``gc_settle_quiet`` seconds after its last event, at most once every
        ``gc_settle_interval`` seconds (a device that keeps appearing and vanishing
        cannot make the host collect all the time). ``Host.run`` turns this on; tests
        and other embedders that start many hosts in one process leave it off.
        """
        for event_type in _SETUP_WAVE_EVENTS:
            self._gc_wave_listeners.append(self.bus.listen(event_type, self._on_setup_event))

        def undo() -> None:
            while self._gc_wave_listeners:
                self._gc_wave_listeners.pop()()
            if self._gc_timer is not None:
                self._gc_timer.cancel()
                self._gc_timer = None

        return undo

    def _on_setup_event(self, event: Any) -> None:
        if self.state is not HostState.RUNNING:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self._gc_timer is None:
            self._gc_wave_started = now
        else:
            self._gc_timer.cancel()
        # Quiet for a moment after the last event, but a wave that never ends (events
        # every second) is frozen after ten quiet periods anyway.
        at = min(now + self.gc_settle_quiet, self._gc_wave_started + 10 * self.gc_settle_quiet)
        at = max(at, self._gc_last_freeze + self.gc_settle_interval)
        self._gc_timer = loop.call_at(at, self._settle_from_timer)

    def _settle_from_timer(self) -> None:
        self._gc_timer = None
        if self.state is HostState.RUNNING:
            self.settle_gc()

    def request_stop(self, exit_code: int = 0) -> None:
        """Ask ``run`` to stop the host (safe to call from the loop, any time)."""
        self.exit_code = exit_code
        self._stop_requested.set()

    async def wait_stopped(self) -> None:
        await self._stopped.wait()

    def on_shutdown(self, callback: Callable[[], Awaitable[None] | None]) -> Callable[[], None]:
        """Run ``callback`` while stopping, after entries unloaded (flush files...)."""
        self._shutdown_callbacks.append(callback)

        def remove() -> None:
            if callback in self._shutdown_callbacks:
                self._shutdown_callbacks.remove(callback)

        return remove

    async def _watch_signals(self) -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                _LOGGER.info("Received %s, stopping", signal.Signals(signum).name)
                self.request_stop(0)
                return

    async def _start(self) -> None:
        from .bootstrap import async_setup_host

        self.state = HostState.STARTING
        await async_setup_host(self)
        self.state = HostState.RUNNING
        self.bus.fire(EVENT_HOST_STARTED)
        self.plugins.hook.gatehouse_host_started(host=self)

    async def _stop(self) -> None:
        if self.state in (HostState.STOPPING, HostState.STOPPED):
            return
        self.state = HostState.STOPPING
        self.bus.fire(EVENT_HOST_STOPPING)
        try:
            self.plugins.hook.gatehouse_host_stopping(host=self)
        except Exception:
            _LOGGER.exception("Error in gatehouse_host_stopping hook")
        with anyio.move_on_after(self.stop_timeout) as scope:
            await self.config_entries.unload_all()
        if scope.cancelled_caught:
            _LOGGER.warning(
                "Entries did not unload within %.0f s; cancelling what is left",
                self.stop_timeout,
            )
        for callback in reversed(self._shutdown_callbacks):
            try:
                result = callback()
                if result is not None:
                    await result
            except Exception:
                _LOGGER.exception("Error in shutdown callback %r", callback)
        await self.entity_registry.flush()
        await self.device_registry.flush()
        await self.config_entries.flush()

