"""Fixtures for the MQTT integration tests: a paho test peer on the kit's broker.

Hosts come from the test kit (the ``host`` fixture, ``make_host``); the shipped mqtt
integration is found through its entry point, like any plugin. The helper module next to
this file (``mqtt_helpers``) is also imported by the kill -9 child script, so this
directory is put on ``sys.path`` here instead of making the tests a package.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from mqtt_helpers import Peer  # noqa: E402

from gatehouse.core.testing import Mosquitto  # noqa: E402


@pytest.fixture
def peer(mosquitto: Mosquitto) -> Iterator[Peer]:
    """A plain paho client on the test broker, for publishing and watching."""
    client = Peer(mosquitto.port, "test-peer")
    try:
        yield client
    finally:
        client.close()
