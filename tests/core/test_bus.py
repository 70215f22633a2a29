"""The event bus: typed events, filters, match-all, one-shot, undo, contained errors."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from gatehouse.core import MATCH_ALL, Context, Event, EventBus, EventType, Host

pytestmark = pytest.mark.anyio


def test_sync_listener_gets_event_with_data_and_context() -> None:
    bus = EventBus()
    seen: list[Event[Any]] = []
    bus.listen("ping", seen.append)
    ctx = Context(user_id="u1")
    bus.fire("ping", {"n": 1}, ctx)
    assert len(seen) == 1
    assert seen[0].event_type == "ping"
    assert seen[0].data == {"n": 1}
    assert seen[0].context is ctx
    assert seen[0].context.user_id == "u1"
    assert seen[0].time_fired > 0


def test_typed_event_type_is_a_plain_string() -> None:
    ping: EventType[dict[str, int]] = EventType("ping")
    bus = EventBus()
    seen: list[int] = []
    bus.listen(ping, lambda e: seen.append(e.data["n"]))
    bus.fire("ping", {"n": 7})
    assert ping == "ping"
    assert seen == [7]


def test_filter_match_all_and_unsubscribe() -> None:
    bus = EventBus()
    filtered: list[Any] = []
    everything: list[str] = []
    unsub = bus.listen("x", lambda e: filtered.append(e.data["v"]), lambda d: d["v"] > 1)
    bus.listen(MATCH_ALL, lambda e: everything.append(e.event_type))
    for v in range(4):
        bus.fire("x", {"v": v})
    bus.fire("y")
    assert filtered == [2, 3]
    assert everything == ["x", "x", "x", "x", "y"]
    unsub()
    unsub()  # idempotent
    bus.fire("x", {"v": 5})
    assert filtered == [2, 3]
    assert bus.listener_count("x") == 0


def test_listen_once_fires_once_even_when_fired_from_inside() -> None:
    bus = EventBus()
    calls: list[int] = []

    def listener(event: Event[Any]) -> None:
        calls.append(event.data["n"])
        if event.data["n"] == 0:
            bus.fire("once", {"n": 1})  # re-entrant fire must not call us again

    bus.listen_once("once", listener)
    bus.fire("once", {"n": 0})
    bus.fire("once", {"n": 2})
    assert calls == [0]
    assert bus.listener_count() == 0


def test_failing_listener_is_logged_and_others_still_run(caplog: pytest.LogCaptureFixture) -> None:
    bus = EventBus()
    after: list[bool] = []

    def broken(event: Event[Any]) -> None:
        raise RuntimeError("boom")

    bus.listen("e", broken)
    bus.listen("e", lambda e: after.append(True))
    with caplog.at_level(logging.ERROR):
        bus.fire("e")
    assert after == [True]
    assert "boom" in caplog.text


def test_no_listener_fire_is_counted_but_builds_nothing() -> None:
    bus = EventBus()
    bus.fire("nobody")
    assert bus.fired_count == 1


async def test_coroutine_listener_runs_as_host_task(host: Host) -> None:
    got = anyio.Event()
    received: list[Any] = []

    async def listener(event: Event[Any]) -> None:
        await anyio.lowlevel.checkpoint()
        received.append(event.data["x"])
        got.set()

    host.bus.listen("async", listener)
    host.bus.fire("async", {"x": 42})
    assert received == []  # scheduled, not run inline
    with anyio.fail_after(5):
        await got.wait()
    assert received == [42]


async def test_failing_coroutine_listener_does_not_break_the_host(
    host: Host, caplog: pytest.LogCaptureFixture
) -> None:
    done = anyio.Event()

    async def broken(event: Event[Any]) -> None:
        raise ValueError("async boom")

    async def fine(event: Event[Any]) -> None:
        done.set()

    host.bus.listen("e", broken)
    host.bus.listen("e", fine)
    host.bus.fire("e")
    with anyio.fail_after(5):
        await done.wait()
    await anyio.lowlevel.checkpoint()
    assert host.is_running
    assert "async boom" in caplog.text
