"""Tag encryption at rest for AWS IoT telemetry (the outbox file while the endpoint is away).

Regression: telemetry was queued without an entity id, so a sensitive entity's state
sat in the outbox file in clear. Now per-state documents are bound to their entity and
a batch leaves a sensitive entity's state in a document of its own; both are stored
encrypted and reach AWS in clear (the wire is TLS to AWS; ``publish`` envelopes are
for the brokers we publish statestream to)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from awsfake import FakeAwsIot
from awstools import THING, AwsCerts, aws_entry_data

from gatehouse.core import ConfigEntryState, Host
from gatehouse.core.crypto import configure_encryption
from gatehouse.core.testing import Mosquitto, add_entry, make_host, wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]
pytest_plugins = ["awstools"]

PACKAGES = {"aws_iot": "gatehouse.integrations.aws_iot"}
NO_SHADOW: dict[str, Any] = {"shadow": {"enabled": False}, "jobs": {"enabled": False}}
QUICK: dict[str, Any] = {
    "reconnect_max_delay": 0.3,
    "outbox": {"retry_initial": 0.05, "retry_max": 0.3, "breaker_threshold": 1000},
}
SECRET = "RECIPE-4711"


@pytest.fixture
async def aws_host(config_dir: Path, aws_broker: Mosquitto) -> AsyncIterator[Host]:
    host = make_host(config_dir, packages=PACKAGES)
    async with host.running():
        configure_encryption(host, {"sensitive": {"include": {"entities": ["sensor.recipe"]}}})
        yield host


def outbox_bytes(host: Host) -> bytes:
    return b"".join(p.read_bytes() for p in (host.config_dir / ".storage").glob("outbox*"))


@pytest.mark.parametrize("mode", ["per_entity", "batched"])
async def test_a_sensitive_state_waits_encrypted_and_reaches_aws(
    aws_host: Host, aws_broker: Mosquitto, aws_certs: AwsCerts, aws_fake: FakeAwsIot,
    mode: str,
) -> None:
    aws_broker.stop()
    telemetry: dict[str, Any] = {"include": {"domains": ["sensor"]}, "mode": mode}
    if mode == "batched":
        telemetry["interval"] = 0.2
    entry = await add_entry(aws_host, "aws_iot", aws_entry_data(
        aws_broker, aws_certs, fast=True, telemetry=telemetry, **NO_SHADOW, **QUICK))
    assert entry.state is ConfigEntryState.LOADED, entry.reason
    aws_host.states.set("sensor.recipe", SECRET)
    aws_host.states.set("sensor.tank", "TANK-12")
    # The control (an unlisted entity, stored as it is) was queued after the secret and
    # commits are in order: once it is in the file, so is the secret's row.
    await wait_until(lambda: b"TANK-12" in outbox_bytes(aws_host), timeout=10)
    assert SECRET.encode() not in outbox_bytes(aws_host)

    aws_broker.start()
    await aws_fake.wait_for(lambda: any(
        SECRET.encode() in m.payload for m in aws_fake.messages(THING, "gatehouse/")),
        timeout=20)
    arrived = [json.loads(m.payload) for m in aws_fake.messages(THING, "gatehouse/")
               if SECRET.encode() in m.payload]
    if mode == "batched":
        assert list(arrived[0]["states"]) == ["sensor.recipe"]  # alone in its document
    else:
        assert arrived[0]["state"] == SECRET
