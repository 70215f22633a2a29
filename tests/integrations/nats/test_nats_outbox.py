"""The entry's outbox side: store-and-forward from boot, the shared ``outbox:`` block,
``ack_timeout`` as a sender setting (both spellings), the queue and link sensors."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
import voluptuous as vol
from natstools import FAST_RECONNECT, add_nats, assert_loaded, raw_client, stream_payloads

from gatehouse.core import ConfigEntryState, GatehouseError, Host
from gatehouse.core.testing import NatsServer, add_entry, port_is_open, state_of, wait_until
from gatehouse.integrations.nats.client import flush_in_order
from gatehouse.integrations.nats.config import CONFIG_SCHEMA, ENTRY_SCHEMA

pytestmark = pytest.mark.anyio

ORDERS = {"name": "ORDERS", "subjects": ["orders.>"]}
QUEUE_FIGURES = ("depth", "oldest_age", "dropped", "retries", "dead_lettered", "redeliveries")


@pytest.fixture
def late_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A nats-server whose ports are chosen but which is not started: the test starts
    it when it wants the server to come up."""
    server = NatsServer(tmp_path / "late")
    try:
        yield server
    finally:
        server.stop()


# -1: nats-py's own connect loop never gives up; 1: it gives up after two tries per
# server, and the entry starts over with a fresh client.
@pytest.mark.parametrize("attempts", [-1, 1], ids=["nats-py-retries", "entry-retries"])
async def test_jetstream_messages_wait_on_disk_for_a_server_down_at_boot(
    late_server: NatsServer, host: Host, attempts: int
) -> None:
    assert not port_is_open(late_server.host, late_server.port)
    entry = await add_nats(
        host, servers=[late_server.url], setup_timeout=0.3, streams=[ORDERS],
        sensor=[{"name": "Late value", "subject": "late.value"}],
        max_reconnect_attempts=attempts,
    )
    assert_loaded(entry)
    runtime = entry.runtime_data
    assert state_of(host, "binary_sensor.bus_connected") == "off"

    for i in range(20):
        await host.services.call(
            "nats", "publish", {"subject": f"orders.{i}", "payload": str(i), "jetstream": True}
        )
    assert runtime.outbox.stats().depth == 20
    # A plain publish cannot be queued: it says so instead of pretending.
    with pytest.raises(GatehouseError, match="not connected to NATS yet"):
        await host.services.call("nats", "publish", {"subject": "orders.x", "payload": "x"})

    await anyio.to_thread.run_sync(late_server.start)
    await wait_until(lambda: state_of(host, "binary_sensor.bus_connected") == "on", 20)
    await wait_until(lambda: runtime.outbox.stats().depth == 0, 20, "the queue drained")
    async with raw_client(late_server.url) as nc:
        assert [int(p) for p in await stream_payloads(nc, "ORDERS")] == list(range(20))
        # The stream was declared before the first batch left: it went out atomic.
        assert runtime.sender.atomic_batches >= 1
        # The rest of the entry came online too.
        await nc.publish("late.value", b"7")
        await flush_in_order(nc, 5)
        await wait_until(lambda: state_of(host, "sensor.late_value") == "7")
    assert entry.state is ConfigEntryState.LOADED


async def test_a_refusal_after_a_late_connect_is_reported_as_at_boot(
    late_server: NatsServer, host: Host
) -> None:
    """The online half fails once the server is up (one node, three replicas): the
    entry is reloaded, and the reload reports it as set-up always did."""
    bad = {**ORDERS, "name": "BAD", "replicas": 3}
    entry = await add_nats(host, servers=[late_server.url], setup_timeout=0.3, streams=[bad])
    assert_loaded(entry)
    await anyio.to_thread.run_sync(late_server.start)
    await wait_until(lambda: entry.state is ConfigEntryState.SETUP_ERROR, 20)
    assert "stream BAD" in (entry.reason or "")


