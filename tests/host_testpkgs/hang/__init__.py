"""An integration whose unload never finishes: proves the host's stop is bounded."""

from __future__ import annotations

from typing import Any

import anyio

from gatehouse.core import ConfigEntry, Host, hookimpl


class Hang:
    domain = "hang"

    async def setup_entry(self, host: Host, entry: ConfigEntry[Any]) -> None:
        entry.spawn(anyio.sleep_forever(), "hang forever")

    async def unload_entry(self, host: Host, entry: ConfigEntry[Any]) -> None:
        await anyio.sleep_forever()


@hookimpl
def gatehouse_integration() -> Hang:
    return Hang()
