"""Reloading an mqtt entry over and over leaks nothing: no paho thread, no task, no file
descriptor, no listener or subscription outlives its entry."""

from __future__ import annotations

import asyncio
import gc
import os
import threading

import pytest
from mqtt_helpers import Peer, entry_data, loaded

from gatehouse.core import Host
from gatehouse.core.testing import Mosquitto, add_entry, state_of, wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(90)]


OUR_THREAD = "paho-mqtt-client-reloader"  # paho names its thread after the client id


def census(host: Host) -> dict[str, int]:
    gc.collect()
    workers = sum(1 for t in threading.enumerate() if t.name == "AnyIO worker thread")
    return {
        # anyio's worker pool grows and shrinks on its own (idle workers retire after
        # 10 s); every other thread must be accounted for.
        "threads": threading.active_count() - workers,
        "paho_threads": sum(1 for t in threading.enumerate() if t.name == OUR_THREAD),
        "tasks": len(asyncio.all_tasks()),
        "fds": len(os.listdir("/proc/self/fd")),
        "listeners": host.bus.listener_count(),
        "services": host.services.count(),
        "entities": len(host.entities),
    }


async def test_reload_20_times_leaks_nothing(
    mosquitto: Mosquitto, peer: Peer, host: Host
) -> None:
    entry = await add_entry(
        host, "mqtt",
        entry_data(
            mosquitto.port,
            client_id="reloader",
            sensor=[{"name": "Gauge", "unique_id": "gauge", "state_topic": "gauge/value",
                     "value_template": "{{ value | float * 10 }}"}],
            switch=[{"name": "Valve", "unique_id": "valve", "command_topic": "valve/set"}],
            subscribe=["events/#"],
            statestream={"include": {"domains": ["sensor"]}},
            publish_discovery=True,
        ),
    )
    assert loaded(entry), entry.reason
    for _ in range(2):  # warm-up: worker threads, lazily opened outbox, template cache
        assert await host.config_entries.reload(entry.entry_id)
    before = census(host)
    assert before["paho_threads"] == 1

    for n in range(20):
        assert await host.config_entries.reload(entry.entry_id), entry.reason
        peer.publish("gauge/value", str(n), qos=1)
        await wait_until(lambda n=n: state_of(host, "sensor.gauge") == f"{n * 10}.0")

    await wait_until(lambda: census(host)["threads"] <= before["threads"], timeout=5)
    after = census(host)
    assert after == before, f"before {before}, after {after}"

    await host.config_entries.unload(entry.entry_id)
    await wait_until(
        lambda: not any(t.name == OUR_THREAD for t in threading.enumerate()), timeout=5
    )
    unloaded = census(host)
    assert unloaded["entities"] == 0 and unloaded["paho_threads"] == 0
    assert unloaded["fds"] < before["fds"]
