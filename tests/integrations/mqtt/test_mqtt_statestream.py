"""Statestream on the house's entity filter: attribute conditions and devices, against a
real broker."""

from __future__ import annotations

import pytest
from mqtt_helpers import Peer, entry_data, loaded

from gatehouse.core import Host
from gatehouse.core.testing import Mosquitto, add_entry, wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


async def test_statestream_selects_by_attribute_and_device(
    mosquitto: Mosquitto, peer: Peer, host: Host
) -> None:
    boiler = host.device_registry.get_or_create("x", {"identifiers": {("t", "boiler")}})
    host.entity_registry.get_or_create(
        "sensor", "t", "b", suggested_object_id="boiler_pressure", device_id=boiler.id
    )
    peer.subscribe("gh/#", qos=1)
    entry = await add_entry(host, "mqtt", entry_data(
        mosquitto.port, client_id="stream",
        statestream={
            "base_topic": "gh", "publish_attributes": False,
            "include": {"domains": ["sensor"], "attributes": {"device_class": "temperature"},
                        "devices": [boiler.id]},
            "exclude": {"attributes": {"quality": "bad"}},
        },
    ))
    assert loaded(entry), entry.reason

    states = host.states
    states.set("sensor.humidity", "40", {"device_class": "humidity"})  # condition fails
    states.set("sensor.flaky", "9", {"device_class": "temperature", "quality": "bad"})
    states.set("light.lamp", "on", {"device_class": "temperature"})  # domain not chosen
    # The device is chosen, but attribute conditions still apply to its states.
    states.set("sensor.boiler_pressure", "3", {"device_class": "temperature"})
    states.set("sensor.outside", "7", {"device_class": "temperature", "quality": "good"})
    await wait_until(lambda: peer.payloads("gh/sensor/outside/state") == [b"7"])

    published = {m[0] for m in peer.snapshot() if m[0].endswith("/state")}
    assert published == {"gh/sensor/boiler_pressure/state", "gh/sensor/outside/state"}
