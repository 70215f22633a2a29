"""Helpers for the OPC UA tests (importable: ``from opcua_helpers import ...``).

Waiting comes from the test kit (``gatehouse.core.testing.wait_until``); what is here is
particular to OPC UA: the simulator as a peer, node items, trusting a certificate.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from gatehouse.core import ConfigEntry, Host, State
from gatehouse.core.testing import LOOPBACK, wait_until
from gatehouse.integrations.simulator.opcua_server import SERVER_CERT_FILE, OpcuaSimulator
from gatehouse.integrations.simulator.process import ProcessModel

NS = "nsu=urn:gatehouse:sim;s="
SYNC = 0.02
"""Seconds between the simulator's pushes of model values to the address space."""
FIRST_NAMESPACE = "urn:gatehouse:test:registered-first"

AddEntry = Callable[..., Awaitable[ConfigEntry[Any]]]


@dataclass
class Sim:
    """A running simulator: its model, the server object and where to reach it."""

    simulator: OpcuaSimulator
    process: ProcessModel
    port: int
    certs_dir: Path | None = None

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://{LOOPBACK}:{self.port}/"

    @property
    def server_cert(self) -> Path:
        assert self.certs_dir is not None
        return self.certs_dir / SERVER_CERT_FILE


@asynccontextmanager
async def serving(sim: Sim) -> AsyncIterator[Sim]:
    """Run ``sim`` on its port for the duration of the block, then stop it."""
    async with anyio.create_task_group() as tg:
        await tg.start(sim.simulator.serve, LOOPBACK, sim.port)
        try:
            yield sim
        finally:
            tg.cancel_scope.cancel()


def node(variable: str, platform: str, **extra: Any) -> dict[str, Any]:
    """One ``nodes:`` item for the simulator variable ``variable`` (``Tank.Level``)."""
    return {"node": NS + variable, "platform": platform, "name": variable.replace(".", " "),
            **extra}


async def wait_state(host: Host, entity_id: str, state: str, timeout: float = 5.0) -> State:
    """Wait until ``entity_id`` has ``state``; the assertion shows the last state seen."""
    try:
        found: State = await wait_until(
            lambda: (s := host.states.get(entity_id)) is not None and s.state == state and s,
            timeout,
        )
    except AssertionError:
        raise AssertionError(
            f"{entity_id} never became {state!r}; it is {host.states.get(entity_id)!r}"
        ) from None
    return found


def trust(config_dir: Path, certificate: Path) -> None:
    """What the user does by hand: copy a server certificate into the trusted folder."""
    trusted = config_dir / "opcua" / "trusted"
    trusted.mkdir(parents=True, exist_ok=True)
    shutil.copy(certificate, trusted / certificate.name)
