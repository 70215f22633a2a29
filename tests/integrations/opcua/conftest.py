"""Fixtures for the OPC UA tests: a real asyncua server (the plant simulator) in-process.

Servers listen on ephemeral loopback ports. Starting one costs about 1.5 s (asyncua
builds the whole standard address space), so test modules share one through the
module-scoped ``sim`` fixture and each test sets the process values it needs; only
tests that stop or reconfigure a server start their own.

The simulator runs with ``step=False``: the model does not move by itself, tests set
its values and the simulator publishes them within ``SYNC`` seconds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

import pytest
from opcua_helpers import FIRST_NAMESPACE, SYNC, AddEntry, Sim, serving

from gatehouse.core import ConfigEntry, Host
from gatehouse.core.testing import add_entry as kit_add_entry
from gatehouse.core.testing import free_port
from gatehouse.integrations.opcua.config import ENTRY_SCHEMA
from gatehouse.integrations.simulator.opcua_server import OpcuaSimulator
from gatehouse.integrations.simulator.process import ProcessModel


@pytest.fixture(scope="module")
async def sim() -> AsyncIterator[Sim]:
    """A plain (no security, anonymous) simulator whose namespace is *not* index 2:
    another namespace is registered first, so only URI addressing finds the nodes."""
    process = ProcessModel()
    simulator = OpcuaSimulator(
        process, step=False, update_interval=SYNC, extra_namespaces=[FIRST_NAMESPACE]
    )
    async with serving(Sim(simulator, process, free_port())) as running:
        yield running


@pytest.fixture
def add_entry(host: Host) -> AddEntry:
    """``await add_entry(endpoint, nodes, options=None, **data)``: add and set up an
    opcua entry.

    The kit's ``add_entry`` with data validated as YAML would be, and fast timings for
    tests: 20 ms publishing, 0.5 s keepalive and reconnect cap.
    """
    host.plugins.add_package("opcua", "gatehouse.integrations.opcua")

    async def add(
        endpoint: str,
        nodes: Iterable[dict[str, Any]] = (),
        *,
        name: str = "Plant",
        options: Mapping[str, Any] | None = None,
        **data: Any,
    ) -> ConfigEntry[Any]:
        validated = ENTRY_SCHEMA(
            {
                "name": name,
                "endpoint": endpoint,
                "publishing_interval": 0.02,
                "keepalive_interval": 0.5,
                "request_timeout": 2.0,
                "reconnect_max_delay": 0.5,
                "nodes": list(nodes),
                **data,
            }
        )
        return await kit_add_entry(
            host, "opcua", validated, title=name, options=options, unique_id=name.lower()
        )

    return add
