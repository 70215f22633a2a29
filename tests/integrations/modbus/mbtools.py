"""Helpers for the modbus tests: a running host from YAML, and reading what it made.

Waiting and states come from the test kit (``gatehouse.core.testing.wait_until`` and
``state_of``); only what is particular to these tests lives here.
"""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from gatehouse.core import Host
from gatehouse.core.testing import make_host

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
