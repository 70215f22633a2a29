#!/usr/bin/env python
"""Benchmark tag encryption: per value, and states into the outbox with it on vs off.

Plain script, prints figures::

    .venv/bin/python scripts/bench/bench_crypto.py [--values 20000] [--states 20000]
                                                   [--rounds 5] [--dir /path]

* **per value**: ``TagCipher.encrypt`` + ``decrypt`` of an 8-byte and a 200-byte value
  (the envelope as a dict: AES-GCM, nonce, base64), and ``seal``/``open`` (the same as
  compact JSON bytes, what the outbox and the exporters store and send). Baseline:
  ``cryptography``'s ``AESGCM`` alone with a fresh 12-byte nonce, so the figure
  shows what the envelope adds to the cipher itself.
* **ingest**: states (200-byte JSON documents) written into a fresh outbox database
  with ``Outbox.enqueue`` (durable, 100 concurrent producers: group commit), once with
  no entity sensitive (encryption off) and once with every entity sensitive (on),
  in the same process and round, the order swapped every round; and the drain of
  that backlog to an acknowledging in-process sender (decryption happens there).

Every figure is printed as min-max over the rounds, with the median and the on/off
ratio of the medians, beside the load average and the CPU steal seen during the run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import anyio
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gatehouse.core.crypto import Keyring, TagCipher
from gatehouse.core.outbox import DeliveryOutcome, Outbox, OutboxMessage

SMALL = b"72.51234"
LARGE = json.dumps({"state": "72.5", "attributes": {"unit": "degC", "pad": "x" * 150}}
                   ).encode()[:200]
PRODUCERS = 100


def cpu_times() -> tuple[int, int]:
    """(total, steal) jiffies from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return sum(fields), fields[7] if len(fields) > 7 else 0


def per_value(cipher: TagCipher, raw: AESGCM, n: int, value: bytes) -> dict[str, float]:
    """µs per encrypt+decrypt round trip, for each way of doing it."""
    figures: dict[str, float] = {}
    entity = "sensor.recipe_temp"

    start = time.perf_counter()
    for _ in range(n):
        nonce = os.urandom(12)
        raw.decrypt(nonce, raw.encrypt(nonce, value, b"a"), b"a")
    figures["AESGCM alone (baseline)"] = (time.perf_counter() - start) / n * 1e6

    start = time.perf_counter()
    for i in range(n):
        cipher.decrypt(cipher.encrypt(entity, value, seq=i))
    figures["encrypt+decrypt (envelope dict)"] = (time.perf_counter() - start) / n * 1e6

    start = time.perf_counter()
    for _ in range(n):
        cipher.open(cipher.seal(entity, value))
    figures["seal+open (JSON bytes, default seq)"] = (time.perf_counter() - start) / n * 1e6

    start = time.perf_counter()
    for i in range(n):
        cipher.encrypt(entity, value, seq=i)
    figures["encrypt only"] = (time.perf_counter() - start) / n * 1e6
    return figures


class Acker:
    async def send(self, batch: Sequence[OutboxMessage]) -> Sequence[DeliveryOutcome]:
        return [DeliveryOutcome.ACKED] * len(batch)


class Parked:
    async def send(self, batch: Sequence[OutboxMessage]) -> Sequence[DeliveryOutcome]:
        await anyio.sleep_forever()
        return []


