"""Which mqtt entry (broker) ``mqtt.publish`` uses, with two brokers (issue 14, point 5).

Two real Mosquitto brokers, one entry each: the caller names the entry by id or by
title (any case), or leaves it out when only one is loaded. With two loaded and none
named the call is refused naming both; before, it went silently to the first one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mqtt_helpers import Peer, entry_data, loaded

from gatehouse.core import ConfigEntry, Host, ServiceValidationError
from gatehouse.core.testing import Mosquitto, add_entry, wait_until
from gatehouse.integrations.mqtt.services import LOADED

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


@pytest.fixture
def second_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    broker = Mosquitto(tmp_path / "second-broker")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


async def _two_entries(
    host: Host, first: Mosquitto, second: Mosquitto
) -> tuple[ConfigEntry[Any], ConfigEntry[Any]]:
    north = await add_entry(host, "mqtt", entry_data(first.port, client_id="north"),
                            title="North broker")
    south = await add_entry(host, "mqtt", entry_data(second.port, client_id="south"),
                            title="South broker")
    assert loaded(north) and loaded(south), (north.reason, south.reason)
    return north, south


async def test_two_brokers_and_no_entry_named_is_refused_naming_both(
    mosquitto: Mosquitto, second_broker: Mosquitto, host: Host
) -> None:
    """Regression: the message went silently to the first broker."""
    north_peer, south_peer = Peer(mosquitto.port, "np"), Peer(second_broker.port, "sp")
    try:
        north_peer.subscribe("out/#")
        south_peer.subscribe("out/#")
        north, south = await _two_entries(host, mosquitto, second_broker)
        # QoS 0 is sent at once or dropped: both brokers must be connected.
        await wait_until(lambda: all(
            r.connection.connected for r in LOADED.runtimes(host).values()))
        with pytest.raises(ServiceValidationError) as caught:
            await host.services.call("mqtt", "publish", {"topic": "out/x", "payload": "1"})
        message = str(caught.value)
        assert "several mqtt entries" in message and "pass entry_id" in message
        assert f"'North broker' ({north.entry_id})" in message
        assert f"'South broker' ({south.entry_id})" in message
        # Named: by id, by title in any case; each reaches its own broker only.
        await host.services.call("mqtt", "publish",
                                 {"topic": "out/id", "payload": "s", "entry_id": south.entry_id})
        await host.services.call("mqtt", "publish",
                                 {"topic": "out/title", "payload": "n",
                                  "entry_id": "north BROKER"})
        await wait_until(lambda: south_peer.payloads("out/id") == [b"s"]
                         and north_peer.payloads("out/title") == [b"n"])
        assert north_peer.payloads("out/id") == [] and south_peer.payloads("out/title") == []
        assert north_peer.payloads("out/x") == [] and south_peer.payloads("out/x") == []
        with pytest.raises(ServiceValidationError, match=r"no loaded mqtt entry has the id or "
                           r"title 'West'; choose one of: 'North broker' \("):
            await host.services.call("mqtt", "publish",
                                     {"topic": "out/x", "payload": "1", "entry_id": "West"})
        # One left: it is meant without naming it.
        await host.config_entries.unload(north.entry_id)
        await host.services.call("mqtt", "publish", {"topic": "out/only", "payload": "o"})
        await wait_until(lambda: south_peer.payloads("out/only") == [b"o"])
    finally:
        north_peer.close()
        south_peer.close()
