"""Telemetry (telemetry.py, sender.py) through the outbox to the AWS IoT fake: the shared
entity filter selects, the topic template or the batched document shapes, the entry
loads with the endpoint down and replays in order once it is up, alarms (priority
rules) overtake the backlog, ``aws_iot.publish`` goes through the outbox too."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from awsfake import FakeAwsIot
from awstools import THING, AwsCerts, aws_entry_data

from gatehouse.core import ConfigEntry, ConfigEntryState, Host
from gatehouse.core.testing import Mosquitto, add_entry, make_host, state_of, wait_until
from gatehouse.integrations.aws_iot.runtime import AwsIotRuntime

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]
pytest_plugins = ["awstools"]

PACKAGES = {"aws_iot": "gatehouse.integrations.aws_iot"}
NO_SHADOW: dict[str, Any] = {"shadow": {"enabled": False}, "jobs": {"enabled": False}}
#: Quick retries once the endpoint is back (the defaults wait up to 30 s and 10 s).
QUICK: dict[str, Any] = {
    "reconnect_max_delay": 0.3,
    "outbox": {"retry_initial": 0.05, "retry_max": 0.3, "breaker_threshold": 1000},
}
PREFIX = f"gatehouse/{THING}/"


@pytest.fixture
async def aws_host(config_dir: Path, aws_broker: Mosquitto) -> AsyncIterator[Host]:
    """A host that stops before the broker does (set up after it)."""
    host = make_host(config_dir, packages=PACKAGES)
    async with host.running():
        yield host


async def load(host: Host, data: dict[str, Any]) -> tuple[ConfigEntry[Any], AwsIotRuntime]:
    entry = await add_entry(host, "aws_iot", data)
    assert entry.state is ConfigEntryState.LOADED, entry.reason
    runtime: AwsIotRuntime = entry.runtime_data
    return entry, runtime


def bodies(fake: FakeAwsIot, topic: str) -> list[Any]:
    return [json.loads(m.payload) for m in fake.messages(THING, topic)]


async def test_selected_states_go_to_the_topic_template(
    aws_host: Host, aws_broker: Mosquitto, aws_certs: AwsCerts, aws_fake: FakeAwsIot
) -> None:
    await load(aws_host, aws_entry_data(aws_broker, aws_certs, fast=True, telemetry={
        "include": {"domains": ["sensor"]}, "exclude": {"entities": ["sensor.private"]},
        "attributes": True,
    }, **NO_SHADOW))
    aws_host.states.set("switch.pump", "on")
    aws_host.states.set("sensor.private", "1")
    aws_host.states.set("sensor.temp", "21.5", {"unit_of_measurement": "°C"})
    await aws_fake.wait_for(lambda: bodies(aws_fake, f"{PREFIX}sensor/temp"))
    [body] = bodies(aws_fake, f"{PREFIX}sensor/temp")
    assert body["entity_id"] == "sensor.temp" and body["state"] == "21.5"
    assert body["attributes"] == {"unit_of_measurement": "°C"}
    assert not aws_fake.messages(THING, f"{PREFIX}sensor/private")
    assert not aws_fake.messages(THING, f"{PREFIX}switch/")


async def test_a_custom_topic_template(
    aws_host: Host, aws_broker: Mosquitto, aws_certs: AwsCerts, aws_fake: FakeAwsIot
) -> None:
    await load(aws_host, aws_entry_data(aws_broker, aws_certs, fast=True, telemetry={
        "include": {"entities": ["sensor.flow"]}, "topic": "dt/{thing}/{object_id}",
    }, **NO_SHADOW))
    aws_host.states.set("sensor.flow", "3")
    await aws_fake.wait_for(lambda: aws_fake.messages(THING, f"dt/{THING}/flow"))


async def test_batched_mode_sends_one_document_per_interval(
    aws_host: Host, aws_broker: Mosquitto, aws_certs: AwsCerts, aws_fake: FakeAwsIot
) -> None:
    await load(aws_host, aws_entry_data(aws_broker, aws_certs, fast=True, telemetry={
        "include": {"domains": ["sensor"]}, "mode": "batched", "interval": 0.3,
    }, **NO_SHADOW))
    for n in range(50):
        aws_host.states.set(f"sensor.s{n % 5}", n)
    topic = f"{PREFIX}telemetry"
    await aws_fake.wait_for(lambda: bodies(aws_fake, topic))
    documents = bodies(aws_fake, topic)
    assert len(documents) <= 2  # 50 changes, one interval (two if it fell on a tick)
    latest: dict[str, str] = {}
    for document in documents:
        assert document["thing"] == THING
        latest.update({k: v["state"] for k, v in document["states"].items()})
    assert latest == {f"sensor.s{i}": str(45 + i) for i in range(5)}


async def test_loads_with_the_endpoint_down_and_replays_in_order(
    aws_host: Host, aws_broker: Mosquitto, aws_certs: AwsCerts, aws_fake: FakeAwsIot
) -> None:
    aws_broker.stop()
    entry, runtime = await load(aws_host, aws_entry_data(aws_broker, aws_certs, fast=True,
                                                         telemetry={
        "include": {"domains": ["sensor", "binary_sensor"]},
        "priority": [{"priority": "high", "include": {"domains": ["binary_sensor"]}}],
    }, **NO_SHADOW, **QUICK))
    assert not runtime.connected
    assert state_of(aws_host, "binary_sensor.aws_iot_connected") == "off"
    for n in range(30):
        aws_host.states.set("sensor.count", n)
    aws_host.states.set("binary_sensor.smoke", "on")
    assert runtime.outbox is not None
    outbox = runtime.outbox
    await wait_until(lambda: outbox.stats().depth == 31, timeout=5)
    assert outbox.stats().high_priority_depth == 1

    aws_broker.start()
    await aws_fake.wait_for(
        lambda: len(aws_fake.messages(THING, f"{PREFIX}sensor/count")) >= 30, timeout=20
    )
    counts = [int(b["state"]) for b in bodies(aws_fake, f"{PREFIX}sensor/count")]
    assert list(dict.fromkeys(counts)) == list(range(30))  # first arrivals in order
    everything = [m.topic for m in aws_fake.messages(THING, PREFIX)]
    # The alarm queued last left first.
    assert everything[0] == f"{PREFIX}binary_sensor/smoke"
    await wait_until(lambda: state_of(aws_host, "binary_sensor.aws_iot_connected") == "on",
                     timeout=5)
    assert entry.state is ConfigEntryState.LOADED


async def test_the_publish_service_goes_through_the_outbox(
    aws_host: Host, aws_broker: Mosquitto, aws_certs: AwsCerts, aws_fake: FakeAwsIot
) -> None:
    _, runtime = await load(aws_host, aws_entry_data(aws_broker, aws_certs, fast=True,
                                                     **NO_SHADOW))
    await aws_host.services.call("aws_iot", "publish",
                                 {"topic": f"{PREFIX}events", "payload": '{"door":"open"}'})
    await aws_fake.wait_for(lambda: aws_fake.messages(THING, f"{PREFIX}events"))
    assert aws_fake.messages(THING, f"{PREFIX}events")[0].payload == b'{"door":"open"}'
    await wait_until(lambda: runtime.sender.acked >= 1, timeout=5)  # PUBACK came back


async def test_nothing_is_sent_without_a_selection(
    aws_host: Host, aws_broker: Mosquitto, aws_certs: AwsCerts, aws_fake: FakeAwsIot
) -> None:
    _, runtime = await load(aws_host, aws_entry_data(aws_broker, aws_certs, fast=True,
                                                     **NO_SHADOW))
    aws_host.states.set("sensor.temp", "1")
    await aws_host.services.call("aws_iot", "publish", {"topic": f"{PREFIX}marker"})
    await aws_fake.wait_for(lambda: aws_fake.messages(THING, f"{PREFIX}marker"))
    assert not aws_fake.messages(THING, f"{PREFIX}sensor/")
    assert runtime.telemetry is not None and runtime.telemetry.queued == 0


async def test_over_128_kb_is_never_queued_and_batches_split_under_it(
    aws_host: Host, aws_broker: Mosquitto, aws_certs: AwsCerts, aws_fake: FakeAwsIot
) -> None:
    _, runtime = await load(aws_host, aws_entry_data(aws_broker, aws_certs, fast=True,
                                                     telemetry={
        "include": {"domains": ["sensor"]}, "attributes": True,
    }, **NO_SHADOW))
    assert runtime.telemetry is not None
    aws_host.states.set("sensor.huge", "1", {"blob": "x" * (130 * 1024)})
    assert runtime.telemetry.too_large == 1
    assert runtime.outbox is not None and runtime.outbox.stats().depth == 0

    batched = await add_entry(aws_host, "aws_iot", aws_entry_data(
        aws_broker, aws_certs, fast=True, name="Batched", thing_name="gh-batched",
        telemetry={"include": {"entity_globs": ["sensor.part_*"]}, "attributes": True,
                   "mode": "batched", "interval": 0.2}, **NO_SHADOW))
    assert batched.state is ConfigEntryState.LOADED, batched.reason
    for n in range(12):  # 12 x 30 KB: three documents at least
        aws_host.states.set(f"sensor.part_{n}", n, {"blob": "y" * (30 * 1024)})
    topic = "gatehouse/gh-batched/telemetry"
    await aws_fake.wait_for(
        lambda: sum(len(json.loads(m.payload)["states"])
                    for m in aws_fake.messages(topic_prefix=topic)) >= 12, timeout=10)
    documents = aws_fake.messages(topic_prefix=topic)
    assert len(documents) >= 3
    assert all(len(m.payload) <= 128 * 1024 for m in documents)
    assert not aws_fake.limit_violations()


async def test_a_low_rate_cuts_batches_instead_of_timing_out(
    aws_host: Host, aws_broker: Mosquitto, aws_certs: AwsCerts, aws_fake: FakeAwsIot
) -> None:
    """At 10 publishes/s a batch of 10 takes 1 s, past a 0.8 s send_timeout: the whole
    batch was retried (acknowledged messages sent again) and timed out again, for ever.
    Now the sender stops at half the timeout and the rest leads the next batch."""
    aws_broker.stop()
    _, runtime = await load(aws_host, aws_entry_data(aws_broker, aws_certs, fast=True,
                                                     max_publish_rate=10, telemetry={
        "include": {"entities": ["sensor.slow"]},
    }, outbox={"send_timeout": 0.8, "batch_size": 100, "retry_initial": 0.05,
               "retry_max": 0.2}, reconnect_max_delay=0.3, **NO_SHADOW))
    for n in range(10):
        aws_host.states.set("sensor.slow", n)
    assert runtime.outbox is not None
    outbox = runtime.outbox
    await wait_until(lambda: outbox.stats().depth == 10, timeout=5)
    aws_broker.start()
    await aws_fake.wait_for(
        lambda: len(aws_fake.messages(THING, f"{PREFIX}sensor/slow")) >= 10, timeout=15)
    await wait_until(lambda: outbox.stats().depth == 0, timeout=5)
    states = [int(b["state"]) for b in bodies(aws_fake, f"{PREFIX}sensor/slow")]
    assert states == list(range(10))  # each once, in order: nothing sent twice
    assert runtime.sender.cut >= 1


async def test_an_endpoint_name_that_does_not_resolve_still_loads_and_queues(
    aws_host: Host, aws_broker: Mosquitto, aws_certs: AwsCerts
) -> None:
    entry, runtime = await load(aws_host, aws_entry_data(
        aws_broker, aws_certs, fast=True, endpoint="no-such-endpoint.invalid",
        telemetry={"include": {"entities": ["sensor.kept"]}}, **NO_SHADOW))
    assert not runtime.connected
    aws_host.states.set("sensor.kept", "1")
    assert runtime.outbox is not None
    outbox = runtime.outbox
    await wait_until(lambda: outbox.stats().depth == 1, timeout=5)
    await wait_until(lambda: "cannot connect" in str(runtime.link_attributes()["last_error"]),
                     timeout=5)
    assert entry.state is ConfigEntryState.LOADED


async def test_qos_0_telemetry(
    aws_host: Host, aws_broker: Mosquitto, aws_certs: AwsCerts, aws_fake: FakeAwsIot
) -> None:
    _, runtime = await load(aws_host, aws_entry_data(aws_broker, aws_certs, fast=True, qos=0,
                                                     telemetry={
        "include": {"entities": ["sensor.q0"]}}, **NO_SHADOW))
    aws_host.states.set("sensor.q0", "1")
    await aws_fake.wait_for(lambda: aws_fake.messages(THING, f"{PREFIX}sensor/q0"))
    assert runtime.outbox is not None
    outbox = runtime.outbox
    await wait_until(lambda: outbox.stats().depth == 0, timeout=5)


async def test_the_publish_service_refuses_qos_2_and_wildcards(
    aws_host: Host, aws_broker: Mosquitto, aws_certs: AwsCerts, aws_fake: FakeAwsIot
) -> None:
    from gatehouse.core import ServiceValidationError

    await load(aws_host, aws_entry_data(aws_broker, aws_certs, fast=True, **NO_SHADOW))
    with pytest.raises(ServiceValidationError, match="qos 2 is not supported"):
        await aws_host.services.call("aws_iot", "publish", {"topic": "a/b", "qos": 2})
    with pytest.raises(ServiceValidationError, match="no wildcards"):
        await aws_host.services.call("aws_iot", "publish", {"topic": "a/#"})
