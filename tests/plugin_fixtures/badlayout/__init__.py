"""A deliberately mis-shaped integration: the layout check must name every flaw."""

from __future__ import annotations

from typing import Any

from gatehouse.core import ConfigEntry, Host, hookimpl

from .entities import Thermometer  # noqa: F401 - an old shape, on purpose


class Runtime:
    """Runtime state in __init__.py instead of runtime.py."""


class BadlayoutIntegration:
    domain = "badlayout"

    async def setup_entry(self, host: Host, entry: ConfigEntry[Any]) -> None:
        host.services.register("badlayout", "poke", lambda call: None)

    async def unload_entry(self, host: Host, entry: ConfigEntry[Any]) -> None:
        return None


@hookimpl
def gatehouse_integration() -> BadlayoutIntegration:
    return BadlayoutIntegration()
