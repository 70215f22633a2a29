"""Reloading an entry forever must not grow anything: tasks, listeners, services, fds.

Every resource an entry makes is owned by the entry (its task group, its undo list), so
unload gives all of it back. Here that is checked by counting, after one warm-up reload
and again after a hundred more.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from entry_testpkgs.util import flaky_entry, running_host

from gatehouse.core import ConfigEntry, ConfigEntryState, Host
from gatehouse.core.helpers import Backoff
from gatehouse.core.testing import make_host

pytestmark = pytest.mark.anyio

RELOADS = 100


async def settle(host: Host) -> None:
    """Let started tasks reach their first wait and write pending storage now."""
    await host.config_entries.flush()
    await host.entity_registry.flush()
    await host.device_registry.flush()
    await anyio.wait_all_tasks_blocked()


def measure(host: Host, *entries: ConfigEntry[Any]) -> dict[str, Any]:
    return {
        "tasks": len(asyncio.all_tasks()),
        "listeners": host.bus.listener_count(),
        "listeners_by_type": host.bus.listeners(),
        "services": host.services.count(),
        "entities": len(host.entities),
        "states": len(host.states),
        "entity_registry": len(host.entity_registry),
        "devices": len(host.device_registry.devices()),
        "fds": len(os.listdir("/proc/self/fd")),
        "undos": [e.undo_count for e in entries],
        "flows": host.config_entries.flow.progress(),
    }


async def test_reloading_100_times_leaks_nothing(
    config_dir: Path, write_config: Callable[..., Path]
) -> None:
    write_config("""\
        demo:
          name: Leaky
          update_interval: 0.01
        echo:
          prefix: "> "
        """)
    started = time.monotonic()
    host = make_host(config_dir)
    async with host.running():
        [demo] = host.config_entries.entries("demo")
        [echo] = host.config_entries.entries("echo")
        assert demo.state is echo.state is ConfigEntryState.LOADED
        first_states = sorted(host.states.entity_ids())
        for entry in (demo, echo):  # warm-up: first-use caches, lazily made objects
            assert await host.config_entries.reload(entry.entry_id) is True
        await settle(host)
        baseline = measure(host, demo, echo)
        assert baseline["undos"][0] > 0 and baseline["undos"][1] > 0
        assert baseline["states"] == len(first_states)

        for _ in range(RELOADS):
            assert await host.config_entries.reload(demo.entry_id) is True
            assert await host.config_entries.reload(echo.entry_id) is True
        await settle(host)
        assert measure(host, demo, echo) == baseline
        assert sorted(host.states.entity_ids()) == first_states
        response = await host.services.call("echo", "say", {"text": "still"},
                                             return_response=True)
        assert response == {"text": "> still", "user_id": None}

        for entry in (demo, echo):
            assert await host.config_entries.unload(entry.entry_id) is True
            assert entry.undo_count == 0
            assert not entry.tasks_open
        await settle(host)
        after = measure(host, demo, echo)
        assert after["states"] == after["entities"] == 0
        assert after["services"] < baseline["services"]
        assert after["tasks"] < baseline["tasks"]  # the demo's update loop is gone
    assert time.monotonic() - started < 10


async def test_reloading_an_entry_that_is_not_ready_leaks_no_retries(config_dir: Path) -> None:
    async with running_host(config_dir) as host:
        # retries far in the future: every one still pending shows as a sleeping task
        host.config_entries.retry_policy = Backoff(initial=60, maximum=60, jitter=0)
        entry = await host.config_entries.add(
            flaky_entry("Retry", mode="not_ready", fail_times=-1, partial=True)
        )
        assert entry.state is ConfigEntryState.SETUP_RETRY
        assert await host.config_entries.reload(entry.entry_id) is False
        await settle(host)
        baseline = measure(host, entry)
        assert baseline["states"] == 0 and baseline["undos"] == [0]

        for _ in range(RELOADS):
            assert await host.config_entries.reload(entry.entry_id) is False
            assert entry.state is ConfigEntryState.SETUP_RETRY
        await settle(host)
        assert measure(host, entry) == baseline
        retries = [t for t in asyncio.all_tasks() if t.get_name() == f"retry {entry.entry_id}"]
        assert len(retries) == 1

        assert await host.config_entries.unload(entry.entry_id) is True
        await settle(host)
        assert measure(host, entry)["tasks"] == baseline["tasks"] - 1
