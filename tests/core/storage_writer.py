"""Child process for the storage crash test: save a Store in a tight loop until killed.

Usage: ``python storage_writer.py STORAGE_DIR KEY``

It first loads whatever the previous (killed) writer left, which must be a complete,
self-consistent payload, prints ``loaded <seq>`` (or ``loaded none``), then saves
payloads ``{"seq": s, "n": n, "items": ["s:0", ..., "s:n-1"]}`` with ever-growing
``seq`` and prints ``saved <seq>`` after each save has returned, i.e. once the write is
durable. The parent SIGKILLs it at a random moment and checks the file.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import anyio

from gatehouse.core.storage import Store

BASE_ITEMS = 20_000


def make_payload(seq: int) -> dict[str, Any]:
    n = BASE_ITEMS + seq % 1000
    return {"seq": seq, "n": n, "items": [f"{seq}:{j}" for j in range(n)]}


def check_payload(data: Any) -> int:
    """Return the payload's seq after checking it is complete; raise if it is not."""
    seq = data["seq"]
    items = data["items"]
    if data["n"] != len(items) or items != [f"{seq}:{j}" for j in range(len(items))]:
        raise AssertionError(f"inconsistent payload for seq {seq}")
    return int(seq)


async def main(storage_dir: Path, key: str) -> None:
    store: Store[dict[str, Any]] = Store(storage_dir, key, 1)
    loaded = await store.load()
    seq = 0 if loaded is None else check_payload(loaded) + 1
    print(f"loaded {'none' if loaded is None else seq - 1}", flush=True)
    while True:
        await store.save(make_payload(seq))
        print(f"saved {seq}", flush=True)
        seq += 1


if __name__ == "__main__":
    anyio.run(main, Path(sys.argv[1]), sys.argv[2])
