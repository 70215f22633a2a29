"""The recorder's size bound (issue 15: every store that grows has a size bound).

``purge_keep_days`` bounds by age only, so a burst of fast-changing entities could fill
a small disk within the kept days. ``max_size_mb`` bounds the used pages: the oldest
states and events go first (statistics stay), checked every 10 minutes and on demand.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from recordertools import running

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]


def states_of(path: Path) -> list[int]:
    conn = sqlite3.connect(path)
    try:
        return [int(r[0]) for r in conn.execute(
            "SELECT s.state FROM states s JOIN states_meta m USING (metadata_id) "
            "WHERE m.entity_id = 'sensor.burst' ORDER BY s.state_id")]
    finally:
        conn.close()


async def test_the_oldest_rows_go_until_the_database_fits(config_dir: Path) -> None:
    recorder_yaml = "recorder:\n  commit_interval: 0.05\n  max_size_mb: 1\n"
    async with running(config_dir, recorder=recorder_yaml) as rig:
        host = rig.host
        for n in range(12_000):  # each with its own attributes: ~2-3 MiB of pages
            host.states.set("sensor.burst", str(n), {"note": f"reading {n} " + "x" * 64})
        recorder = rig.recorder
        await recorder.flush()

        def used() -> int:
            return int(recorder.writer.call(lambda db: db.used_bytes()))

        import anyio.to_thread

        before = await anyio.to_thread.run_sync(used)
        assert before > 1024 * 1024  # over the bound: the test means something
        deleted = await recorder.trim()
        assert deleted > 0
        after = await anyio.to_thread.run_sync(used)
        assert after <= 1024 * 1024
        kept = states_of(recorder.path)
        assert kept and kept[-1] == 11_999  # the newest stay
        assert kept == list(range(kept[0], 12_000))  # the oldest went, in order
        assert await recorder.trim() == 0  # within the bound: nothing more to delete
