"""Provisioning against a real Mosquitto with the dynamic security plugin.

A host's mqtt entry logs in as the plugin's admin (made by ``mosquitto_ctrl dynsec
init``) and provisions devices with ``mqtt.provision_device``. Then real MQTT 5
clients play the devices: what the role allows is acknowledged and reaches an admin
observer; what it does not is refused with the PUBACK/SUBACK reason code ``Not
authorized`` and never reaches the observer (checked by a marker the device sends
right after: one client's messages arrive in order, so once the marker is there a
refused message would have been too). A revoked device is kicked and then refused at
CONNACK.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from provisiontools import ADMIN, ADMIN_PASSWORD, Client, DynsecBroker, dynsec_broker, have_dynsec

from gatehouse.core import ConfigEntryState, Host, ServiceValidationError
from gatehouse.core.testing import add_entry, make_host
from gatehouse.integrations.mqtt.provisioning import provisioner_for
from gatehouse.integrations.mqtt.provisioning.errors import (
    DynsecError,
    DynsecTimeout,
    ProvisioningError,
)

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.timeout(60),
    pytest.mark.skipif(not have_dynsec(), reason="needs Mosquitto's dynamic security plugin"),
]

ROOT = "site/north/sensor/t1"


@pytest.fixture
def broker(tmp_path: Path) -> Any:
    with dynsec_broker(tmp_path / "dynsec") as running:
        yield running


@pytest.fixture
async def provisioning_host(config_dir: Path, broker: DynsecBroker) -> AsyncIterator[Host]:
    host = make_host(config_dir)
    async with host.running():
        entry = await add_entry(host, "mqtt", broker.entry_data())
        assert entry.state is ConfigEntryState.LOADED, entry.reason
        yield host


async def provision(host: Host, name: str, device_type: str = "sensor",
                    site: str = "north") -> dict[str, Any]:
    result = await host.services.call(
        "mqtt", "provision_device", {"name": name, "device_type": device_type, "site": site},
        return_response=True)
    assert isinstance(result, dict)
    return result


async def observer(broker: DynsecBroker) -> Client:
    watcher = Client(broker.port, ADMIN, ADMIN_PASSWORD, client_id="observer")
    assert await watcher.connect() == "Success"
    assert await watcher.subscribe("site/#") == "Granted QoS 1"
    return watcher


async def received_until_marker(watcher: Client, marker_topic: str) -> list[str]:
    """Topics the observer got, up to and including the marker's."""
    topics = []
    while True:
        message = await watcher.next_message()
        topics.append(message.topic)
        if message.topic == marker_topic:
            return topics


async def test_a_password_device_publishes_and_subscribes_only_where_its_role_allows(
    provisioning_host: Host, broker: DynsecBroker
) -> None:
    result = await provision(provisioning_host, "t1")
    assert result["username"] == "t1" and len(result["password"]) >= 24
    assert result["broker"] == {"host": "127.0.0.1", "port": broker.port, "tls": False}
    assert result["topics"]["root"] == ROOT
    assert result["topics"]["publish"] == [f"{ROOT}/#"]
    assert result["topics"]["subscribe"] == [f"{ROOT}/cmd/#"]
    assert json.loads(result["qr_text"])["password"] == result["password"]
    assert result["qr_svg"].startswith("<svg")

    watcher = await observer(broker)
    device = Client(broker.port, "t1", result["password"], client_id="t1")
    try:
        assert await device.connect() == "Success"
        assert await device.publish(f"{ROOT}/temp", b"21.5") == "Success"
        assert await device.publish("site/north/sensor/t2/temp", b"spoof") == "Not authorized"
        assert await device.publish("plant/alarm", b"spoof") == "Not authorized"
        assert await device.publish(f"{ROOT}/cmd/open", b"self") == "Not authorized"
        assert await device.publish(f"{ROOT}/status", b"marker") == "Success"
        assert await received_until_marker(watcher, f"{ROOT}/status") == [
            f"{ROOT}/temp", f"{ROOT}/status"]

        assert await device.subscribe(f"{ROOT}/cmd/#") == "Granted QoS 1"
        assert await device.subscribe("site/north/#") == "Not authorized"
        assert await device.subscribe("site/north/sensor/t2/cmd/#") == "Not authorized"
        assert await device.subscribe("#") == "Not authorized"
    finally:
        device.close()
        watcher.close()


