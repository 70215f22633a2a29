"""The ``echo`` integration: a third-party plugin written only against gatehouse.core.

It exercises every hook so the meta-test can see each one called through a
real entry point, and offers ``echo.say`` (response data) and a sensor holding the last
message. YAML: ``echo: {prefix: "..."}``. With ``topic``, ``echo.say`` also publishes the
text through ``mqtt.publish``: a plugin using another integration through its service.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import voluptuous as vol

from gatehouse.core import ConfigEntry, Host, SensorEntity, ServiceCall, SupportsResponse, hookimpl

#: Calls of the broadcast hooks, for the tests to read.
CALLS: list[str] = []


class LastMessage(SensorEntity):
    _attr_unique_id = "echo_last"
    _attr_name = "Echo last message"


class EchoIntegration:
    domain = "echo"
    config_schema = vol.Schema({vol.Optional("prefix", default=""): str})

    async def setup_entry(self, host: Host, entry: ConfigEntry[Any]) -> None:
        sensor = LastMessage()
        await host.entities.add(entry, [sensor])
        prefix = entry.data.get("prefix", "")

        async def say(call: ServiceCall) -> dict[str, Any]:
            text = f"{prefix}{call.data['text']}"
            sensor._attr_native_value = text
            sensor.write_state(context=call.context)
            if "topic" in call.data:
                await host.services.call(
                    "mqtt", "publish", {"topic": call.data["topic"], "payload": text, "qos": 1},
                    blocking=True, context=call.context,
                )
            return {"text": text, "user_id": call.context.user_id}

        entry.on_unload(
            host.services.register(
                "echo", "say", say, {vol.Required("text"): str, vol.Optional("topic"): str},
                supports_response=SupportsResponse.OPTIONAL,
            )
        )

    async def unload_entry(self, host: Host, entry: ConfigEntry[Any]) -> None:
        return None


@hookimpl
def gatehouse_integration() -> EchoIntegration:
    CALLS.append("gatehouse_integration")
    return EchoIntegration()


@hookimpl
def gatehouse_host_started(host: Host) -> None:
    CALLS.append("gatehouse_host_started")


@hookimpl
def gatehouse_host_stopping(host: Host) -> None:
    CALLS.append("gatehouse_host_stopping")


@hookimpl
def gatehouse_template_globals(host: Host) -> Mapping[str, Any]:
    CALLS.append("gatehouse_template_globals")
    return {"echo_shout": lambda text: str(text).upper()}


@hookimpl
def gatehouse_diagnostics(host: Host) -> Mapping[str, Any]:
    CALLS.append("gatehouse_diagnostics")
    return {"echo": {"loaded_entries": len(host.config_entries.entries("echo"))}}


@hookimpl
def gatehouse_http_routes(host: Host) -> list[Any]:
    CALLS.append("gatehouse_http_routes")
    from gatehouse.core.http import RouteDef

    async def last_message(request: Any) -> Any:
        from aiohttp import web

        state = host.states.get("sensor.echo_last_message")
        return web.json_response({"text": state.state if state is not None else None})

    return [RouteDef("GET", "/api/echo/last", last_message)]


@hookimpl
def gatehouse_ws_commands(host: Host) -> list[Any]:
    CALLS.append("gatehouse_ws_commands")
    from gatehouse.core.http import WsCommand

    async def last_message(permissions: Any, args: dict[str, Any]) -> dict[str, Any]:
        entity_id = "sensor.echo_last_message"
        state = host.states.get(entity_id)
        if state is None or not permissions.can_read(entity_id):
            return {"text": None}
        return {"text": state.state}

    return [WsCommand("echo/last", last_message)]


@hookimpl
def gatehouse_panels(host: Host) -> list[Any]:
    CALLS.append("gatehouse_panels")
    from gatehouse.core.http import Panel

    return [
        Panel(name="echo", title="Echo", static_dir=Path(__file__).parent / "panel",
              entry="index.html", icon="mdi:bullhorn")
    ]
