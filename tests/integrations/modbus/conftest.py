"""Fixtures of the modbus tests: real pymodbus servers on ephemeral loopback ports."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from modbus_peers import ModbusPeer


@pytest.fixture
async def peer() -> AsyncIterator[ModbusPeer]:
    """A Modbus TCP server with slaves 1, 2 and 3 (512 of every table each)."""
    server = ModbusPeer((1, 2, 3))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
