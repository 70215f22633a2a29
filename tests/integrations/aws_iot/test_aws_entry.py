"""The whole entry against Mosquitto with mTLS and the AWS IoT fake: fleet provisioning
on first boot (once: a restarted host connects with the stored identity), the shadow and
the jobs runner wired to the entry's own connection, and a reload that leaves nothing
behind. The protocol modules are tested alone in test_aws_shadow/_jobs/_provisioning."""

from __future__ import annotations

import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from awsfake import FakeAwsIot
from awstools import PROVISIONED_THING, THING, AwsCerts, aws_entry_data

from gatehouse.core import ConfigEntry, ConfigEntryState, Host, ServiceCall
from gatehouse.core.testing import (
    Mosquitto,
    add_entry,
    make_host,
    make_pki,
    state_of,
    wait_until,
)
from gatehouse.integrations.aws_iot.runtime import AwsIotRuntime, store_dir

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]
pytest_plugins = ["awstools"]

PACKAGES = {"aws_iot": "gatehouse.integrations.aws_iot"}


@pytest.fixture
async def aws_host(config_dir: Path, aws_broker: Mosquitto) -> AsyncIterator[Host]:
    """A host that stops before the broker does (set up after it)."""
    host = make_host(config_dir, packages=PACKAGES)
    async with host.running():
        add_switch_services(host)
        yield host


def add_switch_services(host: Host) -> None:
    """``switch.turn_on``/``turn_off`` that set the state (a switch platform stand-in)."""

    async def turn(call: ServiceCall) -> None:
        host.states.set(call.data["entity_id"], "on" if call.service == "turn_on" else "off")

    host.services.register("switch", "turn_on", turn)
    host.services.register("switch", "turn_off", turn)


def runtime_of(entry: ConfigEntry[Any]) -> AwsIotRuntime:
    assert entry.state is ConfigEntryState.LOADED, entry.reason
    runtime: AwsIotRuntime = entry.runtime_data
    return runtime


def provisions(fake: FakeAwsIot) -> int:
    return len(fake.messages(topic_prefix="$aws/certificates/create/json"))


async def test_fleet_provisioning_once_then_the_stored_identity(
    config_dir: Path, aws_broker: Mosquitto, aws_certs: AwsCerts, aws_fake: FakeAwsIot
) -> None:
    data = aws_entry_data(aws_broker, aws_certs, provisioning=True, fast=True,
                          telemetry={"include": {"entities": ["sensor.first"]}})
    host = make_host(config_dir, packages=PACKAGES)
    async with host.running():
        entry = await add_entry(host, "aws_iot", data)
        runtime = runtime_of(entry)
        host.states.set("sensor.first", "1")  # queued before the thing name is known
        await wait_until(lambda: runtime.connected, timeout=15)
        assert runtime.thing_name == PROVISIONED_THING
        directory = store_dir(host, entry.entry_id)
        for name in ("certificate.pem.crt", "private.pem.key"):
            assert stat.S_IMODE((directory / name).stat().st_mode) == 0o600
        assert provisions(aws_fake) == 1
        topic = f"gatehouse/{PROVISIONED_THING}/sensor/first"
        await aws_fake.wait_for(lambda: aws_fake.messages(topic_prefix=topic))
        entry_id = entry.entry_id

    restarted = make_host(config_dir, packages=PACKAGES)
    async with restarted.running():
        entry = restarted.config_entries.get(entry_id)
        runtime = runtime_of(entry)
        await wait_until(lambda: runtime.connected, timeout=10)
        assert runtime.thing_name == PROVISIONED_THING
        assert runtime.connection is not None
        assert runtime.connection.credentials.certificate.startswith(str(directory))
    assert provisions(aws_fake) == 1  # the fake saw no second provisioning


async def test_fleet_provisioning_with_a_csr_keeps_the_key_here(
    aws_host: Host, aws_broker: Mosquitto, aws_certs: AwsCerts, aws_fake: FakeAwsIot
) -> None:
    data = aws_entry_data(aws_broker, aws_certs, provisioning=True, fast=True)
    data["provisioning"]["csr"] = True
    entry = await add_entry(aws_host, "aws_iot", data)
    runtime = runtime_of(entry)
    await wait_until(lambda: runtime.connected, timeout=15)
    assert runtime.thing_name == PROVISIONED_THING
    assert aws_fake.messages(topic_prefix="$aws/certificates/create-from-csr/json")
    assert provisions(aws_fake) == 0  # CreateKeysAndCertificate never asked


async def test_a_refused_provisioning_is_the_entrys_problem(
    aws_host: Host, aws_broker: Mosquitto, aws_certs: AwsCerts, aws_fake: FakeAwsIot
) -> None:
    data = aws_entry_data(aws_broker, aws_certs, provisioning=True, fast=True)
    data["provisioning"]["template_name"] = "no-such-template"
    entry = await add_entry(aws_host, "aws_iot", data)
    runtime = runtime_of(entry)
    await wait_until(lambda: runtime.problem() is not None, timeout=15)
    assert "fleet provisioning" in (runtime.problem() or "")
    assert state_of(aws_host, "binary_sensor.aws_iot_problem") == "on"
    assert not runtime.connected


async def test_the_shadow_runs_on_the_entrys_connection(
    aws_host: Host, aws_broker: Mosquitto, aws_certs: AwsCerts, aws_fake: FakeAwsIot
) -> None:
    aws_host.states.set("switch.pump", "off")
    entry = await add_entry(aws_host, "aws_iot", aws_entry_data(
        aws_broker, aws_certs, fast=True, shadow={"mapping": {"pump": "switch.pump"}}))
    runtime_of(entry)
    await aws_fake.wait_for(lambda: aws_fake.requests_for(THING, "get"))
    await aws_fake.wait_for(
        lambda: (aws_fake.shadow(THING) or {}).get("state", {}).get("reported") == {"pump": False}
    )
    aws_fake.set_desired(THING, {"pump": True})
    await wait_until(lambda: state_of(aws_host, "switch.pump") == "on", timeout=10)
    await aws_fake.wait_for(
        lambda: "delta" not in (aws_fake.shadow(THING) or {"state": {"delta": 1}})["state"]
    )


