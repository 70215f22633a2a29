"""Security against a real server offering only Basic256Sha256 / Aes128Sha256RsaOaep and
requiring a user: certificate trust (refused, trusted by copying, trust on first use),
our generated client certificate, and username / X509 user authentication."""

from __future__ import annotations

import shutil
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
from opcua_helpers import SYNC, AddEntry, Sim, node, serving, trust, wait_state

from gatehouse.core import ConfigEntryState, Host
from gatehouse.core.testing import free_port
from gatehouse.integrations.simulator.opcua_server import USER_CERTS_DIR, OpcuaSimulator
from gatehouse.integrations.simulator.process import ProcessModel

pytestmark = pytest.mark.anyio

USERS = {"operator": "s3cret"}
OPERATOR = {"auth": "username", "username": "operator", "password": "s3cret"}
SECURE = {"security_policy": "Basic256Sha256", "security_mode": "SignAndEncrypt"}


@pytest.fixture(scope="module")
async def secure_sim(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Sim]:
    certs = tmp_path_factory.mktemp("sim-certs")
    process = ProcessModel()
    simulator = OpcuaSimulator(
        process, certs_dir=certs, security=True, users=USERS, step=False, update_interval=SYNC
    )
    async with serving(Sim(simulator, process, free_port(), certs)) as running:
        yield running


async def test_untrusted_server_certificate_is_refused_naming_the_file_to_copy(
    host: Host, config_dir: Path, secure_sim: Sim, add_entry: AddEntry
) -> None:
    secure_sim.process.tank_level = 48.0
    entry = await add_entry(
        secure_sim.endpoint, [node("Tank.Level", "sensor")], **SECURE, **OPERATOR
    )
    assert entry.state is ConfigEntryState.SETUP_ERROR
    rejected = list((config_dir / "opcua" / "rejected").glob("*.der"))
    assert len(rejected) == 1
    assert rejected[0].read_bytes() == secure_sim.server_cert.read_bytes()
    reason = entry.reason or ""
    assert "is not trusted" in reason
    assert f"copy {rejected[0]} into {config_dir / 'opcua' / 'trusted'}/" in reason

    # The client certificate was generated on first use, its key private to us.
    cert = config_dir / "opcua" / "client_cert.der"
    key = config_dir / "opcua" / "client_key.pem"
    assert cert.exists() and key.exists()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    first_cert = cert.read_bytes()

    # What the user does: copy the rejected file into trusted/, then reload.
    trust(config_dir, rejected[0])
    assert await host.config_entries.reload(entry.entry_id)
    await wait_state(host, "sensor.plant_tank_level", "48.0")
    assert entry.runtime_data.client.ua_client.security_policy.Mode.name == "SignAndEncrypt"
    assert cert.read_bytes() == first_cert  # reused, not regenerated


async def test_trust_on_first_use_pins_the_first_certificate_and_refuses_a_change(
    host: Host, config_dir: Path, secure_sim: Sim, add_entry: AddEntry
) -> None:
    secure_sim.process.tank_level = 49.0
    entry = await add_entry(
        secure_sim.endpoint, [node("Tank.Level", "sensor")],
        trust_on_first_use=True, **SECURE, **OPERATOR,
    )
    assert entry.state is ConfigEntryState.LOADED, entry.reason
    await wait_state(host, "sensor.plant_tank_level", "49.0")
    pins = list((config_dir / "opcua" / "trusted").glob("tofu_*.der"))
    assert [p.read_bytes() for p in pins] == [secure_sim.server_cert.read_bytes()]

    # Another certificate pinned for this endpoint: the server's no longer matches.
    shutil.copy(config_dir / "opcua" / "client_cert.der", pins[0])
    assert not await host.config_entries.reload(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert "certificate of" in (entry.reason or "") and "changed" in (entry.reason or "")


async def test_aes128_sign_mode_works(
    host: Host, config_dir: Path, secure_sim: Sim, add_entry: AddEntry
) -> None:
    trust(config_dir, secure_sim.server_cert)
    secure_sim.process.valve_setpoint = 12.0
    entry = await add_entry(
        secure_sim.endpoint, [node("Valve.Setpoint", "number")],
        security_policy="Aes128Sha256RsaOaep", security_mode="Sign", **OPERATOR,
    )
    assert entry.state is ConfigEntryState.LOADED, entry.reason
    await wait_state(host, "number.plant_valve_setpoint", "12.0")
    await host.services.call(
        "number", "set_value", {"entity_id": "number.plant_valve_setpoint", "value": 13}
    )
    assert secure_sim.process.valve_setpoint == 13.0


@pytest.mark.parametrize(
    "credentials",
    [
        {"auth": "username", "username": "operator", "password": "wrong"},
        {"auth": "anonymous"},
    ],
    ids=["wrong-password", "anonymous"],
)
async def test_refused_credentials_are_an_auth_failure(
    host: Host, config_dir: Path, secure_sim: Sim, add_entry: AddEntry,
    credentials: dict[str, str],
) -> None:
    trust(config_dir, secure_sim.server_cert)
    entry = await add_entry(secure_sim.endpoint, **SECURE, **credentials)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert "refused our identity" in (entry.reason or "")


async def test_x509_user_authentication_with_our_certificate(
    host: Host, config_dir: Path, secure_sim: Sim, add_entry: AddEntry
) -> None:
    trust(config_dir, secure_sim.server_cert)
    entry = await add_entry(secure_sim.endpoint, auth="certificate", **SECURE)
    assert entry.state is ConfigEntryState.SETUP_ERROR  # the server does not know us yet
    assert "BadUserAccessDenied" in (entry.reason or "")

    # The server's administrator accepts our application certificate as a user.
    user_certs = secure_sim.certs_dir / USER_CERTS_DIR  # type: ignore[operator]
    user_certs.mkdir(exist_ok=True)
    shutil.copy(config_dir / "opcua" / "client_cert.der", user_certs / "gatehouse.der")
    try:
        assert await host.config_entries.reload(entry.entry_id), entry.reason
    finally:
        shutil.rmtree(user_certs)


async def test_config_flow_shows_the_certificate_to_trust(
    host: Host, config_dir: Path, secure_sim: Sim, add_entry: AddEntry
) -> None:
    form = await host.config_entries.flow.init("opcua")
    user_input = {"name": "Secure", "endpoint": secure_sim.endpoint, **SECURE, **OPERATOR}
    refused = await host.config_entries.flow.configure(form["flow_id"], user_input)
    assert refused["type"] == "form"
    assert refused["errors"] == {"base": "untrusted_server_certificate"}
    rejected = anyio.Path(refused["description_placeholders"]["certificate"])
    assert await rejected.read_bytes() == secure_sim.server_cert.read_bytes()

    trust(config_dir, Path(rejected))
    done = await host.config_entries.flow.configure(form["flow_id"], user_input)
    assert done["type"] == "create_entry"
    assert host.config_entries.get(done["entry_id"]).state is ConfigEntryState.LOADED
