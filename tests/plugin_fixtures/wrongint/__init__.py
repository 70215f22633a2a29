"""Fixture: ``gatehouse_integration`` returns an integration of another domain."""

from __future__ import annotations

from typing import Any

from gatehouse.core import hookimpl


class Other:
    domain = "other"

    async def setup_entry(self, host: Any, entry: Any) -> None:
        return None

    async def unload_entry(self, host: Any, entry: Any) -> None:
        return None


@hookimpl
def gatehouse_integration() -> Other:
    return Other()
