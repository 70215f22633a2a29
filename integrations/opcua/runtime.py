"""One loaded entry: its session, its entities, and the loop that keeps them connected.

The first connect happens during set-up, so the host learns at once whether the server
is unreachable (retry later), refuses our identity or is not trusted (a human must act).
After that ``run`` owns the session: it monitors the nodes until the session breaks,
marks every entity unavailable, and reconnects with exponential backoff and jitter
(the house's ``Backoff``: jitter only shortens a wait, so ``reconnect_max_delay`` is a
true upper bound, and boxes that lost the same server do not come back in lock-step).
Each reconnect is a *new* session: namespace URIs are resolved again (a restarted
server may have renumbered them), DataTypes re-read, and the subscription re-created.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

import anyio

from gatehouse.core.helpers import Backoff

from .client import ConnectionSettings, OpcuaClient
from .const import DEFAULT_RECONNECT_MIN_DELAY, RECONNECT_JITTER
from .entity import OpcuaEntity
from .errors import OpcuaConnectionError, OpcuaError
from .monitor import MonitorSpec, NodeMonitor
from .nodeid import NodeRef
from .pki import PkiPaths
from .translate import Reading

_LOGGER = logging.getLogger(__name__)


class OpcuaRuntime:
    """What a loaded opcua entry holds (``entry.runtime_data``)."""

    def __init__(
        self,
        name: str,
        settings: ConnectionSettings,
        pki: PkiPaths,
        *,
        publishing_interval: float,
        reconnect_max_delay: float,
    ) -> None:
        self.name = name
        self.settings = settings
        self.pki = pki
        self.publishing_interval = publishing_interval
        self.reconnects = Backoff(
            initial=DEFAULT_RECONNECT_MIN_DELAY,
            maximum=max(DEFAULT_RECONNECT_MIN_DELAY, reconnect_max_delay),
            jitter=RECONNECT_JITTER,
        ).counter()
        self.client: OpcuaClient | None = None
        self.entities: list[OpcuaEntity] = []
        self._by_node: dict[NodeRef, list[OpcuaEntity]] = {}
        self._specs: dict[NodeRef, MonitorSpec] = {}
        self.monitor: NodeMonitor | None = None
        self.sessions = 0
        """Sessions opened so far (1 after set-up; tests watch reconnects with it)."""
        self.on_health: Callable[[bool, str | None], None] | None = None
        """Told of each session up (True, None) and lost or refused (False, why): the
        entry's ``set_health``, so a loaded entry without a server does not look fine."""

    def add_entities(self, entities: Iterable[OpcuaEntity]) -> None:
        for entity in entities:
            self.entities.append(entity)
            self._by_node.setdefault(entity.node, []).append(entity)
            # Two entities on one node share its monitored item: the first one's spec.
            self._specs.setdefault(entity.node, entity.monitor)

    # -- session -------------------------------------------------------------------

    async def connect(self) -> OpcuaClient:
        """Open a new session (errors are ``OpcuaError`` subclasses)."""
        client = OpcuaClient(self.settings, self.pki)
        await client.connect()
        self.client = client
        self.sessions += 1
        self._report_health(True, None)
        return client

    async def close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            await client.disconnect()

    async def run(self) -> None:
        """Monitor, and reconnect whenever the session is lost; runs until cancelled."""
        while True:
            client = self.client
            if client is None:
                try:
                    client = await self.connect()
                except OpcuaError as err:
                    self._report_health(False, str(err))
                    delay = self.reconnects.failed()
                    # The lost session was logged as a warning already; each failed
                    # attempt after it would only repeat that.
                    _LOGGER.debug(
                        "%s: cannot reconnect (%s); retrying in %.1f s", self.name, err, delay
                    )
                    await anyio.sleep(delay)
                    continue
                _LOGGER.info("%s: reconnected to %s", self.name, self.settings.endpoint)
            try:
                await self._monitor(client)
            except OpcuaError as err:
                _LOGGER.warning("%s: %s", self.name, err)
                self._report_health(False, str(err))
            except Exception as err:
                # A bug must not end the entry's only task: log it, start a new session.
                _LOGGER.exception("%s: unexpected error while monitoring", self.name)
                self._report_health(False, f"unexpected error: {err!r}")
            finally:
                self._set_connected(False)
                with anyio.CancelScope(shield=True):
                    await self.close()
            await anyio.sleep(self.reconnects.failed())

    async def _monitor(self, client: OpcuaClient) -> None:
        self.monitor = NodeMonitor(
            client,
            self._specs,
            publishing_interval=self.publishing_interval,
            sink=self._deliver,
            unresolved=self._unresolved,
        )
        self._set_connected(True)
        self._report_health(True, None)
        self.reconnects.succeeded()
        await self.monitor.run()

    def _report_health(self, connected: bool, error: str | None) -> None:
        if self.on_health is not None:
            self.on_health(connected, error)

    def _set_connected(self, connected: bool) -> None:
        for entity in self.entities:
            entity.set_connected(connected)

    def _deliver(self, ref: NodeRef, reading: Reading) -> None:
        for entity in self._by_node.get(ref, ()):
            try:
                entity.apply_reading(reading)
            except Exception:
                # One entity refusing a value (an over-long state...) must not end the
                # session for all the others.
                _LOGGER.exception("%s: %s could not take %r", self.name, entity, reading.value)

    def _unresolved(self, ref: NodeRef, reason: str) -> None:
        _LOGGER.error("%s: cannot watch a node: %s", self.name, reason)
        for entity in self._by_node.get(ref, ()):
            entity.set_problem(reason)

    # -- used by entities and services ----------------------------------------------

    def connected_client(self) -> OpcuaClient:
        client = self.client
        if client is None or not client.connected:
            raise OpcuaConnectionError(f"{self.name}: not connected to {self.settings.endpoint}")
        return client

    async def write(self, ref: NodeRef, value: Any) -> None:
        await self.connected_client().write(ref, value)
