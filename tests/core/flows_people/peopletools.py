"""Helpers of the "services and flows for people" tests (issue 14, part 5).

Two real Modbus TCP servers come from the modbus tests' own peer (``modbus_peers``),
so the services are tried against real hubs, not stand-ins.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from gatehouse.core import Host
from gatehouse.core.testing import make_host

MODBUS_TESTS = Path(__file__).resolve().parents[2] / "integrations" / "modbus"
OPCUA_TESTS = MODBUS_TESTS.parent / "opcua"  # opcua_helpers: the simulator served
for _tools in (MODBUS_TESTS, OPCUA_TESTS):
    if str(_tools) not in sys.path:
        sys.path.insert(0, str(_tools))

from modbus_peers import ModbusPeer  # noqa: E402  (after the path above)

__all__ = ["ModbusPeer", "add_demo", "fields", "host_with"]

HEADER = "gatehouse:\n  control_socket: false\n"


@asynccontextmanager
async def host_with(config_dir: Path, yaml_text: str = "") -> AsyncIterator[Host]:
    """A running host with ``yaml_text`` (dedented) as its configuration."""
    (config_dir / "configuration.yaml").write_text(
        HEADER + textwrap.dedent(yaml_text), encoding="utf-8"
    )
    host = make_host(config_dir)
    async with host.running():
        yield host


async def add_demo(host: Host, name: str) -> str:
    """A demo entry made through its real config flow; its entry id."""
    flow = host.config_entries.flow
    first = await flow.init("demo")
    done = await flow.configure(first["flow_id"], {"name": name, "update_interval": 60})
    assert done["type"] == "create_entry", done
    return str(done["entry_id"])


def fields(result: Any) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in result["data_schema"]}
