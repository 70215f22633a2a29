"""Fixtures for the MQTT integration tests: hosts with the mqtt plugin, a test peer.

The helper module next to this file (``mqtt_helpers``) is also imported by the kill -9
child script, so this directory is put on ``sys.path`` here instead of making the tests
a package.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from mqtt_helpers import Peer, mqtt_host  # noqa: E402

from gatehouse.core import Host  # noqa: E402
from gatehouse.core.testing import Mosquitto  # noqa: E402


@pytest.fixture
async def mhost(config_dir: Path) -> AsyncIterator[Host]:
    """A running host that can load the mqtt integration (no entry yet)."""
    host = mqtt_host(config_dir)
    async with host.running():
        yield host


@pytest.fixture
def peer(mosquitto: Mosquitto) -> Iterator[Peer]:
    """A plain paho client on the test broker, for publishing and watching."""
    client = Peer(mosquitto.port, "test-peer")
    try:
        yield client
    finally:
        client.close()