async def test_a_device_receives_commands_on_its_cmd_topic_only(
    provisioning_host: Host, broker: DynsecBroker
) -> None:
    t1 = await provision(provisioning_host, "t1")
    # A commander made with the dynsec client itself: publish anywhere under site/.
    dynsec = provisioner_for(provisioning_host).dynsec
    await dynsec.create_role("test-commander", [
        {"acltype": "publishClientSend", "topic": "site/#", "allow": True, "priority": 0}])
    await dynsec.create_client("commander", "commander-pw", roles=["test-commander"])
    assert (await dynsec.get_client("commander"))["roles"] == [{"rolename": "test-commander"}]

    device = Client(broker.port, "t1", t1["password"], client_id="t1")
    commander = Client(broker.port, "commander", "commander-pw", client_id="commander")
    try:
        assert await device.connect() == "Success"
        assert await commander.connect() == "Success"
        assert await device.subscribe(f"{ROOT}/cmd/#") == "Granted QoS 1"
        assert await commander.publish(f"{ROOT}/cmd/open", b"1") == "Success"
        message = await device.next_message()
        assert (message.topic, message.payload) == (f"{ROOT}/cmd/open", b"1")
    finally:
        device.close()
        commander.close()


async def test_a_revoked_device_is_kicked_and_refused_at_connack(
    provisioning_host: Host, broker: DynsecBroker
) -> None:
    result = await provision(provisioning_host, "t1")
    device = Client(broker.port, "t1", result["password"], client_id="t1")
    again = Client(broker.port, "t1", result["password"], client_id="t1-again")
    try:
        assert await device.connect() == "Success"
        revoked = await provisioning_host.services.call(
            "mqtt", "revoke_device", {"name": "t1"}, return_response=True)
        assert isinstance(revoked, dict) and revoked["status"] == "revoked"
        assert await device.wait_gone(), "the live session was not kicked"
        assert await again.connect() == "Not authorized"
        client = await provisioner_for(provisioning_host).dynsec.get_client("t1")
        assert client.get("disabled") is True and client.get("roles", []) == []
    finally:
        device.close()
        again.close()
    listed = provisioner_for(provisioning_host).registry.get("t1")
    assert listed is not None and listed.status == "revoked"


async def test_plugin_errors_are_reported_in_its_own_words(
    provisioning_host: Host, broker: DynsecBroker
) -> None:
    await provision(provisioning_host, "t1")
    dynsec = provisioner_for(provisioning_host).dynsec
    with pytest.raises(DynsecError, match="Client already exists") as caught:
        await dynsec.create_client("t1", "x")
    assert caught.value.command == "createClient"
    with pytest.raises(ServiceValidationError, match="already provisioned"):
        await provision(provisioning_host, "t1")
    with pytest.raises(ServiceValidationError, match="unknown device type 'pump'"):
        await provision(provisioning_host, "p1", device_type="pump")
    # A name the broker refuses at the plugin level leaves no role behind.
    await dynsec.create_client("taken", "x")
    with pytest.raises(ServiceValidationError, match="Client already exists"):
        await provision(provisioning_host, "taken")
    with pytest.raises(DynsecError, match="Role not found"):
        await dynsec.get_role("gatehouse-dev-taken")
    assert provisioner_for(provisioning_host).registry.get("taken") is None


async def test_no_answer_is_a_clear_timeout(config_dir: Path, broker: DynsecBroker) -> None:
    """A user who may not use $CONTROL gets no answer (MQTT 3.1.1 drops a refused
    publish silently): the error says what to check instead of hanging."""
    host = make_host(config_dir)
    async with host.running():
        dynsec_admin = await add_entry(host, "mqtt", broker.entry_data())
        await provisioner_for(host, dynsec_admin.entry_id).dynsec.create_client(
            "plain", "plain-pw")
        data = {**broker.entry_data(request_timeout=0.5), "username": "plain",
                "password": "plain-pw", "client_id": "plain"}
        plain = await add_entry(host, "mqtt", data)
        assert plain.state is ConfigEntryState.LOADED
        provisioner = provisioner_for(host, plain.entry_id)
        with pytest.raises(DynsecTimeout, match=r"no answer to createRole, createGroup, "
                           r"addGroupRole from .* within 0\.5s: is mosquitto_dynamic_security"):
            await provisioner.provision("x1", "sensor", "north")


