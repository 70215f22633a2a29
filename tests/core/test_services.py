"""The service registry: schemas checked by the registry, responses, blocking or not."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import anyio.lowlevel
import pytest
import voluptuous as vol

from gatehouse.core import Context, Event, Host, ServiceCall, SupportsResponse
from gatehouse.core.exceptions import (
    ServiceNotFound,
    ServiceResponseError,
    ServiceValidationError,
)

pytestmark = pytest.mark.anyio


async def test_call_with_schema_and_response(host: Host) -> None:
    seen: list[ServiceCall] = []

    async def add(call: ServiceCall) -> dict[str, Any]:
        seen.append(call)
        return {"sum": call.data["a"] + call.data["b"]}

    host.services.register(
        "math", "add", add, {vol.Required("a"): vol.Coerce(int), vol.Optional("b", default=1): int},
        supports_response=SupportsResponse.ONLY,
    )
    ctx = Context(user_id="alice")
    result = await host.services.call("math", "add", {"a": "2"}, context=ctx, return_response=True)
    assert result == {"sum": 3}
    assert seen[0].data == {"a": 2, "b": 1}  # coerced and defaulted by the registry
    assert seen[0].context is ctx


async def test_bad_data_gives_clear_error_and_handler_never_runs(host: Host) -> None:
    called = []
    host.services.register("x", "y", called.append, {vol.Required("n"): int})
    with pytest.raises(ServiceValidationError) as err:
        await host.services.call("x", "y", {"n": "not a number", "extra": 1})
    text = str(err.value)
    assert "x.y" in text and "n: expected int" in text and "extra" in text
    assert called == []


async def test_unknown_service_suggests_close_name(host: Host) -> None:
    host.services.register("light", "turn_on", lambda call: None)
    with pytest.raises(ServiceNotFound) as err:
        await host.services.call("light", "turn_onn")
    assert err.value.suggestion == "light.turn_on"
    assert "did you mean 'light.turn_on'" in str(err.value)


async def test_response_rules(host: Host) -> None:
    host.services.register("a", "none", lambda call: None)
    host.services.register(
        "a", "only", lambda call: {"x": 1}, supports_response=SupportsResponse.ONLY
    )
    with pytest.raises(ServiceResponseError):
        await host.services.call("a", "none", return_response=True)
    with pytest.raises(ServiceResponseError):
        await host.services.call("a", "only")
    with pytest.raises(ServiceResponseError):
        await host.services.call("a", "only", blocking=False, return_response=True)
    assert await host.services.call("a", "only", return_response=True) == {"x": 1}


async def test_blocking_call_propagates_errors_nonblocking_logs_them(
    host: Host, caplog: pytest.LogCaptureFixture
) -> None:
    ran = anyio.Event()

    async def broken(call: ServiceCall) -> None:
        ran.set()
        raise RuntimeError("handler failed")

    host.services.register("b", "broken", broken)
    with pytest.raises(RuntimeError, match="handler failed"):
        await host.services.call("b", "broken")
    ran = anyio.Event()
    with caplog.at_level(logging.ERROR):
        assert await host.services.call("b", "broken", blocking=False) is None
        with anyio.fail_after(5):
            await ran.wait()
        await anyio.lowlevel.checkpoint()
        await anyio.lowlevel.checkpoint()
    assert "handler failed" in caplog.text
    assert host.is_running


async def test_call_service_event_carries_context_and_unregister(host: Host) -> None:
    events: list[Event[Any]] = []
    host.bus.listen("call_service", events.append)
    unregister = host.services.register("c", "d", lambda call: None)
    ctx = Context(user_id="bob")
    await host.services.call("c", "d", {"k": 1}, context=ctx)
    assert events[0].data["domain"] == "c" and events[0].data["service_data"] == {"k": 1}
    assert events[0].context.user_id == "bob"
    unregister()
    assert not host.services.has("c", "d")
    with pytest.raises(ServiceNotFound):
        await host.services.call("c", "d")


async def test_child_context_links_parent(host: Host) -> None:
    parent = Context(user_id="u")
    got: list[Context] = []

    def handler(call: ServiceCall) -> None:
        child = call.context.child()
        host.states.set("sensor.caused", "1", context=child)
        got.append(child)

    host.services.register("p", "q", handler)
    await host.services.call("p", "q", context=parent)
    state = host.states.get("sensor.caused")
    assert state is not None
    assert state.context.parent_id == parent.id
    assert state.context.user_id == "u"


async def test_services_yaml_descriptions(host: Host) -> None:
    from gatehouse.core import ConfigEntry

    await host.config_entries.add(ConfigEntry(domain="demo", title="D", data={"name": "D"}))
    desc = host.services.description("demo", "reset_counter")
    assert "zero" in desc["description"]
    assert "entry_id" in desc["fields"]
