"""HTTP benchmark: WebSocket fan-out and REST ``GET /api/states`` on a real listener.

Run: .venv/bin/python scripts/bench/bench_http.py [--clients 50] [--rate 5000] [--seconds 5]
     [--no-coalesce]

1. Fan-out: a host with the web server on 127.0.0.1 (ephemeral port); a separate client
   process opens ``--clients`` WebSocket connections (token auth, HA's
   ``coalesce_messages``, ``subscribe_entities``); the host changes ``--rate`` states per
   second for ``--seconds``. Each state carries the time it was set, so the clients
   measure delivery latency. Reported: messages delivered per second (all clients),
   p50/p99/max latency, clients disconnected, and encodings per state change (1.0 means
   each change was serialised once for all clients).
2. REST: ``GET /api/states`` with ``--rest-entities`` entities: the first request
   (every state encoded) and then warm requests (encodings cached per state object).

The clients run in their own process so that their JSON parsing does not steal the
server's event loop; on a 2-core machine the two processes use one core each.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import statistics
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp

from gatehouse.core import Host
from gatehouse.core.http.server import HTTP_SERVER

CONFIG = """\
gatehouse:
  control_socket: false
http:
  server_host: 127.0.0.1
  server_port: 0
"""


# -- the client process --------------------------------------------------------------


async def _client_main(url: str, token: str, clients: int, expected: int,
                       coalesce: bool, pipe: Connection) -> None:
    latencies: list[float] = []
    counts = [0] * clients
    closed: list[str] = []
    done = asyncio.Event()
    finish_by: list[float] = []

    async def one(index: int, session: aiohttp.ClientSession) -> None:
        async with session.ws_connect(url, max_msg_size=0) as ws:
            await ws.receive_json()
            await ws.send_json({"type": "auth", "access_token": token})
            assert (await ws.receive_json())["type"] == "auth_ok"
            await ws.send_json({"id": 1, "type": "supported_features",
                                "features": {"coalesce_messages": int(coalesce)}})
            await ws.receive_json()
            await ws.send_json({"id": 2, "type": "subscribe_entities"})
            seen: set[str] = set()
            while len(seen) < 2:  # the result and the snapshot (maybe one array frame)
                first = (await ws.receive()).json()
                for item in first if isinstance(first, list) else [first]:
                    seen.add(item["type"])
            ready.append(index)
            if len(ready) == clients:
                pipe.send("ready")
            sample = index == 0  # latency from one client keeps the client process light
            while True:
                msg = await ws.receive()
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    closed.append(f"{msg.type.name} {msg.data} {msg.extra}")
                    return
                now = time.time()
                batch = msg.json()
                items = batch if isinstance(batch, list) else [batch]
                for item in items:
                    event = item.get("event")
                    if not event or "c" not in event:
                        continue
                    counts[index] += 1
                    if sample:
                        for diff in event["c"].values():
                            sent = diff["+"].get("a", {}).get("t")
                            if sent is not None:
                                latencies.append(now - sent)
                if sum(counts) >= expected:
                    done.set()

    ready: list[int] = []
    async with aiohttp.ClientSession() as session:
        tasks = [asyncio.create_task(one(i, session)) for i in range(clients)]
        # The server says when it stopped producing; then allow 10 s to drain.
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, pipe.recv)
        finish_by.append(time.time())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), 10)
        drained_at = time.time()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    pipe.send({
        "received": sum(counts),
        "per_client_min": min(counts),
        "latencies": latencies,
        "closed": closed,
        "drain_seconds": drained_at - finish_by[0],
    })


def _client_process(url: str, token: str, clients: int, expected: int, coalesce: bool,
                    pipe: Connection) -> None:
    asyncio.run(_client_main(url, token, clients, expected, coalesce, pipe))


# -- the server side -------------------------------------------------------------------


async def _owner_token(host: Host) -> str:
    runtime = host.data[HTTP_SERVER].runtime
    user = await runtime.auth.create_user("bench", "bench password", role="owner")
    _token, value = await runtime.auth.create_token(user, "bench")
    return value


async def bench_fanout(host: Host, clients: int, rate: int, seconds: float,
                       entities: int, coalesce: bool) -> dict[str, Any]:
    server = host.data[HTTP_SERVER]
    url = f"http://127.0.0.1:{server.port}/api/websocket"
    token = await _owner_token(host)
    ids = [f"sensor.bench_{i}" for i in range(entities)]
    for entity_id in ids:
        host.states.set(entity_id, "0", {"t": time.time()})

    total = int(rate * seconds)
    parent, child = mp.get_context("spawn").Pipe()
    proc = mp.get_context("spawn").Process(
        target=_client_process,
        args=(url, token, clients, total * clients, coalesce, child),
    )
    proc.start()
    loop = asyncio.get_running_loop()
    # Every client has its subscription's result and snapshot: timing starts now.
    assert await loop.run_in_executor(None, parent.recv) == "ready"
    assert host.bus.listener_count("state_changed") >= clients

    cache = server.runtime.cache
    encodings_before = cache.serialisations
    tick = 0.01
    per_tick = max(1, int(rate * tick))
    start = loop.time()
    produced = 0
    n = 0
    while produced < total:
        for _ in range(min(per_tick, total - produced)):
            entity_id = ids[n % entities]
            n += 1
            host.states.set(entity_id, str(n), {"t": time.time()})
            produced += 1
        deadline = start + (produced / rate)
        delay = deadline - loop.time()
        await asyncio.sleep(max(0.0, delay))
    produce_seconds = loop.time() - start
    encodings = cache.serialisations - encodings_before
    parent.send("produced")
    report = await loop.run_in_executor(None, parent.recv)
    await loop.run_in_executor(None, proc.join)
    latencies = sorted(report["latencies"])
    delivered_seconds = produce_seconds + report["drain_seconds"]
    return {
        "clients": clients,
        "coalesce_messages": coalesce,
        "state changes": produced,
        "produce seconds": round(produce_seconds, 2),
        "achieved change rate /s": round(produced / produce_seconds),
        "messages delivered": report["received"],
        "expected": produced * clients,
        "delivered msgs/s": round(report["received"] / delivered_seconds),
        "latency p50 ms": round(1000 * statistics.median(latencies), 2) if latencies else None,
        "latency p99 ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 2)
        if latencies else None,
        "latency max ms": round(1000 * latencies[-1], 2) if latencies else None,
        "clients disconnected": len(report["closed"]),
        "encodings per change": round(encodings / produced, 3),
    }


async def bench_rest(host: Host, entities: int, requests: int) -> dict[str, Any]:
    server = host.data[HTTP_SERVER]
    runtime = server.runtime
    users = runtime.auth.users()
    _token, value = await runtime.auth.create_token(users[0], "rest")
    for i in range(entities):
        host.states.set(f"sensor.rest_{i}", str(i), {"unit": "W", "friendly_name": f"R {i}"})
    url = f"http://127.0.0.1:{server.port}/api/states"
    headers = {"Authorization": f"Bearer {value}"}
    runtime.cache.prune(lambda _eid: None, above=0)  # cold: nothing encoded yet
    async with aiohttp.ClientSession() as session:
        start = time.perf_counter()
        async with session.get(url, headers=headers) as response:
            body = await response.read()
        cold = time.perf_counter() - start
        times = []
        for _ in range(requests):
            start = time.perf_counter()
            async with session.get(url, headers=headers) as response:
                await response.read()
            times.append(time.perf_counter() - start)
    return {
        "entities": len(host.states),
        "response bytes": len(body),
        "cold request ms": round(1000 * cold, 1),
        "warm request ms (median)": round(1000 * statistics.median(times), 1),
        "warm request ms (best)": round(1000 * min(times), 1),
    }


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config_dir = Path(tmp)
        (config_dir / "configuration.yaml").write_text(CONFIG, encoding="utf-8")
        host = Host(config_dir, stop_timeout=5)
        async with host.running():
            fanout = await bench_fanout(host, args.clients, args.rate, args.seconds,
                                        args.entities, not args.no_coalesce)
            print("== WebSocket fan-out")
            for key, value in fanout.items():
                print(f"  {key:28} {value}")
            rest = await bench_rest(host, args.rest_entities, args.requests)
            print("== REST GET /api/states")
            for key, value in rest.items():
                print(f"  {key:28} {value}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rate", type=int, default=5000, help="state changes per second")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--entities", type=int, default=200)
    parser.add_argument("--rest-entities", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--no-coalesce", action="store_true",
                        help="one frame per message (clients without coalesce_messages)")
    asyncio.run(main(parser.parse_args()))
