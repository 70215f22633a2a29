"""The durable publish path: QoS 1 through the host outbox survives a broker restart and
a kill -9 of the publishing host, with nothing acknowledged lost and order kept.

"Acknowledged" means ``publish`` returned (the outbox committed the message to disk).
The subscriber is a plain paho client with a persistent session at QoS 1, so messages
the broker accepted while it was away are kept for it. Duplicates are allowed (at least
once) and counted; what must hold is that every acknowledged message arrives and that
the *first* arrivals come in publish order.
"""

from __future__ import annotations

import signal
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import anyio.abc
import anyio.to_thread
import pytest
from mqtt_helpers import Peer, entry_data, loaded

from gatehouse.core.testing import (
    ChildOutput,
    Mosquitto,
    add_entry,
    check_stream,
    make_host,
    start_child,
    wait_until,
)
from gatehouse.integrations.mqtt.api import MQTT_API

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

CHILD = Path(__file__).with_name("mqtt_kill_child.py")
TOPIC = "proof/seq"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A broker that keeps QoS 1 sessions across (graceful) restarts and never drops
    queued messages; persistence is written on stop, not on every change."""
    server = Mosquitto(tmp_path / "broker", extra_config="max_queued_messages 0")
    try:
        server.start()
        yield server
    finally:
        server.stop()


async def test_20000_qos1_through_a_broker_restart(
    broker: Mosquitto, config_dir: Path
) -> None:
    total = 20_000
    subscriber = Peer(broker.port, "proof-subscriber", clean_session=False)
    subscriber.subscribe(TOPIC, qos=1)
    host = make_host(config_dir)
    try:
        async with host.running():
            entry = await add_entry(
                host, "mqtt",
                entry_data(broker.port, client_id="proof-publisher", clean_session=False,
                           discovery=False),
            )
            assert loaded(entry), entry.reason
            api = host.data[MQTT_API]
            window = anyio.Semaphore(1000)
            acknowledged: set[int] = set()

            async def publish(n: int) -> None:
                try:
                    await api.publish(TOPIC, str(n), qos=1)
                finally:
                    window.release()
                acknowledged.add(n)

            async def restart_mid_stream() -> None:
                await wait_until(lambda: len(subscriber.payloads(TOPIC)) >= 4000, timeout=30)
                print(f"\nstopping the broker after {time.monotonic() - started:.1f} s")
                await anyio.to_thread.run_sync(broker.stop)
                await anyio.sleep(1.0)  # publishing goes on into the outbox meanwhile
                await anyio.to_thread.run_sync(broker.start)
                print(f"broker back after {time.monotonic() - started:.1f} s")

            started = time.monotonic()
            async with anyio.create_task_group() as group:
                group.start_soon(restart_mid_stream)
                for n in range(total):
                    await window.acquire()
                    group.start_soon(publish, n)
            assert acknowledged == set(range(total))
            print(f"all {total} acknowledged after {time.monotonic() - started:.1f} s")
            outbox = entry.runtime_data.outbox  # the entry's OutboxLink
            with anyio.fail_after(60):
                await outbox.outbox.wait_drained(entry.runtime_data.destination)
            print(f"\nall acknowledged and drained after {time.monotonic() - started:.1f} s")
            await wait_until(lambda: len(set(subscriber.payloads(TOPIC))) >= total, timeout=30)
            stats = outbox.stats()
            assert stats.depth == 0
            sender = entry.runtime_data.sender.diagnostics()
            connection = entry.runtime_data.connection
            assert connection.disconnects >= 1 and connection.connects >= 2
    finally:
        subscriber.close()
    distinct, duplicates = check_stream(map(int, subscriber.payloads(TOPIC)), acknowledged)
    assert distinct == total
    print(
        f"\nbroker restart: {total} acknowledged, {distinct} distinct received, "
        f"{duplicates} duplicates; outbox retries {stats.retries}, redeliveries "
        f"{stats.redeliveries}; sender {sender}"
    )


async def test_kill9_of_the_publishing_host_loses_nothing_acknowledged(
    broker: Mosquitto, config_dir: Path, tmp_path: Path
) -> None:
    total = 20_000
    (config_dir / "configuration.yaml").write_text(
        textwrap.dedent(
            f"""\
            gatehouse:
              control_socket: false
            mqtt:
              broker: 127.0.0.1
              port: {broker.port}
              client_id: kill-publisher
              discovery: false
            """
        ),
        encoding="utf-8",
    )
    subscriber = Peer(broker.port, "kill-subscriber", clean_session=False)
    subscriber.subscribe(TOPIC, qos=1)
    first, second = ChildOutput(), ChildOutput()
    try:
        process = await start_child(
            CHILD, [str(config_dir), "--count", str(total), "--rate", "4000"],
            tmp_path / "child1.err",
        )
        async with process, anyio.create_task_group() as group:
            assert process.stdout is not None
            group.start_soon(first.read, process.stdout)
            with anyio.fail_after(30):
                await first.ready.wait()
                # Mid-stream: the broker has a good part, the child is still producing,
                # and (production outpacing delivery) its outbox holds a backlog.
                await wait_until(
                    lambda: len(first.acknowledged) >= 6000
                    and len(subscriber.payloads(TOPIC)) >= 1000,
                    timeout=30,
                )
            process.send_signal(signal.SIGKILL)
            assert await process.wait() == -signal.SIGKILL
        seen_at_kill = len(set(subscriber.payloads(TOPIC)))
        acknowledged = set(first.acknowledged)
        assert not first.enqueued_all, "killed too late: the child had published everything"
        assert 6000 <= len(acknowledged) < total
        assert 1000 <= seen_at_kill < total

        process = await start_child(CHILD, [str(config_dir), "--drain"], tmp_path / "child2.err")
        async with process, anyio.create_task_group() as group:
            assert process.stdout is not None
            group.start_soon(second.read, process.stdout)
            with anyio.fail_after(60):
                code = await process.wait()
        assert code == 0, (tmp_path / "child2.err").read_text()
        assert second.stats is not None and second.stats["depth"] == 0
        await wait_until(lambda: acknowledged <= set(map(int, subscriber.payloads(TOPIC))))
    finally:
        subscriber.close()
    distinct, duplicates = check_stream(map(int, subscriber.payloads(TOPIC)), acknowledged)
    print(
        f"\nkill -9: {len(acknowledged)} acknowledged before the kill, subscriber had "
        f"{seen_at_kill}; after the restart {distinct} distinct arrived (acknowledged "
        f"ones all there), {duplicates} duplicates; second run redelivered "
        f"{second.stats['redeliveries']}"
    )
