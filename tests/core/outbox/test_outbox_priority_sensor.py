"""What an exporter built on ``attach_outbox`` shows and does with priorities."""

from __future__ import annotations

from pathlib import Path

import pytest
from plugin_fixtures.sink import LINKS, PEERS

from gatehouse.core.testing import add_entry, make_host, wait_until

pytestmark = pytest.mark.anyio

DEPTH = "sensor.cloud_outbox_queued_messages"


async def test_an_exporters_alarms_overtake_and_its_depth_sensor_counts_them(
    config_dir: Path,
) -> None:
    host = make_host(config_dir, packages={"sink": "plugin_fixtures.sink"})
    async with host.running():
        entry = await add_entry(host, "sink", title="Cloud")
        link, peer = LINKS[entry.entry_id], PEERS[entry.entry_id]
        for n in range(3):
            await link.enqueue(b"t%d" % n)
        await link.enqueue(b"alarm0", priority=10)
        link.enqueue_nowait(b"alarm1", priority=10)

        def shown() -> tuple[str, object] | None:
            state = host.states.get(DEPTH)
            return None if state is None else (state.state, state.attributes.get("high_priority"))

        await wait_until(lambda: shown() == ("5", 2))
        assert link.diagnostics()["high_priority_depth"] == 2

        peer.up = True
        await wait_until(lambda: peer.got == [b"alarm0", b"alarm1", b"t0", b"t1", b"t2"])
        await wait_until(lambda: shown() == ("0", 0))
