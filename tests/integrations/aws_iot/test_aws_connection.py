"""The connection (client.py) against Mosquitto with mTLS and the AWS IoT fake: TLS 1.2+,
SNI and ALPN as AWS needs them, the thing name as client id, QoS 0/1 only, the 128 KB
limit, publish pacing under the per-connection rate, the duplicate-client-id storm
reported instead of looped, and diagnostics with key paths but never key contents."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from awsfake import FakeAwsIot
from awstools import THING, AwsCerts, HelloTap, aws_entry_data, duplicate_client

from gatehouse.core import ConfigEntry, ConfigEntryState, Host, ServiceValidationError
from gatehouse.core.control import collect_diagnostics
from gatehouse.core.testing import LOOPBACK, Mosquitto, add_entry, make_host, state_of, wait_until
from gatehouse.integrations.aws_iot.client import RatePacer
from gatehouse.integrations.aws_iot.errors import AwsIotPublishError, PayloadTooLarge
from gatehouse.integrations.aws_iot.runtime import AwsIotRuntime

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]
pytest_plugins = ["awstools"]

PACKAGES = {"aws_iot": "gatehouse.integrations.aws_iot"}
NO_SHADOW: dict[str, Any] = {"shadow": {"enabled": False}, "jobs": {"enabled": False}}


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


async def test_connects_with_mtls_tls12_plus_and_the_thing_name(
    aws_host: Host, aws_broker: Mosquitto, aws_certs: AwsCerts, aws_fake: FakeAwsIot
) -> None:
    _, runtime = await load(aws_host, aws_entry_data(aws_broker, aws_certs, fast=True, **NO_SHADOW))
    connection = runtime.connection
    assert connection is not None and connection.connected
    assert connection.tls_version() in ("TLSv1.2", "TLSv1.3")
    assert connection.credentials.client_id == THING
    await wait_until(lambda: f"as {THING}" in aws_broker.log_text(), timeout=5)
    assert state_of(aws_host, "binary_sensor.aws_iot_connected") == "on"
    assert state_of(aws_host, "binary_sensor.aws_iot_problem") == "off"


async def test_sni_is_the_endpoint_and_alpn_is_offered_when_asked(
    aws_host: Host, aws_broker: Mosquitto, aws_certs: AwsCerts, aws_hello_tap: HelloTap
) -> None:
    _, runtime = await load(aws_host, aws_entry_data(
        aws_broker, aws_certs, fast=True, port=aws_hello_tap.port, alpn=True, **NO_SHADOW))
    assert runtime.connection is not None and runtime.connection.connected
    hello = aws_hello_tap.wait_hello()
    assert hello is not None
    assert hello.sni == "localhost"
    assert hello.alpn == ("x-amzn-mqtt-ca",)
    assert "TLSv1.1" not in hello.versions and "TLSv1" not in hello.versions


async def test_without_alpn_on_8883_none_is_offered(
    aws_host: Host, aws_broker: Mosquitto, aws_certs: AwsCerts, aws_hello_tap: HelloTap
) -> None:
    await load(aws_host, aws_entry_data(
        aws_broker, aws_certs, fast=True, port=aws_hello_tap.port, **NO_SHADOW))
    hello = aws_hello_tap.wait_hello()
    assert hello is not None and hello.alpn == ()


def _can_bind_443() -> bool:
    try:
        with socket.create_server((LOOPBACK, 443)):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not _can_bind_443(), reason="port 443 needs root")
async def test_port_443_offers_alpn_by_itself(
    aws_host: Host, aws_broker: Mosquitto, aws_certs: AwsCerts
) -> None:
    tap = HelloTap(aws_broker.tls_port, port=443)
    tap.start()
    try:
        _, runtime = await load(aws_host, aws_entry_data(aws_broker, aws_certs, fast=True,
                                                         port=443, **NO_SHADOW))
        hello = tap.wait_hello()
        assert hello is not None and hello.alpn == ("x-amzn-mqtt-ca",)
        assert runtime.connection is not None and runtime.connection.connected
    finally:
        tap.stop()


async def test_payloads_over_128_kb_and_qos_2_are_refused(
    aws_host: Host, aws_broker: Mosquitto, aws_certs: AwsCerts, aws_fake: FakeAwsIot
) -> None:
    _, runtime = await load(aws_host, aws_entry_data(aws_broker, aws_certs, fast=True, **NO_SHADOW))
    connection = runtime.connection
    assert connection is not None
    with pytest.raises(PayloadTooLarge, match="131073 bytes is over AWS's 131072"):
        await connection.publish(f"gatehouse/{THING}/big", b"x" * (128 * 1024 + 1))
    with pytest.raises(PayloadTooLarge, match="2 refused so far"):
        await connection.publish(f"gatehouse/{THING}/big", b"x" * (200 * 1024))
    with pytest.raises(AwsIotPublishError, match="QoS 0 and 1 only"):
        await connection.publish(f"gatehouse/{THING}/q2", b"x", qos=2)
    with pytest.raises(AwsIotPublishError, match="topic over AWS's 256 bytes"):
        await connection.publish("t/" + "x" * 255, b"x")
    await connection.publish(f"gatehouse/{THING}/fits", b"x" * (128 * 1024))
    assert connection.diagnostics()["payloads_too_large"] == 2
    with pytest.raises(ServiceValidationError, match="over AWS's 131072"):
        await aws_host.services.call("aws_iot", "publish",
                                     {"topic": "gatehouse/x", "payload": "y" * 140_000})
    await aws_fake.wait_for(lambda: aws_fake.messages(topic_prefix=f"gatehouse/{THING}/fits"))
    assert not aws_fake.limit_violations()
    assert connection.connected  # AWS would have closed it for a 129 KB payload


async def test_publishes_are_paced_under_the_rate(
    aws_host: Host, aws_broker: Mosquitto, aws_certs: AwsCerts, aws_fake: FakeAwsIot
) -> None:
    rate = 50
    _, runtime = await load(aws_host, aws_entry_data(
        aws_broker, aws_certs, fast=True, max_publish_rate=rate,
        telemetry={"include": {"domains": ["sensor"]}}, **NO_SHADOW))
    total = rate * 3 // 2
    for n in range(total):
        aws_host.states.set("sensor.load", n)
    await aws_fake.wait_for(
        lambda: len(aws_fake.messages(THING, f"gatehouse/{THING}/sensor/load")) >= total,
        timeout=20,
    )
    # Receive times at the fake: a burst the broker smoothed is still seen here. Unpaced,
    # all 75 arrive within milliseconds; paced, a window holds the rate plus what a
    # loaded machine's scheduling bunches (a slot delayed lands beside the next: seen
    # 52 in a CI-like run with other processes busy).
    assert aws_fake.max_rate(THING, 1.0, f"gatehouse/{THING}/") <= rate + 3
    assert runtime.connection is not None and runtime.connection.pacer.waited > 0.3


def test_the_pacer_gives_slots_one_interval_apart() -> None:
    pacer = RatePacer(100.0)
    delays = [pacer.reserve() for _ in range(101)]
    assert delays[0] == 0.0
    assert 0.99 <= delays[-1] <= 1.0  # the 101st publish waits a full second


async def test_a_duplicate_client_id_storm_is_reported_not_looped(
    aws_host: Host, aws_broker: Mosquitto, aws_certs: AwsCerts, aws_fake: FakeAwsIot
) -> None:
    entry, runtime = await load(aws_host, aws_entry_data(
        aws_broker, aws_certs, fast=True, storm={"disconnects": 3, "window": 10}, **NO_SHADOW))
    connection = runtime.connection
    assert connection is not None
    with duplicate_client(aws_broker, aws_certs) as dup:
        await wait_until(lambda: connection.problem is not None, timeout=20)
        assert dup.connects >= 1
    assert "reconnect storm" in (connection.problem or "")
    assert THING in (connection.problem or "")
    await wait_until(lambda: state_of(aws_host, "binary_sensor.aws_iot_problem") == "on",
                     timeout=5)
    assert entry.reason is not None and "reconnect storm" in entry.reason
    # Paused: no more connects once reported (the duplicate is gone now, too).
    connects = connection.connects
    await wait_until(lambda: not connection.connected, timeout=5)
    assert connection.connects == connects
    state = aws_host.states.get("binary_sensor.aws_iot_problem")
    assert state is not None and "reconnect storm" in state.attributes["reason"]


async def test_after_the_pause_one_more_try_and_the_problem_clears_once_it_holds(
    aws_host: Host, aws_broker: Mosquitto, aws_certs: AwsCerts, aws_fake: FakeAwsIot
) -> None:
    _, runtime = await load(aws_host, aws_entry_data(
        aws_broker, aws_certs, fast=True, storm={"disconnects": 3, "window": 1, "pause": 0.5},
        **NO_SHADOW))
    connection = runtime.connection
    assert connection is not None
    with duplicate_client(aws_broker, aws_certs):
        await wait_until(lambda: connection.problem is not None, timeout=20)
    storms = connection.storms
    await wait_until(lambda: connection.connected, timeout=10)  # after the pause
    await wait_until(lambda: connection.problem is None, timeout=5)  # held for 1 s
    assert connection.storms == storms
    assert runtime.entry.reason is None
    assert state_of(aws_host, "binary_sensor.aws_iot_problem") == "off"


async def test_diagnostics_have_key_paths_never_key_contents(
    aws_host: Host, aws_broker: Mosquitto, aws_certs: AwsCerts, aws_fake: FakeAwsIot,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    await load(aws_host, aws_entry_data(aws_broker, aws_certs, fast=True, **NO_SHADOW))
    diagnostics = json.dumps(collect_diagnostics(aws_host), default=str)
    assert str(aws_certs.private_key) in diagnostics
    key_lines = aws_certs.private_key.read_text().splitlines()[1:-1]
    assert key_lines
    for line in key_lines:
        assert line not in diagnostics
        assert line not in caplog.text


async def test_a_flood_the_loop_cannot_keep_up_with_is_bounded(
    aws_host: Host, aws_broker: Mosquitto, aws_certs: AwsCerts, aws_fake: FakeAwsIot
) -> None:
    """Messages paho hands over while the loop is busy wait in the loop's queue; beyond
    MAX_INBOUND they are dropped and counted instead of growing it without bound."""
    import paho.mqtt.client as paho

    from gatehouse.integrations.aws_iot.client import MAX_INBOUND

    _, runtime = await load(aws_host, aws_entry_data(aws_broker, aws_certs, fast=True,
                                                     **NO_SHADOW))
    connection = runtime.connection
    assert connection is not None
    seen: list[bytes] = []
    await connection.subscribe("flood/#", lambda _topic, payload: seen.append(payload))
    message = paho.MQTTMessage(topic=b"flood/x")
    message.payload = b"1"
    for _ in range(MAX_INBOUND + 500):  # the loop runs none of them meanwhile
        connection._thread_message(connection._client, None, message)
    assert connection.inbound_dropped == 500
    await wait_until(lambda: len(seen) == MAX_INBOUND, timeout=10)
    connection._thread_message(connection._client, None, message)  # room again
    await wait_until(lambda: len(seen) == MAX_INBOUND + 1, timeout=5)
