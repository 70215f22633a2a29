"""The host: lifecycle, bounded graceful stop, background tasks, typed shared data."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from gatehouse.core import ConfigEntry, ConfigEntryState, Event, Host, HostKey, HostState
from gatehouse.core.testing import make_host

pytestmark = pytest.mark.anyio


async def test_lifecycle_states_and_events(config_dir: Path) -> None:
    host = make_host(config_dir)
    seen: list[str] = []
    host.bus.listen("host_started", lambda e: seen.append(e.event_type))
    host.bus.listen("host_stopping", lambda e: seen.append(e.event_type))
    assert host.state is HostState.NOT_RUNNING
    async with host.running():
        assert host.state is HostState.RUNNING
        assert host.is_running
    assert host.state is HostState.STOPPED
    assert seen == ["host_started", "host_stopping"]


async def test_run_returns_exit_code_on_request_stop(config_dir: Path) -> None:
    host = make_host(config_dir)
    result: list[int] = []

    async def runner() -> None:
        result.append(await host.run())

    started = anyio.Event()
    host.bus.listen("host_started", lambda e: started.set())
    async with anyio.create_task_group() as tg:
        tg.start_soon(runner)
        with anyio.fail_after(10):
            await started.wait()
        assert host.state is HostState.RUNNING
        host.request_stop(7)
    assert result == [7]


async def test_stop_is_bounded_when_an_unload_hangs(
    config_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    host = make_host(config_dir)
    host.stop_timeout = 0.5
    host.plugins.add_package("hang", "host_testpkgs.hang")
    async with host.running():
        entry = ConfigEntry(domain="hang", title="Hang", data={})
        await host.config_entries.add(entry)
        assert entry.state is ConfigEntryState.LOADED
        started = time.monotonic()
    elapsed = time.monotonic() - started
    assert elapsed < 3.0
    assert host.state is HostState.STOPPED
    assert "did not unload within" in caplog.text


async def test_failing_background_task_is_logged_and_host_survives(
    host: Host, caplog: pytest.LogCaptureFixture
) -> None:
    done = anyio.Event()

    async def broken() -> None:
        done.set()
        raise RuntimeError("task exploded")

    with caplog.at_level(logging.ERROR):
        host.spawn(broken(), "broken task")
        with anyio.fail_after(5):
            await done.wait()
        await anyio.lowlevel.checkpoint()
    assert "task exploded" in caplog.text
    assert host.is_running
    ok = anyio.Event()

    async def fine() -> None:
        ok.set()

    host.spawn(fine())
    with anyio.fail_after(5):
        await ok.wait()


async def test_typed_host_data(host: Host) -> None:
    key: HostKey[list[int]] = HostKey("test.numbers")
    assert host.data.get(key) is None
    host.data[key] = [1]
    host.data.setdefault(key, []).append(2)
    assert host.data[key] == [1, 2]
    assert key in host.data
    assert repr(key) == "<HostKey test.numbers>"


async def test_shutdown_callbacks_run_after_entries_unload(config_dir: Path) -> None:
    host = make_host(config_dir)
    order: list[str] = []
    async with host.running():
        entry = ConfigEntry(domain="demo", title="D", data={"name": "D"})
        await host.config_entries.add(entry)
        entry.on_unload(lambda: order.append("entry undo"))
        host.on_shutdown(lambda: order.append("shutdown callback"))

        def stopping(event: Event[Any]) -> None:
            order.append("stopping event")

        host.bus.listen("host_stopping", stopping)
    assert order == ["stopping event", "entry undo", "shutdown callback"]


async def test_second_host_on_same_config_dir_refused(config_dir: Path) -> None:
    from gatehouse.core.lockfile import ConfigDirLocked

    first = make_host(config_dir)
    async with first.running():
        second = make_host(config_dir)
        with pytest.raises(ConfigDirLocked, match="another Gatehouse host"):
            async with second.running():
                pass  # pragma: no cover - start must fail
        assert second.state is HostState.STOPPED
        assert first.is_running
    # Released on stop: a new host may start.
    third = make_host(config_dir)
    async with third.running():
        assert third.is_running


async def test_failed_start_raises_the_error_itself_and_stops(config_dir: Path) -> None:
    (config_dir / ".storage").mkdir()
    (config_dir / ".storage" / "core.config_entries").write_text(
        '{"version": 99, "minor_version": 1, "key": "core.config_entries", "data": {}}'
    )
    host = make_host(config_dir)
    from gatehouse.core.exceptions import StorageError

    with pytest.raises(StorageError, match="newer"):
        async with host.running():
            pass  # pragma: no cover
    assert host.state is HostState.STOPPED
    with anyio.fail_after(1):
        await host.wait_stopped()


async def test_bare_section_means_defaults(config_dir: Path) -> None:
    (config_dir / "configuration.yaml").write_text("demo:\n")
    host = make_host(config_dir)
    async with host.running():
        entries = host.config_entries.entries("demo")
        assert len(entries) == 1
        assert entries[0].state is ConfigEntryState.LOADED
        assert entries[0].data["name"] == "Demo"
