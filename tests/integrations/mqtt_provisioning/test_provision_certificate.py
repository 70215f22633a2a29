"""The certificate path against a real Mosquitto: house CA, TLS listener, CRL.

The broker's TLS listener is signed by the config dir's CA (``gatehouse certs``),
demands client certificates and takes the CN as the username
(``use_identity_as_username``), and reads the CA's CRL (``crlfile``). A device
provisioned with ``auth: certificate`` connects with the certificate from its result
and is held to its role like a password device; revoking it disables its broker client
(kicking the session), revokes the certificate, rewrites the CRL and sends the broker
SIGHUP, after which the same certificate no longer gets through the TLS handshake.
"""

from __future__ import annotations

import io
import json
import zipfile
from base64 import b64decode
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from provisiontools import Client, DynsecBroker, device_tls, dynsec_broker, have_dynsec

from gatehouse.core import ConfigEntryState, Host
from gatehouse.core.helpers import certificate_authority
from gatehouse.core.testing import add_entry, make_host, wait_until
from gatehouse.integrations.mqtt.provisioning import provisioner_for

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.timeout(90),
    pytest.mark.skipif(not have_dynsec(), reason="needs Mosquitto's dynamic security plugin"),
]

ROOT = "site/south/actuator/v1"


@pytest.fixture
def broker(tmp_path: Path, config_dir: Path) -> Any:
    with dynsec_broker(tmp_path / "dynsec", config_dir) as running:
        yield running


@pytest.fixture
async def provisioning_host(config_dir: Path, broker: DynsecBroker) -> AsyncIterator[Host]:
    host = make_host(config_dir)
    async with host.running():
        entry = await add_entry(host, "mqtt", broker.entry_data())
        assert entry.state is ConfigEntryState.LOADED, entry.reason
        yield host


async def test_a_certificate_device_is_held_to_its_role_and_locked_out_once_revoked(
    provisioning_host: Host, broker: DynsecBroker, config_dir: Path, tmp_path: Path
) -> None:
    assert broker.ca_file is not None
    result = await provisioning_host.services.call(
        "mqtt", "provision_device",
        {"name": "v1", "device_type": "actuator", "site": "south", "auth": "certificate"},
        return_response=True)
    assert isinstance(result, dict)
    assert result["password"] is None and "password" not in result["qr_text"]
    assert result["broker"] == {"host": "127.0.0.1", "port": broker.mosquitto.tls_port,
                                "tls": True}
    cert = result["certificate"]
    assert "BEGIN CERTIFICATE" in cert["cert_pem"] and "PRIVATE KEY" in cert["key_pem"]
    bundle = zipfile.ZipFile(io.BytesIO(b64decode(result["bundle"]["base64"])))
    assert sorted(bundle.namelist()) == ["ca.pem", "config.json", "device.crt", "device.key"]
    assert bundle.read("ca.pem") == broker.ca_file.read_bytes()
    config = json.loads(bundle.read("config.json"))
    assert config["username"] == "v1" and config["topics"]["root"] == ROOT
    assert config["limits"] == {"max_qos": 2, "retain": True}

    tls = device_tls(broker.ca_file, cert["cert_pem"], cert["key_pem"], tmp_path)
    device = Client(broker.mosquitto.tls_port, None, client_id="v1", tls=tls)
    again = Client(broker.mosquitto.tls_port, None, client_id="v1-again", tls=tls)
    try:
        assert await device.connect() == "Success"
        assert await device.publish(f"{ROOT}/state", b"open") == "Success"
        assert await device.publish("site/south/actuator/v2/state", b"x") == "Not authorized"
        assert await device.subscribe(f"{ROOT}/cmd/#") == "Granted QoS 1"
        assert await device.subscribe("site/#") == "Not authorized"

        revoked = await provisioner_for(provisioning_host).revoke("v1")
        assert revoked["status"] == "revoked"
        assert any("told to reload" in note for note in revoked["notes"]), revoked["notes"]
        assert await device.wait_gone(), "the live session was not kicked"
        infos = {i.serial: i for i in certificate_authority(config_dir).list()}
        assert infos[cert["serial"]].revoked
        # The broker re-reads the CRL on SIGHUP, in its next loop turn.
        await wait_until(lambda: "Reloading config" in broker.mosquitto.log_text(),
                         message="the broker never reloaded")
        outcome = await again.connect()
        assert outcome == "connection closed before CONNACK", outcome
    finally:
        device.close()
        again.close()
    assert "certificate verify failed" in broker.mosquitto.log_text()


async def test_certificate_without_a_ca_is_refused_clearly(
    config_dir: Path, tmp_path: Path
) -> None:
    with dynsec_broker(tmp_path / "plain") as broker:
        host = make_host(config_dir)
        async with host.running():
            await add_entry(host, "mqtt", broker.entry_data())
            with pytest.raises(Exception, match="gatehouse certs init-ca"):
                await provisioner_for(host).provision("c1", "sensor", "north", "certificate")
            # Nothing was made on the broker.
            assert "c1" not in await provisioner_for(host).dynsec.list_clients()


async def test_without_a_broker_reload_a_revoked_certificate_gets_in_but_may_do_nothing(
    config_dir: Path, broker: DynsecBroker, tmp_path: Path
) -> None:
    """No ``broker_pid_file``: the CRL waits for the broker's next reload, and
    Mosquitto does not ask the plugin about a certificate identity at CONNECT, so the
    device still connects; the revocation says so, and without its role the device
    may neither publish nor subscribe."""
    assert broker.ca_file is not None
    data = broker.entry_data()
    del data["provisioning"]["broker_pid_file"]
    host = make_host(config_dir)
    async with host.running():
        await add_entry(host, "mqtt", data)
        made = await provisioner_for(host).provision("v2", "actuator", "south", "certificate")
        cert = made["certificate"]
        revoked = await provisioner_for(host).revoke("v2")
        assert "no broker_pid_file: the broker reads the CRL at its next reload" in \
            revoked["notes"]
        tls = device_tls(broker.ca_file, cert["cert_pem"], cert["key_pem"], tmp_path)
        device = Client(broker.mosquitto.tls_port, None, client_id="v2", tls=tls)
        try:
            assert await device.connect() == "Success"
            root = made["topics"]["root"]
            assert await device.publish(f"{root}/state", b"x") == "Not authorized"
            assert await device.subscribe(f"{root}/cmd/#") == "Not authorized"
        finally:
            device.close()
