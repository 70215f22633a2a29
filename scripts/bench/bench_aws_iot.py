#!/usr/bin/env python
"""Benchmark the AWS IoT connection's publish pacing against Mosquitto with mTLS.

Plain script, prints figures::

    .venv/bin/python scripts/bench/bench_aws_iot.py [--messages 3000] [--rate 1000]

* **pacer**: the cost of one ``RatePacer.reserve`` (the slot bookkeeping every publish
  pays), against an empty Python call as the named baseline;
* **bare paho**: a stock paho client publishing N QoS 1 messages pipelined over TLS 1.2+
  with a client certificate to the same Mosquitto, waiting for every PUBACK: the
  reference for anything built on paho;
* **unpaced**: ``AwsConnection.publish_start`` for the same N messages with a rate limit
  far above what the link does (so only the pacer's and the loop hand-over's overhead
  shows), then every acknowledgement awaited: messages/s and the ratio to bare paho;
* **paced**: the same at ``--rate`` publishes/s: the achieved rate and its ratio to the
  limit (should be just under 1.0: the pacer never lets a burst exceed it).
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from gatehouse.core.testing import Mosquitto, make_pki
from gatehouse.integrations.aws_iot.client import (
    AwsConnection,
    Credentials,
    Endpoint,
    RatePacer,
    tls_context,
)

TOPIC = "bench/aws"


def pacer_cost(calls: int = 1_000_000) -> tuple[float, float]:
    pacer = RatePacer(1e12)  # never waits: only the bookkeeping

    def nothing() -> float:
        return 0.0

    start = time.perf_counter()
    for _ in range(calls):
        nothing()
    empty = (time.perf_counter() - start) / calls
    start = time.perf_counter()
    for _ in range(calls):
        pacer.reserve()
    return (time.perf_counter() - start) / calls, empty


def bare_paho(broker: Mosquitto, ca: Path, cert: Path, key: Path, messages: int) -> float:
    context = ssl.create_default_context(cafile=str(ca))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert), str(key))
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-bare",
                         protocol=paho.MQTTv311)
    client.tls_set_context(context)
    client.max_inflight_messages_set(100)
    done = threading.Event()
    acked = 0

    def on_publish(*_: object) -> None:
        nonlocal acked
        acked += 1
        if acked == messages:
            done.set()

    client.on_publish = on_publish
    client.connect("localhost", broker.tls_port)
    client.loop_start()
    start = time.perf_counter()
    for n in range(messages):
        client.publish(TOPIC, str(n).encode(), 1)
    done.wait(60)
    elapsed = time.perf_counter() - start
    client.disconnect()
    client.loop_stop()
    return messages / elapsed


async def through_connection(endpoint: Endpoint, credentials: Credentials,
                             messages: int) -> float:
    connection = AwsConnection(endpoint, credentials, tls_context(endpoint, credentials))
    assert await connection.start(), connection.last_error
    start = time.perf_counter()
    acks = [await connection.publish_start(TOPIC, str(n).encode(), 1) for n in range(messages)]
    for ack in acks:
        await ack
    elapsed = time.perf_counter() - start
    await connection.close()
    return messages / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=1000.0)
    args = parser.parse_args()

    per_call, empty = pacer_cost()
    print(f"pacer: RatePacer.reserve {per_call * 1e9:.0f} ns/call; "
          f"empty call (baseline) {empty * 1e9:.0f} ns; ratio {per_call / empty:.1f}x")

    with tempfile.TemporaryDirectory() as tmp:
        pki = make_pki(Path(tmp) / "pki", client_names=("bench-bare", "bench-thing"))
        broker = Mosquitto(Path(tmp) / "broker", pki, tls_version="tlsv1.2",
                           extra_config="set_tcp_nodelay true\nmax_qos 1")
        broker.start()
        try:
            bare = pki.client("bench-bare")
            bare_rate = bare_paho(broker, pki.ca_cert, bare.cert, bare.key, args.messages)
            print(f"bare paho QoS 1 over mTLS (baseline): {bare_rate:,.0f} msg/s")
            thing = pki.client("bench-thing")
            credentials = Credentials("bench-thing", str(thing.cert), str(thing.key))

            def endpoint(rate: float) -> Endpoint:
                return Endpoint("localhost", broker.tls_port, str(pki.ca_cert), alpn=False,
                                max_publish_rate=rate)

            unpaced = asyncio.run(through_connection(endpoint(1e9), credentials,
                                                     args.messages))
            print(f"AwsConnection, rate limit off: {unpaced:,.0f} msg/s "
                  f"({unpaced / bare_rate:.2f} of bare paho)")
            paced = asyncio.run(through_connection(endpoint(args.rate), credentials,
                                                   args.messages))
            print(f"AwsConnection, limit {args.rate:g}/s: {paced:,.0f} msg/s "
                  f"({paced / args.rate:.3f} of the limit)")
        finally:
            broker.stop()


if __name__ == "__main__":
    main()
