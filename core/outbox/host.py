"""The host's one outbox: opened on first use, closed after every entry has unloaded.

One SQLite database (``.storage/outbox.db``) serves every destination of every
integration, so group commit batches enqueues across integrations too. Integrations get
it with ``await get_outbox(host)`` and register their destination per config entry
(``entry.on_unload(outbox.register_destination(...))``); queued messages stay on disk
across unloads and restarts and are delivered when the destination is registered again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import anyio

from ..keys import HostKey
from ..platforms.sensor import SensorEntity
from .outbox import Outbox

if TYPE_CHECKING:
    from ..host import Host

OUTBOX: HostKey[Outbox] = HostKey("core.outbox")
_OPEN_LOCK: HostKey[anyio.Lock] = HostKey("core.outbox.lock")

OUTBOX_FILE = "outbox.db"


async def get_outbox(host: Host) -> Outbox:
    """The host's outbox, started in the host's task group on first call."""
    existing = host.data.get(OUTBOX)
    if existing is not None:
        return existing
    lock = host.data.setdefault(_OPEN_LOCK, anyio.Lock())
    async with lock:
        existing = host.data.get(OUTBOX)
        if existing is not None:
            return existing
        host.storage_dir.mkdir(parents=True, exist_ok=True)
        outbox = Outbox(host.storage_dir / OUTBOX_FILE)
        await outbox.start(host.task_group)
        host.data[OUTBOX] = outbox

        async def close() -> None:
            await outbox.close()
            host.data.pop(OUTBOX)

        host.on_shutdown(close)
        return outbox


class OutboxStatSensor(SensorEntity):
    """One figure of one destination's queue (depth, oldest age, drops, retries...).

    Integrations add these for their destination so operators see a backlog building
    up on the dashboard; ``refresh()`` is called by the integration's own timer.
    """

    STATS: ClassVar[dict[str, tuple[str, str | None]]] = {
        "depth": ("queued messages", None),
        "oldest_age": ("oldest message age", "s"),
        "dropped": ("dropped messages", None),
        "retries": ("delivery retries", None),
        "dead_lettered": ("dead-lettered messages", None),
        "redeliveries": ("redeliveries", None),
    }

    def __init__(self, outbox: Outbox, destination: str, stat: str, name_prefix: str) -> None:
        label, unit = self.STATS[stat]
        self._outbox = outbox
        self._destination = destination
        self._stat = stat
        self._attr_unique_id = f"outbox_{destination}_{stat}"
        self._attr_name = f"{name_prefix} outbox {label}"
        self._attr_native_unit_of_measurement = unit
        self._attr_state_class = "measurement"
        self._attr_icon = "mdi:tray-full"

    def refresh(self) -> None:
        stats = self._outbox.stats(self._destination)
        value: Any = getattr(stats, self._stat)
        self._attr_native_value = round(value, 1) if isinstance(value, float) else value
        self._attr_extra_state_attributes = {"breaker": str(stats.breaker_state)}
        self.write_state()
