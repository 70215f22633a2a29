"""single, restart, queued, parallel with max and max_exceeded; and the traces they
leave (``failed_single``, ``failed_max_runs``, ``cancelled``)."""

from __future__ import annotations

import logging
from pathlib import Path

import anyio
import pytest
from autotools import running

from gatehouse.core.testing import wait_until
from gatehouse.integrations.script.api import trace_store

pytestmark = pytest.mark.anyio


def held(mode: str, extra: str = "") -> str:
    """An automation whose run records its start, then waits for a 'release' event."""
    return f"""
automation:
  - id: held
    mode: {mode}
{extra}
    triggers:
      - trigger: event
        event_type: go
    actions:
      - action: test.record
        data: {{value: "start {{{{ trigger.event.data.n }}}}"}}
      - wait_for_trigger:
          - trigger: event
            event_type: release
        timeout: 5
      - action: test.record
        data: {{value: "end {{{{ trigger.event.data.n }}}}"}}
"""




async def test_single_refuses_a_second_run(config_dir: Path,
                                           caplog: pytest.LogCaptureFixture) -> None:
    async with running(config_dir, held("single")) as (host, rec):
        host.bus.fire("go", {"n": 1})
        await rec.wait(1)
        with caplog.at_level(logging.WARNING):
            host.bus.fire("go", {"n": 2})
            await wait_until(lambda: any(t.script_execution == "failed_single"
                                         for t in trace_store(host).list("automation")))
        assert "already running" in caplog.text
        assert host.states.get("automation.held").attributes["current"] == 1
        host.bus.fire("release")
        await rec.wait(2)
        assert rec.values() == ["start 1", "end 1"]


async def test_a_flood_of_refusals_logs_one_line_then_a_count(
        config_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    async with running(config_dir, held("single")) as (host, rec):
        host.bus.fire("go", {"n": 0})
        await rec.wait(1)
        with caplog.at_level(logging.INFO):
            for n in range(1, 200):
                host.bus.fire("go", {"n": n})
            from gatehouse.integrations.automation.services import LOADED

            (runtime,) = LOADED.runtimes(host).values()
            script = runtime.automations["held"].script
            await wait_until(lambda: script._refusals.total == 199)
            assert caplog.text.count("already running") == 1
            while len(rec.calls) < 2:
                host.bus.fire("release")
                await anyio.lowlevel.checkpoint()
            host.bus.fire("go", {"n": 500})
            await rec.wait(3)
        assert "runs accepted again after 199 refused" in caplog.text
        assert len(trace_store(host).list("automation", "held")) == 5  # bounded


async def test_single_silent_logs_nothing(config_dir: Path,
                                          caplog: pytest.LogCaptureFixture) -> None:
    async with running(config_dir, held("single", "    max_exceeded: silent")) as (host, rec):
        host.bus.fire("go", {"n": 1})
        await rec.wait(1)
        with caplog.at_level(logging.DEBUG):
            host.bus.fire("go", {"n": 2})
            await wait_until(lambda: any(t.script_execution == "failed_single"
                                         for t in trace_store(host).list("automation")))
        assert "already running" not in caplog.text


async def test_restart_cancels_the_running_one(config_dir: Path) -> None:
    async with running(config_dir, held("restart")) as (host, rec):
        host.bus.fire("go", {"n": 1})
        await rec.wait(1)
        host.bus.fire("go", {"n": 2})
        await rec.wait(2)
        await wait_until(lambda: any(t.script_execution == "cancelled"
                                     for t in trace_store(host).list("automation")))
        while len(rec.calls) < 3:
            host.bus.fire("release")
            await anyio.lowlevel.checkpoint()
        assert rec.values() == ["start 1", "start 2", "end 2"]


async def test_queued_runs_in_order_up_to_max(config_dir: Path) -> None:
    async with running(config_dir, held("queued", "    max: 2")) as (host, rec):
        for n in (1, 2, 3):
            host.bus.fire("go", {"n": n})
        await rec.wait(1)
        await wait_until(lambda: any(t.script_execution == "failed_max_runs"
                                     for t in trace_store(host).list("automation")))
        while len(rec.calls) < 4:
            host.bus.fire("release")
            await anyio.lowlevel.checkpoint()
        assert rec.values() == ["start 1", "end 1", "start 2", "end 2"]


async def test_parallel_up_to_max(config_dir: Path) -> None:
    async with running(config_dir, held("parallel", "    max: 2")) as (host, rec):
        for n in (1, 2, 3):
            host.bus.fire("go", {"n": n})
        await rec.wait(2)
        assert sorted(rec.values()) == ["start 1", "start 2"]
        await wait_until(lambda: host.states.get("automation.held").attributes["current"] == 2)
        assert host.states.get("automation.held").attributes["max"] == 2
        assert any(t.script_execution == "failed_max_runs"
                   for t in trace_store(host).list("automation"))
        while len(rec.calls) < 4:
            host.bus.fire("release")
            await anyio.lowlevel.checkpoint()
        assert sorted(rec.values()) == ["end 1", "end 2", "start 1", "start 2"]


async def test_restart_with_triggers_at_once_leaves_one_run(config_dir: Path) -> None:
    async with running(config_dir, held("restart")) as (host, rec):
        for n in (1, 2, 3):
            host.bus.fire("go", {"n": n})
        from gatehouse.integrations.automation.services import LOADED

        (runtime,) = LOADED.runtimes(host).values()
        script = runtime.automations["held"].script
        await wait_until(lambda: sum(t.state == "stopped" for t in trace_store(host).list(
            "automation", "held")) == 2)
        assert script.running == 1
        while script.running:
            host.bus.fire("release")
            await anyio.lowlevel.checkpoint()
        assert rec.values()[-1] == "end 3"


async def test_a_run_cut_by_an_unload_ends_its_trace(config_dir: Path) -> None:
    async with running(config_dir, held("single")) as (host, rec):
        host.bus.fire("go", {"n": 1})
        await rec.wait(1)
        await host.services.call("automation", "reload")
        (run,) = trace_store(host).list("automation", "held")
        assert run.state == "stopped" and run.script_execution == "cancelled"
