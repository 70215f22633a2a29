"""The proxy's threading model: one network thread validates and forwards.

Since the proxy stopped handing every message to the event loop, these pin what must
still hold: both paho clients are only ever used from the network thread; the inbound
acknowledgements leave in arrival order and never before the egress PUBACK (or the
quarantine commit); a quarantine that cannot commit holds acknowledgements only, never
the forwarding of valid messages; the network loop reconnects a restarted ingress
broker and subscribes again; the guard's counters lose nothing when the proxy's thread
and the loop check messages at once.
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Any

import anyio
import pytest
from sgtools import READING_SCHEMA, make_guard, proxy_yaml, write_schema

from gatehouse.core import Host
from gatehouse.core.testing import Mosquitto, make_host, state_of, wait_until
from gatehouse.integrations.schema_guard.api import guard_for
from gatehouse.integrations.schema_guard.engine import RuleConfig
from gatehouse.integrations.schema_guard.proxy import Proxy
from gatehouse.integrations.schema_guard.services import LOADED

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "mqtt"))
from mqtt_helpers import Peer  # noqa: E402

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(90)]


@pytest.fixture
def egress(tmp_path: Path) -> Any:
    broker = Mosquitto(tmp_path / "egress")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def reading(n: int, temp: float = 20.0) -> bytes:
    return json.dumps({"n": n, "temp": temp}).encode()


def _setup(config_dir: Path, ingress: Mosquitto, egress: Mosquitto, **kw: Any) -> None:
    write_schema(config_dir / "schemas", "reading", 1, READING_SCHEMA)
    (config_dir / "configuration.yaml").write_text(proxy_yaml(ingress.port, egress.port, **kw))


def _proxy(host: Host) -> Proxy:
    (runtime,) = LOADED.runtimes(host).values()
    assert runtime.proxy is not None
    return runtime.proxy


class _Trace:
    """Records, in one list, the arrivals, egress PUBACKs and inbound acknowledgements
    of a proxy, with the thread each happened in (the proxy's own attributes are
    wrapped: nothing of paho is replaced)."""

    def __init__(self, proxy: Proxy) -> None:
        self.events: list[tuple[str, int, str]] = []
        self.mids: list[int] = []  # packet ids in arrival order
        self.lock = threading.Lock()
        ingress, egress = proxy._ingress, proxy._egress
        sink, ack, on_publish = ingress.message_sink, ingress.ack, egress.on_publish
        assert sink is not None and on_publish is not None

        def record(kind: str, key: int) -> None:
            with self.lock:
                self.events.append((kind, key, threading.current_thread().name))

        def traced_sink(msg: Any) -> None:
            record("in", json.loads(msg.payload)["n"])
            self.mids.append(msg.mid)
            sink(msg)

        def traced_ack(mid: int, qos: int) -> Any:
            record("ack", mid)
            return ack(mid, qos)

        def traced_publish(client: Any, userdata: Any, mid: int, *rest: Any) -> None:
            record("egress", mid)
            on_publish(client, userdata, mid, *rest)

        ingress.message_sink = traced_sink
        ingress.ack = traced_ack  # type: ignore[method-assign]
        egress.on_publish = traced_publish

    def of(self, kind: str) -> list[int]:
        with self.lock:
            return [key for k, key, _ in self.events if k == kind]


async def test_acks_in_arrival_order_after_egress_puback_all_in_the_network_thread(
    config_dir: Path, mosquitto: Mosquitto, egress: Mosquitto
) -> None:
    _setup(config_dir, mosquitto, egress)
    out = Peer(egress.port, "sg-thr-watch")
    out.subscribe("#", qos=1)
    src = Peer(mosquitto.port, "sg-thr-pub")
    try:
        async with make_host(config_dir).running() as host:
            proxy = _proxy(host)
            await wait_until(lambda: proxy.subscribed and proxy.egress_connected)
            trace = _Trace(proxy)
            count = 300
            # Mosquitto takes at most 20 incoming QoS 2 messages in flight per client
            # (its max_inflight_messages) and drops the rest from a 3.1.1 publisher:
            # published ten at a time.
            for start in range(0, count, 10):
                infos = [src.client.publish(
                    "plant/a/reading", reading(n, temp=999 if n % 7 == 3 else 20.0),
                    1 + n % 2) for n in range(start, start + 10)]
                await wait_until(lambda infos=infos: all(i.is_published() for i in infos))
            await wait_until(lambda: proxy.stats.acked == count, timeout=30)
            assert proxy.diagnostics()["unacknowledged"] == 0
            assert proxy.stats.forwarded == count - len(range(3, count, 7))
            # per rule too (the metrics: validated, forwarded, quarantined, ...)
            (runtime,) = LOADED.runtimes(host).values()
            metrics = runtime.guard.metrics()["reading"]
            assert metrics.forwarded == proxy.stats.forwarded
            assert metrics.as_dict()["forwarded"] == proxy.stats.forwarded
            await wait_until(lambda: state_of(host, "sensor.guard_reading_forwarded")
                             == str(proxy.stats.forwarded))
            # Every message arrived once (QoS 2 ones at PUBREL, so not in publish order
            # with the QoS 1 ones around them); acknowledged in arrival order, once each.
            arrivals = trace.of("in")
            assert sorted(arrivals) == list(range(count))
            assert trace.of("ack") == trace.mids
            # No acknowledgement before the PUBACK of every valid message before it:
            # the i-th ack comes after at least as many egress PUBACKs as there are
            # valid messages among the first i arrivals.
            valid = [n % 7 != 3 for n in arrivals]
            egress_seen = acked = 0
            for kind, _, _ in trace.events:
                if kind == "egress":
                    egress_seen += 1
                elif kind == "ack":
                    acked += 1
                    assert egress_seen >= sum(valid[:acked]), (acked, egress_seen)
            # paho is used from one thread only: the proxy's network thread
            threads = {name for kind, _, name in trace.events if kind != "ack"}
            ack_threads = {name for kind, _, name in trace.events if kind == "ack"}
            assert threads == ack_threads == {proxy._net.thread.name}
            await wait_until(lambda: len(out.snapshot()) == proxy.stats.forwarded)
            ns = [json.loads(p)["n"] for p in out.payloads("clean/a/reading")]
            assert sorted(ns) == sorted(n for n in arrivals if n % 7 != 3)
            for qos in (1, 2):  # MQTT orders per QoS level only (the egress broker too)
                assert [n for n in ns if 1 + n % 2 == qos] == [
                    n for n in arrivals if n % 7 != 3 and 1 + n % 2 == qos]
    finally:
        out.close()
        src.close()


async def test_a_stuck_quarantine_holds_acks_but_not_forwarding(
    config_dir: Path, mosquitto: Mosquitto, egress: Mosquitto
) -> None:
    """Invalid messages whose commit cannot finish (the writer's disk slot held) never
    stall the valid ones behind them on their way out; only the acknowledgements wait,
    and all leave once the commit goes through."""
    _setup(config_dir, mosquitto, egress)
    out = Peer(egress.port, "sg-thr-watch2")
    out.subscribe("#", qos=1)
    src = Peer(mosquitto.port, "sg-thr-pub2")
    try:
        async with make_host(config_dir).running() as host:
            proxy = _proxy(host)
            (runtime,) = LOADED.runtimes(host).values()
            await wait_until(lambda: proxy.subscribed and proxy.egress_connected)
            async with runtime.writer.limiter:  # no round can reach the disk
                for n in range(50):
                    src.client.publish("plant/a/reading", reading(n, temp=999), 1)
                for n in range(50, 150):
                    src.client.publish("plant/a/reading", reading(n), 1)
                await wait_until(lambda: len(out.payloads("clean/a/reading")) == 100,
                                 timeout=30)
                assert proxy.stats.received == 150
                assert proxy.stats.acked == 0  # the bad ones are first, not yet on disk
                assert proxy.diagnostics()["unacknowledged"] == 150
            await wait_until(lambda: proxy.stats.acked == 150, timeout=30)
            assert proxy.stats.quarantined == 50
            assert runtime.store.totals.count == 50
    finally:
        out.close()
        src.close()


async def test_ingress_broker_restart_reconnects_and_resubscribes(
    config_dir: Path, mosquitto: Mosquitto, egress: Mosquitto
) -> None:
    _setup(config_dir, mosquitto, egress)
    out = Peer(egress.port, "sg-thr-watch3")
    out.subscribe("#", qos=1)
    try:
        async with make_host(config_dir).running() as host:
            proxy = _proxy(host)
            await wait_until(lambda: proxy.subscribed and proxy.egress_connected)
            mosquitto.restart()
            await wait_until(lambda: not proxy.subscribed or proxy.stats.received == 0)
            await wait_until(lambda: proxy.subscribed, timeout=30)
            src = Peer(mosquitto.port, "sg-thr-pub3")
            try:
                src.publish("plant/a/reading", reading(1), qos=1)
                await wait_until(lambda: out.payloads("clean/a/reading") == [reading(1)])
                await wait_until(lambda: proxy.stats.acked == 1)
            finally:
                src.close()
    finally:
        out.close()


def test_guard_counts_lose_nothing_across_threads(tmp_path: Path) -> None:
    """The proxy checks in its thread while the inline path checks in the loop: with
    the GIL switching every microsecond, unguarded ``+= 1`` lost updates."""
    write_schema(tmp_path, "reading", 1, READING_SCHEMA)
    guard, _ = make_guard(tmp_path, [RuleConfig("reading", "plant/+/reading", "reading")])
    per_thread = 5000
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        def work() -> None:
            for n in range(per_thread):
                guard.check("plant/a/reading", reading(n, temp=999 if n % 2 else 1.0),
                            store=False)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(previous)
    metrics = guard.metrics()["reading"]
    assert metrics.validated == 4 * per_thread
    assert metrics.accepted + metrics.quarantined == 4 * per_thread
    assert sum(metrics.latency) == 4 * per_thread


async def test_tls_ingress_with_client_certificate(
    config_dir: Path, mosquitto_tls: Mosquitto, egress: Mosquitto
) -> None:
    """Reads and coalesced writes through a TLS socket (QuickAckSocket leaves the
    buffering to TLS, re-arms quick ACKs and flushes once per turn)."""
    certs = mosquitto_tls.certs
    client = certs.client()
    write_schema(config_dir / "schemas", "reading", 1, READING_SCHEMA)
    yaml = proxy_yaml(mosquitto_tls.tls_port, egress.port).replace(
        "      client_id: sg-proxy-in\n",
        "      client_id: sg-proxy-in\n      tls:\n"
        f"        ca_certs: {certs.ca_cert}\n        certfile: {client.cert}\n"
        f"        keyfile: {client.key}\n")
    (config_dir / "configuration.yaml").write_text(yaml)
    out = Peer(egress.port, "sg-thr-watch4")
    out.subscribe("#", qos=1)
    src = Peer(mosquitto_tls.port, "sg-thr-pub4")  # the plain listener, same broker
    try:
        async with make_host(config_dir).running() as host:
            proxy = _proxy(host)
            await wait_until(lambda: proxy.subscribed and proxy.egress_connected, timeout=20)
            sock = proxy._ingress.socket()
            assert "SSLSocket" in repr(sock)
            for n in range(200):
                src.client.publish("plant/a/reading",
                                   reading(n, temp=999 if n % 10 == 9 else 1.0), 1)
            await wait_until(lambda: proxy.stats.acked == 200, timeout=30)
            await wait_until(lambda: len(out.payloads("clean/a/reading")) == 180)
            assert proxy.stats.forwarded == 180 and proxy.stats.quarantined == 20
    finally:
        out.close()
        src.close()


async def test_replay_with_the_egress_away_ends_with_a_reason(
    config_dir: Path, mosquitto: Mosquitto, egress: Mosquitto
) -> None:
    """Before, the replay waited for a PUBACK that could not come: the service call
    hung for as long as the outage lasted."""
    _setup(config_dir, mosquitto, egress)
    out = Peer(egress.port, "sg-thr-watch5", clean_session=False)
    out.subscribe("#", qos=1)
    src = Peer(mosquitto.port, "sg-thr-pub5")
    try:
        async with make_host(config_dir).running() as host:
            proxy = _proxy(host)
            await wait_until(lambda: proxy.subscribed and proxy.egress_connected)
            src.publish("plant/a/reading", reading(1, temp=900), qos=1)
            await wait_until(lambda: proxy.stats.acked == 1)
            write_schema(config_dir / "schemas", "reading", 2,
                         {**READING_SCHEMA, "properties": {"n": {"type": "integer"}}})
            await wait_until(lambda: guard_for(host).check(
                "plant/a/reading", reading(1, temp=900), store=False).accepted)
            egress.stop()
            await wait_until(lambda: not proxy.egress_connected)
            with anyio.fail_after(5):
                result = await guard_for(host).replay(dry_run=False)
            assert result.replayed == 0
            assert result.error is not None and "egress" in result.error, result.error
            egress.start()
            await wait_until(lambda: proxy.egress_connected, timeout=20)
            result = await guard_for(host).replay(dry_run=False)
            assert (result.replayed, result.error) == (1, None)
            await wait_until(lambda: out.payloads("clean/a/reading") == [reading(1, temp=900)],
                             timeout=20)
    finally:
        out.close()
        src.close()
