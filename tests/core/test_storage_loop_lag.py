"""A save never holds the event loop for long, whatever the size of the data (issue 16).

The entity registry's delayed save of 1,000 entities held the loop 20-28 ms (10,000:
about 280 ms: ``asdict`` per entry plus ``json.dumps`` of the lot), stalling every device
connection and paho's network thread with it. A ticker task measures the loop's lag
while a big store is written: before the fix the largest gap is the whole encoding;
after, a slice (``ENCODE_SLICE``, 2 ms). The gap is measured in CPU time of the loop's
thread, since on a machine shared with other work the OS adds wall-clock gaps of tens of
milliseconds to an idle loop (measured: 11-34 ms at load 9 on 2 cores); the bound
(15 ms) is far below the unsliced figures (38-80 ms).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gatehouse.core.storage import Store, encode_incrementally
from gatehouse.core.testing import make_host

pytestmark = pytest.mark.anyio

ENTITIES = 10_000
#: Most CPU time the loop may spend between two ticks (a slice is 2 ms; unsliced, the
#: save took 38-80 ms here).
LAG_BOUND = 0.015


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Lag:
    """The largest gaps between ticks of a 1 ms ticker on the loop: wall time, and CPU
    time of the loop's thread (what the loop itself did in the gap; a machine so busy
    that the OS takes the CPU away adds wall time, not CPU time)."""

    wall: float = 0.0
    cpu: float = 0.0


@asynccontextmanager
async def loop_lag() -> AsyncIterator[Lag]:
    lag = Lag()
    running = True

    async def tick() -> None:
        last, last_cpu = time.perf_counter(), time.thread_time()
        while running:
            await asyncio.sleep(0.001)
            now, now_cpu = time.perf_counter(), time.thread_time()
            lag.wall = max(lag.wall, now - last)
            lag.cpu = max(lag.cpu, now_cpu - last_cpu)
            last, last_cpu = now, now_cpu

    task = asyncio.create_task(tick())
    await asyncio.sleep(0.005)
    try:
        yield lag
    finally:
        running = False
        await task


async def _worst_lag(action: Callable[[], Awaitable[None]]) -> Lag:
    async with loop_lag() as lag:
        await action()
    return lag


def _entity(n: int) -> dict[str, Any]:
    return {
        "entity_id": f"sensor.bedroom_temperature_{n}",
        "unique_id": f"0x00158d0001a2b3c4_{n}_temperature",
        "platform": "mqtt",
        "config_entry_id": "01JF4M6Y4ZQ9G1R2S3T4V5W6X7",
        "device_id": f"dev{n % 100}",
        "name": None,
        "original_name": f"Bedroom temperature {n}",
        "disabled_by": None,
        "created_at": 1733300000.0 + n,
        "area_id": None,
        "options": {"sensor": {"suggested_display_precision": 1}},
    }


async def test_delayed_save_of_10000_entities_keeps_the_loop_responsive(
    tmp_path: Path,
) -> None:
    data = {"entities": [_entity(n) for n in range(ENTITIES)]}
    store: Store[dict[str, Any]] = Store(tmp_path, "core.entity_registry", 1)

    async def save() -> None:
        store.delay_save(lambda: data, 0)
        await store.flush()

    lag = await _worst_lag(save)
    assert store.write_count == 1
    assert json.loads((tmp_path / "core.entity_registry").read_text())["data"] == data
    assert lag.cpu < LAG_BOUND, _stalled(lag)


async def test_entity_registry_save_of_10000_entities_keeps_the_loop_responsive(
    tmp_path: Path,
) -> None:
    host = make_host(tmp_path)
    async with host.running():
        registry = host.entity_registry
        for n in range(ENTITIES):
            registry.get_or_create(
                "sensor", "mqtt", f"u{n}", suggested_object_id=f"s {n}",
                config_entry_id="e1", original_name=f"S {n}",
            )
        lag = await _worst_lag(registry.flush)
        stored = json.loads((host.storage_dir / "core.entity_registry").read_text())
        assert len(stored["data"]["entities"]) == ENTITIES
        entry = registry.get("sensor.s_5")
        assert entry is not None
        assert stored["data"]["entities"][5] == entry.as_dict()
    assert lag.cpu < LAG_BOUND, _stalled(lag)


def _stalled(lag: Lag) -> str:
    return (f"the loop worked {lag.cpu * 1000:.1f} ms without a break during the save "
            f"(largest wall-clock gap {lag.wall * 1000:.1f} ms)")


@dataclass(frozen=True)
class _Point:
    x: int
    tags: tuple[str, ...]


async def test_incremental_encoding_matches_json_dumps() -> None:
    """Same bytes as one json.dumps (big and small containers, non-str keys, tuples,
    nested dataclasses), so files written before and after read the same."""
    value: dict[str, Any] = {
        "big": {f"k{n}": [n, {"deep": list(range(40))}] for n in range(100)},
        "ints": {1: "one", 2: "two"},
        "tuple": (1, 2, "three"),
        "text": "héllo ✓ \"quoted\"\n",
        "empty": {}, "nothing": [], "none": None, "float": 1.5,
        # A large value below small containers is taken apart too (node count, not
        # the size of the top level, decides).
        "deep": {"x": {"y": list(range(5000)), "z": [{"k": n} for n in range(300)]}},
    }
    assert await encode_incrementally(value) == json.dumps(
        value, ensure_ascii=False, separators=(",", ":")
    )
    points = [_Point(1, ("a",)), {"inner": _Point(2, ())}]
    assert json.loads(await encode_incrementally(points)) == [
        {"x": 1, "tags": ["a"]}, {"inner": {"x": 2, "tags": []}}
    ]


async def test_a_change_between_slices_cannot_break_the_save(tmp_path: Path) -> None:
    """The loop runs between slices and may change the data: the save still completes
    with every member whole (each written as it was then or later)."""
    live = {f"k{n}": {"v": n} for n in range(ENTITIES)}
    store: Store[dict[str, Any]] = Store(tmp_path, "live", 1)
    stop = False

    async def churn() -> None:
        n = 0
        while not stop:
            live[f"new{n}"] = {"v": -n}
            live[f"k{n % ENTITIES}"]["v"] = -1
            n += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(churn())
    try:
        await store.save(live)
    finally:
        stop = True
        await task
    stored = json.loads((tmp_path / "live").read_text())["data"]
    assert all(set(member) == {"v"} for member in stored.values())
    assert {f"k{n}" for n in range(ENTITIES)} <= set(stored)