async def test_jobs_run_only_allowed_services(
    aws_host: Host, aws_broker: Mosquitto, aws_certs: AwsCerts, aws_fake: FakeAwsIot
) -> None:
    aws_host.states.set("switch.porch", "off")
    entry = await add_entry(aws_host, "aws_iot", aws_entry_data(
        aws_broker, aws_certs, fast=True, shadow={"enabled": False},
        jobs={"allowed_services": ["switch.turn_on"]}))
    runtime_of(entry)
    aws_fake.add_job(THING, "allowed", {"operation": "gatehouse.service",
                                        "service": "switch.turn_on",
                                        "data": {"entity_id": "switch.porch"}})
    aws_fake.add_job(THING, "other", {"operation": "gatehouse.service",
                                      "service": "switch.turn_off",
                                      "data": {"entity_id": "switch.porch"}})

    def status(job_id: str) -> str | None:
        job = aws_fake.job(THING, job_id)
        return job.status if job is not None else None

    await aws_fake.wait_for(lambda: status("allowed") == "SUCCEEDED" and
                            status("other") == "REJECTED", timeout=10)
    assert state_of(aws_host, "switch.porch") == "on"
    rejected = aws_fake.job(THING, "other")
    assert rejected is not None and "switch.turn_off" in rejected.status_details["reason"]
    allowed = aws_fake.job(THING, "allowed")
    assert allowed is not None and "IN_PROGRESS" in [s for s, _ in allowed.history]


async def test_reload_and_unload_leave_nothing_behind(
    aws_host: Host, aws_broker: Mosquitto, aws_certs: AwsCerts, aws_fake: FakeAwsIot
) -> None:
    entry = await add_entry(aws_host, "aws_iot", aws_entry_data(
        aws_broker, aws_certs, fast=True, shadow={"mapping": {"pump": "switch.pump"}}))
    first = runtime_of(entry)
    await aws_host.config_entries.reload(entry.entry_id)
    second = runtime_of(entry)
    assert second is not first and first.connection is not None
    assert first.connection.closed
    assert second.connected
    await aws_host.config_entries.unload(entry.entry_id)
    assert second.connection is not None and second.connection.closed
    assert not aws_host.services.has("aws_iot", "publish")


async def test_a_claim_the_endpoint_refuses_is_the_entrys_problem(
    aws_host: Host, aws_broker: Mosquitto, aws_certs: AwsCerts, aws_fake: FakeAwsIot,
    tmp_path: Path,
) -> None:
    """A claim certificate from a CA the endpoint does not know: TLS is refused on every
    try, which waiting cannot fix, so it is shown at once (not only in the log)."""
    rogue = make_pki(tmp_path / "rogue", client_names=("rogue",)).client("rogue")
    data = aws_entry_data(aws_broker, aws_certs, provisioning=True, fast=True)
    data["provisioning"].update(claim_certificate=str(rogue.cert),
                                claim_private_key=str(rogue.key))
    entry = await add_entry(aws_host, "aws_iot", data)
    runtime = runtime_of(entry)
    await wait_until(lambda: runtime.problem() is not None, timeout=10)
    problem = runtime.problem() or ""
    assert "claim certificate" in problem
    assert "refused" in problem or "before CONNACK" in problem
    assert state_of(aws_host, "binary_sensor.aws_iot_problem") == "on"
    assert provisions(aws_fake) == 0


async def test_the_shadow_include_selects_but_never_the_entrys_own_entities(
    aws_host: Host, aws_broker: Mosquitto, aws_certs: AwsCerts, aws_fake: FakeAwsIot
) -> None:
    aws_host.states.set("sensor.temp", "21")
    entry = await add_entry(aws_host, "aws_iot", aws_entry_data(
        aws_broker, aws_certs, fast=True, shadow={"include": {"domains": ["sensor"]}}))
    runtime = runtime_of(entry)
    assert any(e.startswith("sensor.aws_iot_outbox") for e in runtime.own_entities)
    await aws_fake.wait_for(
        lambda: (aws_fake.shadow(THING) or {}).get("state", {}).get("reported")
    )
    shadow = aws_fake.shadow(THING)
    assert shadow is not None
    assert shadow["state"]["reported"] == {"sensor.temp": 21}


async def test_a_yaml_section_makes_a_loaded_entry(
    aws_host: Host, aws_broker: Mosquitto, aws_certs: AwsCerts, aws_fake: FakeAwsIot
) -> None:
    """What boot does with ``aws_iot:`` in configuration.yaml (bootstrap's sync_yaml)."""
    from gatehouse.integrations.aws_iot import INTEGRATION
    from gatehouse.integrations.aws_iot.config import CONFIG_SCHEMA

    section = CONFIG_SCHEMA([aws_entry_data(aws_broker, aws_certs, fast=True, name="Plant")])
    await aws_host.config_entries.sync_yaml("aws_iot", INTEGRATION.entries_from_yaml(section))
    [entry] = [e for e in aws_host.config_entries.entries() if e.domain == "aws_iot"]
    assert await aws_host.config_entries.setup(entry.entry_id)  # boot's setup_all
    runtime = runtime_of(entry)
    await wait_until(lambda: runtime.connected, timeout=5)
    assert state_of(aws_host, "binary_sensor.plant_connected") == "on"
