"""Reloading an entry with every part configured leaks neither tasks nor file descriptors."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from natstools import add_nats, assert_loaded, open_fds, raw_client

from gatehouse.core import Host
from gatehouse.core.testing import NatsServer, state_of, wait_until

pytestmark = pytest.mark.anyio

RELOADS = 20


async def test_reload_twenty_times_without_leaks(nats_server: NatsServer, host: Host) -> None:
    everything = {
        "servers": [nats_server.url],
        "sensor": [{"name": "Line speed", "subject": "line.speed"}],
        "binary_sensor": [{"name": "Line run", "subject": "line.run"}],
        "streams": [{"name": "LINE", "subjects": ["line.js.>"]}],
        "consumers": [
            {"name": "Line count", "stream": "LINE", "filter_subject": "line.js.count",
             "fetch_timeout": 0.2},
            {"name": "Line events", "stream": "LINE", "filter_subject": "line.js.event",
             "mode": "push", "target": "event"},
        ],
        "kv": {"bucket": "line_states", "include": ["sensor.line_*"]},
        "fleet": {"site": "works", "host": "one"},
    }
    async with raw_client(nats_server.url) as nc:
        entry = await add_nats(host, **everything)
        assert_loaded(entry)
        # Warm up once: the outbox database and lazily made objects stay for the host.
        assert await host.config_entries.reload(entry.entry_id)
        await asyncio.sleep(0.1)
        tasks, fds = len(asyncio.all_tasks()), open_fds()
        listeners = host.bus.listener_count()
        for _ in range(RELOADS):
            assert await host.config_entries.reload(entry.entry_id)
            assert_loaded(entry)
        # Tasks of the last unload (an outbox dispatcher) may still be winding down.
        with contextlib.suppress(TimeoutError):
            await wait_until(lambda: len(asyncio.all_tasks()) <= tasks and open_fds() <= fds, 3)
        # No growth (the baseline may hold a transient task or two of its own).
        assert len(asyncio.all_tasks()) <= tasks, [t.get_name() for t in asyncio.all_tasks()]
        assert open_fds() <= fds
        assert host.bus.listener_count() == listeners

        # Still alive after all that.
        await nc.publish("line.speed", b"12")
        js = nc.jetstream()
        await js.publish("line.js.count", b"7")
        await wait_until(lambda: state_of(host, "sensor.line_speed") == "12")
        await wait_until(lambda: state_of(host, "sensor.line_count") == "7")
