"""Telemetry through the durable outbox survives a broker restart and a kill -9 of the
host, with nothing acknowledged lost and the first arrivals in order.

"Acknowledged" means the telemetry row is on disk: the exporter queues states without
waiting (``enqueue_nowait``), so after each group of states a durable ``enqueue`` on a
probe destination of the same outbox is awaited (commits are in submission order, so
the probe on disk means every row queued before it is too; ``aws_kill_child.py``).
The receiver is the AWS IoT fake: a persistent MQTT 3.1.1 session subscribed to
``#``, so what the broker accepted while the fake was away is kept for it.
Duplicates are allowed (at least once) and counted.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import anyio.to_thread
import pytest
from aws_kill_child import ALARM, ENTITY, outbox_link, stream
from awsfake import FakeAwsIot
from awstools import THING, AwsCerts, aws_entry_data

from gatehouse.core import ConfigEntryState
from gatehouse.core.testing import (
    ChildOutput,
    Mosquitto,
    add_entry,
    check_stream,
    make_host,
    start_child,
    wait_until,
)

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(90)]
pytest_plugins = ["awstools"]

CHILD = Path(__file__).with_name("aws_kill_child.py")
TOPIC = f"gatehouse/{THING}/sensor/seq"
ALARM_TOPIC = f"gatehouse/{THING}/binary_sensor/fire"


def telemetry_data(aws_broker: Mosquitto, aws_certs: AwsCerts, rate: float) -> dict[str, Any]:
    return aws_entry_data(
        aws_broker, aws_certs, fast=True,
        max_publish_rate=rate,
        telemetry={"include": {"entities": [ENTITY]}},
    )


def received(fake: FakeAwsIot) -> list[int]:
    """The ``sensor.seq`` values the fake received, in arrival order."""
    return [int(json.loads(r.payload)["state"]) for r in fake.messages(topic_prefix=TOPIC)]


async def test_broker_restart_during_a_telemetry_stream_loses_nothing_acknowledged(
    aws_broker: Mosquitto, aws_certs: AwsCerts, aws_fake: FakeAwsIot, config_dir: Path
) -> None:
    total = 3000
    host = make_host(config_dir)
    async with host.running():
        entry = await add_entry(host, "aws_iot", telemetry_data(aws_broker, aws_certs, 1000))
        assert entry.state is ConfigEntryState.LOADED, entry.reason
        link = outbox_link(entry)
        acknowledged: set[int] = set()
        acknowledged_at: dict[str, int] = {}

        async def restart_mid_stream() -> None:
            await aws_fake.wait_for(lambda: aws_fake.count(THING) >= 500, timeout=30)
            acknowledged_at["stop"] = len(acknowledged)
            await anyio.to_thread.run_sync(aws_broker.stop)
            await anyio.sleep(0.5)  # the stream goes on into the outbox meanwhile
            await anyio.to_thread.run_sync(aws_broker.start)
            acknowledged_at["start"] = len(acknowledged)

        started = time.monotonic()
        async with anyio.create_task_group() as group:
            group.start_soon(restart_mid_stream)
            await stream(host, link, total, 800, acknowledged.add)
        # The broker was away while states were still being produced.
        assert acknowledged_at["stop"] < acknowledged_at["start"] < total, acknowledged_at
        assert acknowledged == set(range(total))
        with anyio.fail_after(30):
            await link.outbox.wait_drained(link.destination)
        await aws_fake.wait_for(lambda: set(received(aws_fake)) >= acknowledged, timeout=20,
                                what="every acknowledged state at the fake")
        stats = link.stats()
    distinct, duplicates = check_stream(received(aws_fake), acknowledged)
    assert distinct == total
    print(
        f"\nbroker restart: {total} acknowledged, {distinct} distinct received, "
        f"{duplicates} duplicates in {time.monotonic() - started:.1f} s; outbox retries "
        f"{stats.retries}, redeliveries {stats.redeliveries}"
    )


async def test_kill9_of_the_host_during_a_telemetry_stream_loses_nothing_acknowledged(
    aws_broker: Mosquitto, aws_certs: AwsCerts, aws_fake: FakeAwsIot, config_dir: Path,
    tmp_path: Path,
) -> None:
    total = 4000
    (config_dir / "configuration.yaml").write_text(
        "gatehouse:\n  control_socket: false\n", encoding="utf-8"
    )
    entry_file = tmp_path / "entry.json"
    # Publishing paced below production: a backlog builds up in the outbox.
    entry_file.write_text(json.dumps(telemetry_data(aws_broker, aws_certs, 400)))
    first, second = ChildOutput(), ChildOutput()
    process = await start_child(
        CHILD,
        [str(config_dir), "--entry", str(entry_file), "--count", str(total), "--rate", "1000"],
        tmp_path / "child1.err",
    )
    async with process, anyio.create_task_group() as group:
        assert process.stdout is not None
        group.start_soon(first.read, process.stdout)
        with anyio.fail_after(30):
            await first.ready.wait()
            # Mid-stream: the fake has a good part, the child is still producing.
            await wait_until(
                lambda: len(first.acknowledged) >= 1500 and aws_fake.count(THING) >= 300,
                timeout=30,
            )
        process.send_signal(signal.SIGKILL)
        assert await process.wait() == -signal.SIGKILL
    seen_at_kill = len(set(received(aws_fake)))
    acknowledged = set(first.acknowledged)
    assert not first.enqueued_all, "killed too late: the child had produced everything"
    assert 1500 <= len(acknowledged) < total
    assert seen_at_kill < len(acknowledged), "no backlog at the kill: nothing was proved"

    process = await start_child(CHILD, [str(config_dir), "--drain"], tmp_path / "child2.err")
    async with process, anyio.create_task_group() as group:
        assert process.stdout is not None
        group.start_soon(second.read, process.stdout)
        with anyio.fail_after(60):
            code = await process.wait()
    assert code == 0, (tmp_path / "child2.err").read_text()
    assert second.stats is not None and second.stats["depth"] == 0
    await aws_fake.wait_for(lambda: set(received(aws_fake)) >= acknowledged, timeout=20,
                            what="every acknowledged state at the fake")
    distinct, duplicates = check_stream(received(aws_fake), acknowledged)
    print(
        f"\nkill -9: {len(acknowledged)} acknowledged before the kill, the fake had "
        f"{seen_at_kill}; after the restart {distinct} distinct arrived (acknowledged "
        f"ones all there), {duplicates} duplicates; second run redelivered "
        f"{second.stats['redeliveries']}"
    )


async def test_states_queued_while_offline_survive_a_kill9_and_leave_in_order(
    aws_broker: Mosquitto, aws_certs: AwsCerts, aws_fake: FakeAwsIot, config_dir: Path,
    tmp_path: Path,
) -> None:
    """Boot with the endpoint down (the entry loads and buffers), queue a stream and then
    an alarm, crash; the next run, with the endpoint up, sends the alarm first (its
    priority is on disk too), then the whole stream in order."""
    total = 600
    (config_dir / "configuration.yaml").write_text(
        "gatehouse:\n  control_socket: false\n", encoding="utf-8"
    )
    entry_file = tmp_path / "entry.json"
    data = telemetry_data(aws_broker, aws_certs, 1000)
    data["telemetry"] = {
        "include": {"entities": [ENTITY, ALARM]},
        "priority": [{"priority": "high", "include": {"entities": [ALARM]}}],
    }
    entry_file.write_text(json.dumps(data))
    await anyio.to_thread.run_sync(aws_broker.stop)
    first, second = ChildOutput(), ChildOutput()
    process = await start_child(
        CHILD,
        [str(config_dir), "--entry", str(entry_file), "--count", str(total), "--alarm"],
        tmp_path / "child1.err",
    )
    async with process, anyio.create_task_group() as group:
        assert process.stdout is not None
        group.start_soon(first.read, process.stdout)
        with anyio.fail_after(30):
            await first.ready.wait()
            await wait_until(lambda: first.enqueued_all, timeout=30)
        process.send_signal(signal.SIGKILL)
        assert await process.wait() == -signal.SIGKILL
    assert first.acknowledged == list(range(total)) and "ALARM" in first.flags
    assert received(aws_fake) == []

    await anyio.to_thread.run_sync(aws_broker.start)
    await aws_fake.wait_for(lambda: aws_fake.connected, what="the fake back on the broker")
    process = await start_child(CHILD, [str(config_dir), "--drain"], tmp_path / "child2.err")
    async with process, anyio.create_task_group() as group:
        assert process.stdout is not None
        group.start_soon(second.read, process.stdout)
        with anyio.fail_after(60):
            code = await process.wait()
    assert code == 0, (tmp_path / "child2.err").read_text()
    await aws_fake.wait_for(lambda: len(set(received(aws_fake))) >= total, timeout=20,
                            what="the queued stream at the fake")
    distinct, duplicates = check_stream(received(aws_fake), set(range(total)))
    assert distinct == total
    topics = [r.topic for r in aws_fake.messages(topic_prefix=f"gatehouse/{THING}/")]
    assert topics[0] == ALARM_TOPIC, f"the alarm left at position {topics.index(ALARM_TOPIC)}"
    print(f"\noffline + kill -9: {total} queued offline, then an alarm; the next run sent "
          f"the alarm first, then all {total} in order ({duplicates} duplicates)")
