"""States that exist before the recorder starts are in its history.

Regression (found by the Home Assistant client tests): history began with the first
change after the recorder's entry was set up, so a state made earlier (by entries set
up before it, or before a reload) had no row, and the first change after start
seemed to come from nowhere. Now the recorder writes the current states first, once,
skipping those it already holds (a reload adds no duplicates).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from recordertools import running

from gatehouse.integrations.recorder.history import iso

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


def rows(path: Path, entity_id: str) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [r[0] for r in conn.execute(
            "SELECT s.state FROM states s JOIN states_meta m USING (metadata_id) "
            "WHERE m.entity_id = ? ORDER BY s.state_id", (entity_id,))]
    finally:
        conn.close()


async def test_states_made_before_the_recorder_are_recorded_once(config_dir: Path) -> None:
    async with running(config_dir) as rig:
        host = rig.host
        recorder = rig.recorder
        (entry,) = host.config_entries.entries("recorder")
        await host.config_entries.unload(entry.entry_id)
        host.states.set("sensor.early", "before", {"unit_of_measurement": "V"})
        await host.config_entries.setup(entry.entry_id)
        recorder = rig.recorder
        host.states.set("sensor.early", "after", {"unit_of_measurement": "V"})
        await recorder.flush()
        assert rows(recorder.path, "sensor.early") == ["before", "after"]
        status, body = await rig.get(f"/api/history/period/{iso(1_700_000_000.0)}",
                                     filter_entity_id="sensor.early",
                                     end_time=iso(4_000_000_000.0))
        assert status == 200
        assert [s["state"] for s in body[0]] == ["before", "after"]

        # A reload sees the same current states: nothing is written twice.
        await host.config_entries.reload(entry.entry_id)
        await rig.recorder.flush()
        assert rows(rig.recorder.path, "sensor.early") == ["before", "after"]