async def ingest(directory: Path, cipher: TagCipher, states: int) -> tuple[float, float]:
    """(states/s into the outbox, states/s drained) for one fresh database."""
    db = directory / f"outbox-{time.monotonic_ns()}.db"
    payloads = [json.dumps({"entity_id": f"sensor.s{i % 500}", "state": f"{i * 0.1:.1f}",
                            "pad": "x" * 140}).encode()[:200] for i in range(states)]
    per = states // PRODUCERS
    async with Outbox.open(db, cipher=cipher) as outbox:
        unregister = outbox.register_destination(
            "d", Parked(), max_messages=None, max_bytes=None, batch_size=500)

        async def producer(k: int) -> None:
            for i in range(k * per, (k + 1) * per):
                await outbox.enqueue("d", payloads[i], entity_id=f"sensor.s{i % 500}")

        start = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for k in range(PRODUCERS):
                tg.start_soon(producer, k)
        enqueue_rate = per * PRODUCERS / (time.perf_counter() - start)
        unregister()
    async with Outbox.open(db, cipher=cipher) as outbox:
        start = time.perf_counter()
        outbox.register_destination("d", Acker(), max_messages=None, max_bytes=None,
                                    batch_size=500)
        await outbox.wait_drained("d")
        drain_rate = per * PRODUCERS / (time.perf_counter() - start)
    return enqueue_rate, drain_rate


def show(title: str, runs: dict[str, list[float]], unit: str,
         ratio: tuple[str, str] | None = None) -> None:
    print(f"\n{title}")
    for name, values in runs.items():
        print(f"  {name:<40} {min(values):>10.2f} - {max(values):>10.2f} {unit}"
              f"  (median {statistics.median(values):.2f})")
    if ratio is not None:
        on, off = (statistics.median(runs[k]) for k in ratio)
        paired = [a / b for a, b in zip(runs[ratio[0]], runs[ratio[1]], strict=True)]
        print(f"  ratio on/off of the medians: {on / off:.3f}; per round (same round, "
              f"order swapped each round): {min(paired):.3f} - {max(paired):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=20_000)
    parser.add_argument("--states", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()

    total0, steal0 = cpu_times()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        directory = Path(tmp)
        keyring = Keyring(directory / "keyring.json")
        on = TagCipher(keyring, sensitive=lambda _e: True)
        off = TagCipher(keyring)  # nothing sensitive: the outbox stores payloads as they are
        raw = AESGCM(AESGCM.generate_key(256))
        small: dict[str, list[float]] = {}
        large: dict[str, list[float]] = {}
        rates: dict[str, list[float]] = {}
        for rnd in range(args.rounds):
            for figures, value in ((small, SMALL), (large, LARGE)):
                for name, us in per_value(on, raw, args.values, value).items():
                    figures.setdefault(name, []).append(us)
            order: list[tuple[str, TagCipher]] = [("off", off), ("on", on)]
            if rnd % 2:
                order.reverse()
            for label, cipher in order:
                enq, drain = anyio.run(ingest, directory, cipher, args.states)
                for path in directory.glob("outbox-*"):
                    path.unlink()
                rates.setdefault(f"enqueue, encryption {label}", []).append(enq)
                rates.setdefault(f"drain, encryption {label}", []).append(drain)
    total1, steal1 = cpu_times()

    load = os.getloadavg()
    steal = 100.0 * (steal1 - steal0) / max(1, total1 - total0)
    print(f"rounds {args.rounds}, {args.values} values, {args.states} states per run; "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; CPU steal {steal:.1f}%")
    show(f"per value, {len(SMALL)}-byte value (µs per encrypt+decrypt)", small, "µs")
    show(f"per value, {len(LARGE)}-byte value (µs per encrypt+decrypt)", large, "µs")
    for figures in (small, large):
        name = "encrypt+decrypt (envelope dict)"
        ops = 1e6 / statistics.median(figures[name])
        print(f"  -> {ops:,.0f} round trips/s ({name}, median)")
    show("ingest: states into the outbox (durable enqueue, 100 producers)",
         {k: v for k, v in rates.items() if k.startswith("enqueue")}, "states/s",
         ("enqueue, encryption on", "enqueue, encryption off"))
    show("drain: the same backlog to an acknowledging sender",
         {k: v for k, v in rates.items() if k.startswith("drain")}, "states/s",
         ("drain, encryption on", "drain, encryption off"))



if __name__ == "__main__":
    main()