async def test_the_entry_device_shows_the_link_and_every_queue_figure(
    nats_server: NatsServer, host: Host
) -> None:
    entry = await add_nats(host, servers=[nats_server.url])
    assert_loaded(entry)
    registered = {e.unique_id: e for e in host.entity_registry.entities(
        config_entry_id=entry.entry_id
    )}
    link = registered["bus_connected"]
    assert link.entity_id == "binary_sensor.bus_connected"
    for figure in QUEUE_FIGURES:
        sensor = registered[f"outbox_nats_bus_{figure}"]
        assert sensor.device_id == link.device_id is not None, figure
    assert registered["bus_malformed"].device_id == link.device_id
    # The queue sensors are refreshed by a task of the entry, right after set-up.
    await wait_until(lambda: state_of(host, "sensor.bus_outbox_queued_messages") == "0")
    state = host.states.get("binary_sensor.bus_connected")
    assert state is not None and state.state == "on"
    assert state.attributes["device_class"] == "connectivity"
    assert state.attributes["server"] == nats_server.url
    assert state.attributes["reconnects"] == 0 and state.attributes["last_error"] is None


def _without_ack_timeout(**outbox: Any) -> dict[str, Any]:
    data = {k: v for k, v in FAST_RECONNECT.items() if k != "ack_timeout"}
    return {**data, "outbox": {**data["outbox"], **outbox}}


async def test_ack_timeout_moved_out_of_the_outbox_block_both_spellings_work(
    nats_server: NatsServer, host: Host, caplog: pytest.LogCaptureFixture
) -> None:
    new = await add_nats(host, "New spelling", servers=[nats_server.url], ack_timeout=1.5)
    assert_loaded(new)
    assert new.runtime_data.sender.ack_timeout == 1.5

    with caplog.at_level(logging.WARNING, logger="gatehouse.integrations.nats"):
        # A stored entry written before the move.
        old = await add_entry(
            host, "nats",
            {**_without_ack_timeout(ack_timeout=2.5), "name": "Old spelling",
             "servers": [nats_server.url]},
            title="Old spelling", unique_id="old_spelling",
        )
        assert_loaded(old)
        assert await host.config_entries.reload(old.entry_id)
    assert old.runtime_data.sender.ack_timeout == 2.5
    assert "ack_timeout" not in old.runtime_data.config["outbox"]
    assert old.data["outbox"]["ack_timeout"] == 2.5  # the stored entry is left as it was
    warnings = [r.getMessage() for r in caplog.records if "deprecated" in r.getMessage()]
    assert len(warnings) == 1, warnings  # once, not at every validation
    assert "Old spelling" in warnings[0] and "ack_timeout: 2.5" in warnings[0]

    # YAML, the old spelling beside a new one: the top-level key wins.
    yaml_section = [
        {"name": "Yaml old", "servers": "127.0.0.1:4222", "outbox": {"ack_timeout": 3}},
        {"name": "Yaml both", "servers": "127.0.0.1:4222", "ack_timeout": 4,
         "outbox": {"ack_timeout": 3, "batch_size": 1000}},
    ]
    first, second = CONFIG_SCHEMA(yaml_section)
    assert first["ack_timeout"] == 3.0 and "ack_timeout" not in first["outbox"]
    assert second["ack_timeout"] == 4.0 and second["outbox"]["batch_size"] == 1000


def test_the_outbox_block_keeps_the_integrations_defaults() -> None:
    (config,) = CONFIG_SCHEMA([{"servers": "127.0.0.1:4222"}])
    outbox = config["outbox"]
    assert config["ack_timeout"] == 5.0
    assert (outbox["retry_initial"], outbox["retry_max"]) == (0.1, 10.0)
    assert (outbox["breaker_threshold"], outbox["breaker_reset"]) == (5, 10.0)
    assert (outbox["batch_size"], outbox["max_messages"], outbox["ttl"]) == (500, 100_000, None)
    with pytest.raises(vol.Invalid, match="batch_size"):
        ENTRY_SCHEMA({"servers": "127.0.0.1:4222", "outbox": {"batch_size": 1001}})
