"""Small helpers shared by the config entry, flow, YAML import and leak tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from gatehouse.core import ConfigEntry, Host
from gatehouse.core.config_entries import EVENT_CONFIG_ENTRY_CHANGED
from gatehouse.core.testing import make_host

FLAKY_MODULE = "entry_testpkgs.flaky"


@asynccontextmanager
async def running_host(config_dir: Path, *, flaky: bool = True) -> AsyncIterator[Host]:
    """A test host (``make_host``) with the ``flaky`` package available, running."""
    host = make_host(config_dir, packages={"flaky": FLAKY_MODULE} if flaky else None)
    async with host.running():
        yield host


def flaky_of(host: Host) -> Any:
    """The ``FlakyIntegration`` object of ``host`` (one per host)."""
    return host.plugins.load("flaky").integration


def record_changes(host: Host, entry_id: str | None = None) -> list[tuple[str, str]]:
    """Record ``(change, state)`` of every config_entry_changed event (of one entry)."""
    seen: list[tuple[str, str]] = []

    def on_change(event: Any) -> None:
        if entry_id is None or event.data["entry_id"] == entry_id:
            seen.append((event.data["change"], event.data["state"]))

    host.bus.listen(EVENT_CONFIG_ENTRY_CHANGED, on_change)
    return seen


def flaky_entry(title: str = "Flaky", **data: Any) -> ConfigEntry[Any]:
    return ConfigEntry(domain="flaky", title=title, data=data, unique_id=title.lower())
