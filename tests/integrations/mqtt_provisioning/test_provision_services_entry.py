"""Which broker ``mqtt.provision_device``/``revoke_device``/``delete_device`` act on
(issue 14, point 5).

Before, with no ``entry_id`` they took the first mqtt entry with a ``provisioning:``
block, whichever that was. Now the mqtt domain's one rule (``LoadedEntries.pick_entry``)
among the entries with a block: named by id or title; left out, the only one with a
block (an entry without one does not count); with two, refused naming both. Two real
Mosquitto brokers with the dynamic security plugin, and a plain one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from provisiontools import DynsecBroker, dynsec_broker, have_dynsec

from gatehouse.core import ConfigEntryState, Host, ServiceValidationError
from gatehouse.core.testing import Mosquitto, add_entry
from gatehouse.integrations.mqtt.provisioning import provisioner_for

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.timeout(60),
    pytest.mark.skipif(not have_dynsec(), reason="needs Mosquitto's dynamic security plugin"),
]


@pytest.fixture
def brokers(tmp_path: Path) -> Iterator[tuple[DynsecBroker, DynsecBroker]]:
    with dynsec_broker(tmp_path / "north") as north, dynsec_broker(tmp_path / "south") as south:
        yield north, south


async def _add(host: Host, title: str, data: dict[str, Any]) -> str:
    entry = await add_entry(host, "mqtt", data, title=title, unique_id=title.lower())
    assert entry.state is ConfigEntryState.LOADED, entry.reason
    return entry.entry_id


def _device(host: Host, entry_id: str, name: str) -> bool:
    return provisioner_for(host, entry_id).registry.get(name) is not None


async def test_the_entry_with_a_block_is_named_or_the_only_one(
    host: Host, mosquitto: Mosquitto, brokers: tuple[DynsecBroker, DynsecBroker]
) -> None:
    north_broker, south_broker = brokers
    plain = await _add(host, "Plain broker", {"broker": "127.0.0.1", "port": mosquitto.port,
                                              "discovery": False})
    north = await _add(host, "North broker", north_broker.entry_data())

    async def call(service: str, data: dict[str, Any]) -> Any:
        return await host.services.call("mqtt", service, data, return_response=(
            service != "delete_device"))

    device = {"device_type": "sensor", "site": "north"}
    # Two mqtt entries, one with a block: that one, without naming it.
    await call("provision_device", {"name": "t1", **device})
    assert _device(host, north, "t1")
    with pytest.raises(ServiceValidationError,
                       match="mqtt entry 'Plain broker' is not one with a provisioning: block; "
                             rf"choose one of: 'North broker' \({north}\)"):
        await call("provision_device", {"name": "t2", **device, "entry_id": plain})

    south = await _add(host, "South broker", south_broker.entry_data())
    with pytest.raises(ServiceValidationError) as left_out:
        await call("provision_device", {"name": "t2", **device})
    assert "several mqtt entries with a provisioning: block are loaded" in str(left_out.value)
    assert f"'North broker' ({north}), 'South broker' ({south})" in str(left_out.value)
    assert plain not in str(left_out.value)

    await call("provision_device", {"name": "t2", **device, "entry_id": "south BROKER"})
    assert _device(host, south, "t2") and not _device(host, north, "t2")
    await call("revoke_device", {"name": "t2", "entry_id": south})
    await call("delete_device", {"name": "t2", "entry": "South broker"})  # the old spelling
    assert not _device(host, south, "t2")
    with pytest.raises(ServiceValidationError, match="several mqtt entries"):
        await call("delete_device", {"name": "t1"})
    assert _device(host, north, "t1")
