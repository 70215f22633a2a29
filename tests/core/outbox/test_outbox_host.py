"""The host's shared outbox: opened lazily, closed on stop, stats as entities."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import anyio
import pytest

from gatehouse.core import ConfigEntry
from gatehouse.core.helpers import OutboxStatSensor
from gatehouse.core.outbox import (
    OUTBOX,
    DeliveryOutcome,
    OutboxMessage,
    get_outbox,
)
from gatehouse.core.testing import make_host

pytestmark = pytest.mark.anyio


class Collect:
    def __init__(self) -> None:
        self.got: list[bytes] = []
        self.arrived = anyio.Event()

    async def send(self, batch: Sequence[OutboxMessage]) -> Sequence[DeliveryOutcome]:
        self.got.extend(m.payload for m in batch)
        self.arrived.set()
        return [DeliveryOutcome.ACKED] * len(batch)


async def test_outbox_survives_host_restart_and_exposes_stats(config_dir: Path) -> None:
    host = make_host(config_dir)
    async with host.running():
        outbox = await get_outbox(host)
        assert await get_outbox(host) is outbox
        # No destination registered yet: messages wait on disk.
        entry = ConfigEntry(domain="demo", title="D", data={"name": "D"})
        await host.config_entries.add(entry)
        sensor = OutboxStatSensor(outbox, "sink", "depth", "Sink")
        unregister = outbox.register_destination("sink", _Never())
        await outbox.enqueue("sink", b"one")
        await outbox.enqueue("sink", b"two")
        await host.entities.add(entry, [sensor])
        sensor.refresh()
        assert host.states.get("sensor.sink_outbox_queued_messages").state == "2"  # type: ignore[union-attr]
        unregister()
    assert OUTBOX not in host.data
    assert (config_dir / ".storage" / "outbox.db").exists()

    host2 = make_host(config_dir)
    async with host2.running():
        outbox2 = await get_outbox(host2)
        sink = Collect()
        outbox2.register_destination("sink", sink)
        with anyio.fail_after(10):
            await outbox2.wait_drained("sink")
        assert sink.got == [b"one", b"two"]


class _Never:
    async def send(self, batch: Sequence[OutboxMessage]) -> Sequence[DeliveryOutcome]:
        return [DeliveryOutcome.RETRY] * len(batch)
