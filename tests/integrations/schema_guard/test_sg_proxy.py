"""Proxy mode through two real Mosquitto brokers (ingress → egress).

Valid messages are forwarded with the topic rewritten and their QoS kept; invalid ones
are quarantined (transport ``proxy``) and never forwarded; a thousand bad messages in a
row do not stall the subscription; nothing is acknowledged to the ingress broker before
it was forwarded (egress PUBACK) or committed: an egress outage leaves the messages
unacknowledged and they arrive once it is back; a host killed with -9 in that state
gets them redelivered (persistent session) and nothing is lost.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from sgtools import READING_SCHEMA, proxy_yaml, write_schema

from gatehouse.core import Host
from gatehouse.core.testing import Mosquitto, make_host, wait_until
from gatehouse.integrations.schema_guard.api import guard_for
from gatehouse.integrations.schema_guard.proxy import Proxy
from gatehouse.integrations.schema_guard.services import LOADED
from gatehouse.integrations.schema_guard.store import Filters

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "mqtt"))
from mqtt_helpers import Peer  # noqa: E402

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(90)]

CHILD = HERE / "sg_proxy_child.py"


@pytest.fixture
def egress(tmp_path: Path) -> Iterator[Mosquitto]:
    broker = Mosquitto(tmp_path / "egress")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def reading(n: int, temp: float = 20.0) -> bytes:
    return json.dumps({"n": n, "temp": temp}).encode()


def _setup(config_dir: Path, ingress: Mosquitto, egress: Mosquitto | None, **kw: Any) -> None:
    write_schema(config_dir / "schemas", "reading", 1, READING_SCHEMA)
    (config_dir / "configuration.yaml").write_text(
        proxy_yaml(ingress.port, egress.port if egress else None, **kw))


def _proxy(host: Host) -> Proxy:
    (runtime,) = LOADED.runtimes(host).values()
    assert runtime.proxy is not None
    return runtime.proxy


async def _rows(host: Host) -> list[dict[str, Any]]:
    (runtime,) = LOADED.runtimes(host).values()
    await runtime.writer.flush()
    rows: list[dict[str, Any]] = []
    after = 0
    while batch := runtime.store.query(Filters(), limit=500, after_id=after):
        rows += batch
        after = batch[-1]["id"]
    return rows


async def test_forwards_valid_with_rewrite_and_qos_quarantines_invalid(
    config_dir: Path, mosquitto: Mosquitto, egress: Mosquitto
) -> None:
    _setup(config_dir, mosquitto, egress)
    out = Peer(egress.port, "sg-egress-watch")
    out.subscribe("#", qos=2)
    src = Peer(mosquitto.port, "sg-ingress-pub")
    try:
        async with make_host(config_dir).running() as host:
            proxy = _proxy(host)
            await wait_until(lambda: proxy.subscribed)
            src.publish("plant/a/reading", reading(0), qos=0)
            src.publish("plant/a/reading", reading(1), qos=1)
            src.publish("plant/a/reading", reading(2, temp=900), qos=1)  # schema says no
            src.publish("plant/a/reading", b"{oops", qos=2)              # not JSON
            src.publish("plant/b/reading", reading(3), qos=2)
            src.publish("plant/b/other", b"anything", qos=1)  # no rule: allowed
            await wait_until(lambda: len(out.snapshot()) == 4)
            got = sorted(out.snapshot(), key=lambda m: m[0] + str(m[2]))
            assert got == [
                ("clean/a/reading", reading(0), 0, False),
                ("clean/a/reading", reading(1), 1, False),
                ("clean/b/other", b"anything", 1, False),
                ("clean/b/reading", reading(3), 2, False),
            ]
            rows = await _rows(host)
            assert [(r["topic"], r["payload"], r["transport"]) for r in rows] == [
                ("plant/a/reading", reading(2, temp=900), "proxy"),
                ("plant/a/reading", b"{oops", "proxy"),
            ]
            await wait_until(lambda: proxy.diagnostics()["unacknowledged"] == 0)
            assert proxy.stats.forwarded == 4 and proxy.stats.quarantined == 2
            assert proxy.stats.acked == 5  # every QoS 1/2 message, none twice

            # replay after a fix: forwarded to the egress, rewritten
            write_schema(config_dir / "schemas", "reading", 2,
                         {**READING_SCHEMA, "properties": {"n": {"type": "integer"}}})
            await wait_until(lambda: guard_for(host).check(
                "plant/a/reading", reading(2, temp=900), store=False).accepted)
            result = await guard_for(host).replay(dry_run=False)
            assert (result.replayed, result.failing) == (1, 1)
            await wait_until(lambda: len(out.snapshot()) == 5)
            assert out.snapshot()[-1][:2] == ("clean/a/reading", reading(2, temp=900))
    finally:
        out.close()
        src.close()


async def test_a_thousand_bad_messages_do_not_stall_the_subscription(
    config_dir: Path, mosquitto: Mosquitto, egress: Mosquitto
) -> None:
    _setup(config_dir, mosquitto, egress)
    out = Peer(egress.port, "sg-egress-watch2")
    out.subscribe("#", qos=1)
    src = Peer(mosquitto.port, "sg-ingress-pub2")
    try:
        async with make_host(config_dir).running() as host:
            proxy = _proxy(host)
            await wait_until(lambda: proxy.subscribed)
            for n in range(1000):
                src.client.publish("plant/a/reading", reading(n, temp=1000 + n), 1)
            src.publish("plant/a/reading", reading(1000), qos=1)
            await wait_until(lambda: out.payloads("clean/a/reading") == [reading(1000)],
                             timeout=30)
            rows = await _rows(host)
            assert len(rows) == 1000 and {r["transport"] for r in rows} == {"proxy"}
            assert [json.loads(r["payload"])["n"] for r in rows] == list(range(1000))
            await wait_until(lambda: proxy.diagnostics()["unacknowledged"] == 0)
            assert proxy.stats.acked == 1001
    finally:
        out.close()
        src.close()


async def test_egress_outage_holds_acks_and_loses_nothing(
    config_dir: Path, mosquitto: Mosquitto, egress: Mosquitto
) -> None:
    _setup(config_dir, mosquitto, egress)
    out = Peer(egress.port, "sg-egress-watch3", clean_session=False)
    out.subscribe("#", qos=1)
    src = Peer(mosquitto.port, "sg-ingress-pub3")
    try:
        async with make_host(config_dir).running() as host:
            proxy = _proxy(host)
            await wait_until(lambda: proxy.subscribed and proxy.egress_connected)
            src.publish("plant/a/reading", reading(-1), qos=1)
            await wait_until(lambda: out.payloads("clean/a/reading") == [reading(-1)])
            await wait_until(lambda: proxy.stats.acked == 1)
            egress.stop()
            await wait_until(lambda: not proxy.egress_connected)
            for n in range(50):
                src.client.publish("plant/a/reading", reading(n), 1)
            src.publish("plant/a/reading", reading(50, temp=999), qos=1)  # quarantined
            await wait_until(lambda: proxy.stats.received == 52)
            # Nothing valid acknowledged while the egress is away; the bad one is
            # committed but waits behind them (acknowledgements leave in order).
            assert proxy.stats.acked == 1
            assert proxy.diagnostics()["unacknowledged"] == 51
            egress.start()
            await wait_until(lambda: len(out.payloads("clean/a/reading")) >= 51, timeout=30)
            await wait_until(lambda: proxy.diagnostics()["unacknowledged"] == 0, timeout=30)
            payloads = out.payloads("clean/a/reading")
            assert sorted(set(payloads), key=lambda p: json.loads(p)["n"]) == [
                reading(n) for n in range(-1, 50)]
            assert proxy.stats.acked == 52
    finally:
        out.close()
        src.close()


class _ChildStats:
    def __init__(self) -> None:
        self.ready = anyio.Event()
        self.stats: dict[str, Any] = {}

    async def read(self, stream: Any) -> None:
        buffer = b""
        async for chunk in stream:
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for raw in lines:
                line = raw.decode()
                if line == "READY":
                    self.ready.set()
                elif line.startswith("STATS "):
                    self.stats = json.loads(line[6:])


async def _child(config_dir: Path, errors: Path) -> anyio.abc.Process:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with errors.open("wb") as stderr:
        return await anyio.open_process([sys.executable, str(CHILD), str(config_dir)],
                                        stdout=subprocess.PIPE, stderr=stderr, env=env)


async def test_kill9_with_unacknowledged_messages_redelivers_them(
    config_dir: Path, mosquitto: Mosquitto, egress: Mosquitto, tmp_path: Path
) -> None:
    _setup(config_dir, mosquitto, egress, qos=1)
    out = Peer(egress.port, "sg-egress-watch4", clean_session=False)
    out.subscribe("#", qos=1)
    src = Peer(mosquitto.port, "sg-ingress-pub4")
    try:
        first = _ChildStats()
        process = await _child(config_dir, tmp_path / "child1.err")
        async with process, anyio.create_task_group() as group:
            assert process.stdout is not None
            group.start_soon(first.read, process.stdout)
            with anyio.fail_after(30):
                await first.ready.wait()
            egress.stop()
            await wait_until(lambda: not first.stats.get("egress", {}).get("connected", True))
            for n in range(100):
                src.client.publish("plant/a/reading", reading(n), 1)
            for n in range(10):
                src.client.publish("plant/a/reading", reading(100 + n, temp=999), 1)
            src.publish("plant/a/reading", reading(110), qos=1)
            # Mid-stream: all in the child's hands, none acknowledged (the valid ones
            # wait for the egress; the bad ones, committed, wait behind them).
            await wait_until(lambda: first.stats.get("received") == 111, timeout=20)
            assert first.stats["acked"] == 0 and first.stats["unacknowledged"] == 111
            process.kill()
            await process.wait()
            group.cancel_scope.cancel()
        egress.start()
        second = _ChildStats()
        process = await _child(config_dir, tmp_path / "child2.err")
        async with process, anyio.create_task_group() as group:
            assert process.stdout is not None
            group.start_soon(second.read, process.stdout)
            await wait_until(lambda: len(set(out.payloads("clean/a/reading"))) >= 101,
                             timeout=30)
            await wait_until(lambda: second.stats.get("unacknowledged") == 0
                             and second.stats.get("received", 0) >= 111, timeout=30)
            process.kill()
            await process.wait()
            group.cancel_scope.cancel()
        assert set(out.payloads("clean/a/reading")) == {reading(n) for n in range(100)} | {
            reading(110)}
    finally:
        out.close()
        src.close()


async def test_prefix_mode_on_one_broker(config_dir: Path, mosquitto: Mosquitto) -> None:
    _setup(config_dir, mosquitto, None)
    watch = Peer(mosquitto.port, "sg-prefix-watch")
    watch.subscribe("clean/#", qos=1)
    src = Peer(mosquitto.port, "sg-prefix-pub")
    try:
        async with make_host(config_dir).running() as host:
            proxy = _proxy(host)
            await wait_until(lambda: proxy.subscribed and proxy.egress_connected)
            src.publish("plant/a/reading", reading(7), qos=1)
            src.publish("plant/a/reading", reading(8, temp=999), qos=1)
            src.publish("plant/a/reading", reading(9), qos=1)
            await wait_until(lambda: len(watch.snapshot()) == 2)
            assert watch.payloads("clean/a/reading") == [reading(7), reading(9)]
            await wait_until(lambda: proxy.stats.acked == 3)
            assert proxy.stats.received == 3  # its own output is not read back
    finally:
        watch.close()
        src.close()
