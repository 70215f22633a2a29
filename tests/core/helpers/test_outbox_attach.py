"""``attach_outbox``: an exporter loads, queues while its peer is down, and shows it."""

from __future__ import annotations

from pathlib import Path

import pytest
import voluptuous as vol
from plugin_fixtures.sink import LINKS, PEERS

from gatehouse.core import ConfigEntryState
from gatehouse.core.helpers import OUTBOX_SCHEMA, outbox_schema
from gatehouse.core.testing import add_entry, make_host, state_of, wait_until

pytestmark = pytest.mark.anyio


async def test_an_exporter_queues_while_down_and_delivers_when_up(config_dir: Path) -> None:
    host = make_host(config_dir, packages={"sink": "plugin_fixtures.sink"})
    async with host.running():
        entry = await add_entry(host, "sink", title="Cloud")
        assert entry.state is ConfigEntryState.LOADED  # loaded although the peer is down
        link, peer = LINKS[entry.entry_id], PEERS[entry.entry_id]
        assert state_of(host, "binary_sensor.cloud_link") == "off"
        for n in range(3):
            await link.enqueue(f"m{n}".encode())
        await wait_until(lambda: state_of(host, "sensor.cloud_outbox_queued_messages") == "3")
        await wait_until(lambda: int(state_of(host, "sensor.cloud_outbox_delivery_retries")
                                     or 0) >= 1)
        assert peer.got == []

        peer.up = True
        LINKS[entry.entry_id].link.refresh()  # type: ignore[union-attr]
        assert state_of(host, "binary_sensor.cloud_link") == "on"
        await wait_until(lambda: peer.got == [b"m0", b"m1", b"m2"])
        await wait_until(lambda: state_of(host, "sensor.cloud_outbox_queued_messages") == "0")
        assert link.diagnostics()["delivered"] == 3
        # every queue figure is an entity on the entry's device
        ids = {e.entity_id for e in host.entities.of_entry(entry.entry_id)}
        assert {
            "sensor.cloud_outbox_queued_messages", "sensor.cloud_outbox_oldest_message_age",
            "sensor.cloud_outbox_dropped_messages", "sensor.cloud_outbox_delivery_retries",
            "sensor.cloud_outbox_dead_lettered_messages", "sensor.cloud_outbox_redeliveries",
            "binary_sensor.cloud_link",
        } == ids
        devices = host.device_registry.devices(config_entry_id=entry.entry_id)
        assert [d.name for d in devices] == ["Cloud"]

        # unload stops delivery but keeps what is queued; the next set-up delivers it
        peer.up = False
        await link.enqueue(b"after")
        await host.config_entries.unload(entry.entry_id)
        peer.up = True
        assert await host.config_entries.setup(entry.entry_id)
        await wait_until(lambda: peer.got[-1:] == [b"after"])


def test_one_outbox_block_with_the_integrations_defaults() -> None:
    assert OUTBOX_SCHEMA({})["max_messages"] == 100_000
    custom = outbox_schema(max_batch_size=1000, retry_max=30.0)
    assert custom({})["retry_max"] == 30.0
    assert custom({"max_bytes": None})["max_bytes"] is None
    with pytest.raises(vol.Invalid):
        custom({"batch_size": 1001})  # the protocol's own limit
    with pytest.raises(vol.Invalid):
        OUTBOX_SCHEMA({"overflow": "shrug"})
    with pytest.raises(TypeError, match="unknown outbox settings"):
        outbox_schema(ack_timeout=5)
