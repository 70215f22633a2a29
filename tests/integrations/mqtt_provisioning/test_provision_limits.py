"""What the broker enforces beyond topics, provisioning across restarts, and the
``provisioning:`` block's validation.

Mosquitto 2.0's dynamic security ACLs cannot limit QoS or the retain flag, so the
integration prints the listener settings that can (``broker_enforcement``); the first
test feeds exactly that text to a real broker and shows a device that exceeds its
template's limits is disconnected, while one that keeps them is served.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import voluptuous as vol
from provisiontools import ADMIN, ADMIN_PASSWORD, Client, dynsec_broker, have_dynsec

from gatehouse.core import ConfigEntryState
from gatehouse.core.helpers import describe_invalid
from gatehouse.core.testing import add_entry, make_host
from gatehouse.integrations.mqtt.config import entry_data
from gatehouse.integrations.mqtt.provisioning import provisioner_for
from gatehouse.integrations.mqtt.provisioning.config import PROVISIONING_SCHEMA, DeviceType
from gatehouse.integrations.mqtt.provisioning.templates import broker_enforcement

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.timeout(60),
    pytest.mark.skipif(not have_dynsec(), reason="needs Mosquitto's dynamic security plugin"),
]

SENSOR_ONLY: dict[str, Any] = {"sensor": {"max_qos": 1, "retain": False}}


async def test_the_printed_listener_settings_enforce_what_the_plugin_cannot(
    config_dir: Path, tmp_path: Path
) -> None:
    block = PROVISIONING_SCHEMA({"device_types": SENSOR_ONLY})
    types = [DeviceType.from_config(n, t) for n, t in block["device_types"].items()]
    enforcement = broker_enforcement(types)
    assert enforcement["listener_max_qos"] == 1 and not enforcement["retain_available"]
    conf = enforcement["mosquitto_conf"]
    assert "max_qos 1" in conf and "retain_available false" in conf

    with dynsec_broker(tmp_path / "dynsec", extra=conf) as broker:
        host = make_host(config_dir)
        async with host.running():
            await add_entry(host, "mqtt", broker.entry_data(device_types=SENSOR_ONLY))
            made = await provisioner_for(host).provision("s1", "sensor", "north")
            root = made["topics"]["root"]
            watcher = Client(broker.port, ADMIN, ADMIN_PASSWORD, client_id="observer")
            polite = Client(broker.port, "s1", made["password"], client_id="s1-polite")
            greedy = Client(broker.port, "s1", made["password"], client_id="s1-qos2")
            hoarder = Client(broker.port, "s1", made["password"], client_id="s1-retain")
            try:
                assert await watcher.connect() == "Success"
                assert await watcher.subscribe("site/#") == "Granted QoS 1"
                for client in (polite, greedy, hoarder):
                    assert await client.connect() == "Success"
                assert await polite.publish(f"{root}/ok", b"1") == "Success"
                greedy.publish_nowait(f"{root}/qos2", b"2", 2)
                assert await greedy.wait_gone(), "a QoS 2 publish was not refused"
                hoarder.publish_nowait(f"{root}/kept", b"3", 1, retain=True)
                assert await hoarder.wait_gone(), "a retained publish was not refused"
                assert await polite.publish(f"{root}/marker", b"m") == "Success"
                seen = []
                while not seen or seen[-1] != f"{root}/marker":
                    seen.append((await watcher.next_message()).topic)
                assert seen == [f"{root}/ok", f"{root}/marker"]
            finally:
                for client in (watcher, polite, greedy, hoarder):
                    client.close()


async def test_devices_outlive_a_restart_and_can_be_revoked_after_it(
    config_dir: Path, tmp_path: Path
) -> None:
    with dynsec_broker(tmp_path / "dynsec") as broker:
        host = make_host(config_dir)
        async with host.running():
            await add_entry(host, "mqtt", broker.entry_data())
            made = await provisioner_for(host).provision("r1", "actuator", "west")
        again = make_host(config_dir)
        async with again.running():
            entries = again.config_entries.entries("mqtt")
            assert entries and entries[0].state is ConfigEntryState.LOADED
            record = provisioner_for(again).registry.get("r1")
            assert record is not None and record.status == "active"
            assert record.topic_root == "site/west/actuator/r1"
            await again.services.call("mqtt", "revoke_device", {"name": "r1"})
            device = Client(broker.port, "r1", made["password"], client_id="r1")
            try:
                assert await device.connect() == "Not authorized"
            finally:
                device.close()
            reports = again.plugins.hook.gatehouse_diagnostics(host=again)
            mqtt = next(r for r in reports if entries[0].entry_id in r)
            assert mqtt[entries[0].entry_id]["provisioning"]["revoked"] == 1
            reloaded = await again.config_entries.reload(entries[0].entry_id)
            assert reloaded is not False
            assert provisioner_for(again).registry.get("r1") is not None


@pytest.mark.parametrize(("block", "where", "why"), [
    ({"device_types": {"x": {"topic_root": "site/{site}/all"}}},
     "provisioning.device_types.x.topic_root", "{device}"),
    ({"device_types": {"x": {"publish": ["a/#/b"]}}},
     "provisioning.device_types.x.publish", "'#' must be"),
    ({"device_types": {"bad/name": {}}}, "provisioning.device_types", "letters, digits"),
    ({"device_types": {"x": {"max_qos": 3}}},
     "provisioning.device_types.x.max_qos", "must be one of [0, 1, 2]"),
    ({"tls_port": 0}, "provisioning.tls_port", "at least 1"),
])
def test_a_bad_block_names_the_key(block: dict[str, Any], where: str, why: str) -> None:
    with pytest.raises(vol.Invalid) as caught:
        entry_data({"broker": "b", "provisioning": block})
    text = describe_invalid(caught.value)
    assert why in text and where in text, text