async def test_two_wizards_provisioning_one_name_at_once_get_one_device(
    provisioning_host: Host, broker: DynsecBroker
) -> None:
    """Both calls used to pass the "not provisioned yet" check and race on the broker
    (the loser saw the plugin's "Role already exists"); now they take turns."""
    provisioner = provisioner_for(provisioning_host)
    outcomes: list[str] = []

    async def attempt() -> None:
        try:
            await provisioner.provision("twin", "sensor", "north")
            outcomes.append("made")
        except ProvisioningError as err:
            outcomes.append(str(err))

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(attempt)
        tasks.start_soon(attempt)
    assert sorted(outcomes) == ["a device named 'twin' is already provisioned", "made"]
    assert (await provisioner.dynsec.get_client("twin"))["roles"] == [
        {"rolename": "gatehouse-dev-twin"}]


async def test_the_client_commands_take_effect_on_the_broker(
    provisioning_host: Host, broker: DynsecBroker
) -> None:
    """setClientPassword, disableClient/enableClient, addRoleACL, createGroup with
    addGroupRole/addGroupClient, listClients: each observed through a real login."""
    dynsec = provisioner_for(provisioning_host).dynsec
    await dynsec.create_role("extra", [])
    await dynsec.create_client("tool", "first-pw")
    await dynsec.create_group("tools", exist_ok=True)
    await dynsec.create_group("tools", exist_ok=True)  # exist_ok: no error the second time
    await dynsec.add_group_role("tools", "extra")
    await dynsec.add_group_client("tools", "tool")
    assert "tool" in await dynsec.list_clients()
    assert {"groupname": "tools"} in (await dynsec.get_client("tool"))["groups"]

    async def login(password: str, client_id: str) -> tuple[str, Client]:
        client = Client(broker.port, "tool", password, client_id=client_id)
        return await client.connect(), client

    await dynsec.set_client_password("tool", "second-pw")
    outcome, old = await login("first-pw", "a")
    old.close()
    assert outcome == "Not authorized"
    outcome, new = await login("second-pw", "b")
    try:
        assert outcome == "Success"
        assert await new.publish("tools/x", b"1") == "Not authorized"
        await dynsec.add_role_acl("extra", "publishClientSend", "tools/#")
        assert await new.publish("tools/x", b"1") == "Success"  # through the group's role
        await dynsec.disable_client("tool")
        assert await new.wait_gone()
    finally:
        new.close()
    outcome, disabled = await login("second-pw", "c")
    disabled.close()
    assert outcome == "Not authorized"
    await dynsec.enable_client("tool")
    outcome, enabled = await login("second-pw", "d")
    enabled.close()
    assert outcome == "Success"
    await dynsec.delete_client("tool")
    await dynsec.delete_client("tool", missing_ok=True)
    with pytest.raises(DynsecError, match="Client not found"):
        await dynsec.delete_client("tool")


async def test_a_device_that_cannot_be_recorded_is_not_left_on_the_broker(
    provisioning_host: Host, broker: DynsecBroker
) -> None:
    """Provisioned on the broker but not in the device list would be a client nobody
    can revoke from Gatehouse: the client and role are removed again."""
    provisioner = provisioner_for(provisioning_host)
    provisioner.registry.path.parent.mkdir(parents=True, exist_ok=True)
    provisioner.registry.path.mkdir()  # a directory where the file goes: the save fails
    with pytest.raises(ServiceValidationError, match="cannot save the device list"):
        await provision(provisioning_host, "lost")
    assert "lost" not in await provisioner.dynsec.list_clients()
    with pytest.raises(DynsecError, match="Role not found"):
        await provisioner.dynsec.get_role("gatehouse-dev-lost")
    assert provisioner.registry.get("lost") is None
