"""One set-up per entry at a time, and an entry added while the host starts is set up once.

Regression tests for "an entry added while the host is still starting gets set up
twice, and the second set-up fails with 'outbox destination already registered'".
The cause: ``is_running`` is true from ``starting`` on, so ``add`` set the entry up at
once; bootstrap then read ``.storage/core.config_entries`` (which ``add`` had just
written) and *replaced* the entry with a second object of the same id, with a lock of
its own, and ``setup_all`` set that one up too. Both registered the same outbox
destination. Bootstrap's steps are paused on events (``pause_before``), never on sleeps.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from entry_testpkgs.util import FLAKY_MODULE, flaky_entry
from plugin_fixtures.sink import LINKS

from gatehouse.core import ConfigEntry, ConfigEntryNotReady, ConfigEntryState, Host, HostState
from gatehouse.core.testing import make_host, wait_until

pytestmark = pytest.mark.anyio

PACKAGES = {"flaky": FLAKY_MODULE, "sink": "plugin_fixtures.sink"}


def pause_before(host: Host, name: str) -> tuple[anyio.Event, anyio.Event]:
    """Hold ``host.config_entries.<name>`` until released: (reached, release)."""
    reached, release = anyio.Event(), anyio.Event()
    original: Callable[..., Awaitable[Any]] = getattr(host.config_entries, name)

    async def paused(*args: Any, **kwargs: Any) -> Any:
        reached.set()
        await release.wait()
        return await original(*args, **kwargs)

    setattr(host.config_entries, name, paused)
    return reached, release


async def start_in_background(
    host: Host, group: anyio.abc.TaskGroup, stop: anyio.Event
) -> None:
    async def run() -> None:
        async with host.running():
            await stop.wait()

    group.start_soon(run)


def sink_entry(title: str = "Cloud") -> ConfigEntry[Any]:
    return ConfigEntry(domain="sink", title=title, data={})


async def test_an_entry_added_before_storage_is_read_is_set_up_once(config_dir: Path) -> None:
    """The reported race, with the real outbox: before the fix the second set-up failed
    with "outbox destination 'sink.<id>' is already registered"."""
    host = make_host(config_dir, packages=PACKAGES)
    reached, release = pause_before(host, "load")
    stop = anyio.Event()
    async with anyio.create_task_group() as group:
        await start_in_background(host, group, stop)
        with anyio.fail_after(10):
            await reached.wait()
        assert host.state is HostState.STARTING and host.is_running
        entry = sink_entry()
        async with anyio.create_task_group() as adding:
            adding.start_soon(host.config_entries.add, entry)
            release.set()
        await wait_until(lambda: host.state is HostState.RUNNING)
        assert host.config_entries.entries("sink") == [entry]  # the same object, once
        assert host.config_entries.get(entry.entry_id) is entry
        assert entry.state is ConfigEntryState.LOADED, entry.reason
        assert LINKS[entry.entry_id].destination in LINKS[entry.entry_id].outbox.destinations()
        stop.set()


async def test_an_entry_added_before_storage_is_read_keeps_the_stored_ones(
    config_dir: Path,
) -> None:
    """``add`` must not write storage it has not read: the stored entries would be gone
    from disk until the next save (for good after a crash)."""
    first = make_host(config_dir, packages=PACKAGES)
    async with first.running():
        old = flaky_entry("Old")
        await first.config_entries.add(old, setup=False)

    host = make_host(config_dir, packages=PACKAGES)
    reached, release = pause_before(host, "load")
    stop = anyio.Event()
    async with anyio.create_task_group() as group:
        await start_in_background(host, group, stop)
        with anyio.fail_after(10):
            await reached.wait()
        new = flaky_entry("New")
        await host.config_entries.add(new)  # does not wait for bootstrap's own load
        stored = json.loads((config_dir / ".storage" / "core.config_entries").read_text())
        ids = {item["entry_id"] for item in stored["data"]["entries"]}
        assert ids == {old.entry_id, new.entry_id}
        release.set()
        await wait_until(lambda: host.state is HostState.RUNNING)
        integration = host.plugins.load("flaky").integration
        assert integration.attempts == {old.entry_id: 1, new.entry_id: 1}
        assert {e.entry_id for e in host.config_entries.entries()} == ids
        assert host.config_entries.get(new.entry_id) is new
        stop.set()


async def test_an_entry_added_before_setup_all_is_attempted_once(config_dir: Path) -> None:
    """Added (and failed) while starting: ``setup_all`` must not try it a second time
    at once; a failed entry is retried by its own timer, or by the user."""
    host = make_host(config_dir, packages=PACKAGES)
    reached, release = pause_before(host, "setup_all")
    stop = anyio.Event()
    async with anyio.create_task_group() as group:
        await start_in_background(host, group, stop)
        with anyio.fail_after(10):
            await reached.wait()
        entry = flaky_entry("Broken", mode="error", fail_times=1)
        await host.config_entries.add(entry)
        assert entry.state is ConfigEntryState.SETUP_ERROR
        release.set()
        await wait_until(lambda: host.state is HostState.RUNNING)
        integration = host.plugins.load("flaky").integration
        assert integration.attempts == {entry.entry_id: 1}
        assert entry.state is ConfigEntryState.SETUP_ERROR
        stop.set()


async def test_an_entry_added_while_setup_all_runs_is_set_up_once(config_dir: Path) -> None:
    """``setup_all`` is setting up a stored entry (held on the gate) when one is added."""
    first = make_host(config_dir, packages=PACKAGES)
    async with first.running():
        stored = flaky_entry("Stored")
        await first.config_entries.add(stored, setup=False)

    host = make_host(config_dir, packages=PACKAGES)
    integration = host.plugins.load("flaky").integration
    gate = integration.gate = anyio.Event()
    stop = anyio.Event()
    async with anyio.create_task_group() as group:
        await start_in_background(host, group, stop)
        await wait_until(lambda: integration.attempts.get(stored.entry_id) == 1)
        assert host.state is HostState.STARTING
        new = flaky_entry("New")
        async with anyio.create_task_group() as adding:
            adding.start_soon(host.config_entries.add, new)
            await wait_until(lambda: integration.attempts.get(new.entry_id) == 1)
            gate.set()
        await wait_until(lambda: host.state is HostState.RUNNING)
        assert integration.attempts == {stored.entry_id: 1, new.entry_id: 1}
        assert new.state is ConfigEntryState.LOADED
        assert stored.entry_id in {e.entry_id for e in host.config_entries.entries()}
        stop.set()


async def test_a_retry_that_fires_during_a_manual_setup_waits_and_does_nothing(
    config_dir: Path,
) -> None:
    host = make_host(config_dir, packages=PACKAGES)
    async with host.running():
        integration = host.plugins.load("flaky").integration
        entry = flaky_entry("Sleepy", mode="not_ready", fail_times=1)
        await host.config_entries.add(entry)
        assert entry.state is ConfigEntryState.SETUP_RETRY
        # The pending retry is cancelled by nothing below: it fires while we hold the gate.
        gate = integration.gate = anyio.Event()
        async with anyio.create_task_group() as manual:
            manual.start_soon(host.config_entries.setup, entry.entry_id)
            await wait_until(lambda: integration.attempts[entry.entry_id] == 2)
            # the 10 ms retry timer has fired and waits for the entry's lock
            await wait_until(lambda: entry.lock.statistics().tasks_waiting == 1)
            gate.set()
        await wait_until(lambda: not entry.retry_scheduled)
        assert entry.state is ConfigEntryState.LOADED
        assert integration.attempts[entry.entry_id] == 2


async def test_a_reload_during_the_first_setup_waits_for_it(config_dir: Path) -> None:
    host = make_host(config_dir, packages=PACKAGES)
    async with host.running():
        integration = host.plugins.load("flaky").integration
        gate = integration.gate = anyio.Event()
        entry = flaky_entry("Slow")
        results: list[bool] = []

        async def reload() -> None:
            results.append(await host.config_entries.reload(entry.entry_id))

        async with anyio.create_task_group() as group:
            group.start_soon(host.config_entries.add, entry)
            await wait_until(lambda: integration.attempts.get(entry.entry_id) == 1)
            group.start_soon(reload)
            await wait_until(lambda: entry.lock.statistics().tasks_waiting == 1)
            gate.set()
        assert results == [True]
        assert entry.state is ConfigEntryState.LOADED
        assert integration.attempts[entry.entry_id] == 2
        assert integration.unloads[entry.entry_id] == 1
        assert len(host.entities.of_entry(entry.entry_id)) == 1


async def test_a_setup_failing_after_attach_outbox_releases_the_destination(
    config_dir: Path,
) -> None:
    """The next attempt (the retry timer here) must not find the destination taken."""
    host = make_host(config_dir, packages=PACKAGES)
    async with host.running():
        integration = host.plugins.load("sink").integration
        original = integration.setup_entry
        calls: list[int] = []

        async def fail_once_after_attach(host: Host, entry: ConfigEntry[Any]) -> None:
            await original(host, entry)
            calls.append(1)
            if len(calls) == 1:
                raise ConfigEntryNotReady("peer says later")

        integration.setup_entry = fail_once_after_attach
        entry = sink_entry()
        await host.config_entries.add(entry)
        await wait_until(lambda: entry.state is ConfigEntryState.LOADED, message=str(entry))
        assert len(calls) == 2, entry.reason
        outbox = LINKS[entry.entry_id].outbox
        assert f"sink.{entry.entry_id}" in outbox.destinations()
