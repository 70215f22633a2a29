"""Helpers for the modbus tests: a running host from YAML, waiting, reading states."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio

from gatehouse.core import Host
from hosttools import make_host

PACKAGES = {
    "modbus": "gatehouse.integrations.modbus",
    "simulator": "gatehouse.integrations.simulator",
}

HEADER = "gatehouse:\n  control_socket: false\n"


def add_packages(host: Host) -> None:
    """Make modbus and simulator loadable even before their entry points are installed."""
    available = host.plugins.available()
    for domain, module in PACKAGES.items():
        if domain not in available:
            host.plugins.add_package(domain, module)


@asynccontextmanager
async def running_host(config_dir: Path, yaml_text: str) -> AsyncIterator[Host]:
    """A test host running ``yaml_text`` (dedented; the control socket is switched off)."""
    (config_dir / "configuration.yaml").write_text(
        HEADER + textwrap.dedent(yaml_text), encoding="utf-8"
    )
    host = make_host(config_dir)
    add_packages(host)
    async with host.running():
        yield host


async def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll ``predicate`` until it holds; fail the test after ``timeout`` seconds."""
    with anyio.fail_after(timeout):
        while True:
            if predicate():
                return
            await anyio.sleep(0.01)


def state(host: Host, entity_id: str) -> str | None:
    current = host.states.get(entity_id)
    return None if current is None else current.state


def attrs(host: Host, entity_id: str) -> dict[str, Any]:
    current = host.states.get(entity_id)
    assert current is not None, f"{entity_id} has no state"
    return dict(current.attributes)


def entry_of(host: Host, domain: str = "modbus", title: str | None = None) -> Any:
    entries = [
        e for e in host.config_entries.entries()
        if e.domain == domain and (title is None or e.title == title)
    ]
    assert len(entries) == 1, entries
    return entries[0]
