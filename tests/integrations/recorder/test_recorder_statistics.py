"""Long-term statistics and purging on a real SQLite file: 5-minute and hourly
mean/min/max for measurements, kept longer than raw states."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from recordertools import running

from gatehouse.core import State
from gatehouse.integrations.recorder.database import Database
from gatehouse.integrations.recorder.history import iso, statistics_json
from gatehouse.integrations.recorder.queries import statistics_during

MEASURED = {"state_class": "measurement", "unit_of_measurement": "°C"}
T0 = 1_700_000_400.0  # a 5-minute (and not an hour) boundary + 0


def _rows(path: Path, table: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return [tuple(r) for r in conn.execute(
            f"SELECT start_ts, mean, min, max FROM {table} ORDER BY start_ts")]
    finally:
        conn.close()


def test_five_minute_buckets_are_time_weighted_and_carry_flat_values(tmp_path: Path) -> None:
    start = T0 - T0 % 300
    db = Database.open(tmp_path / "r.db")
    try:
        # 10 for the first 60 s, 20 for the remaining 240 s of the bucket
        db.write([State("sensor.t", "10", MEASURED, last_updated=start)], now=start)
        db.write([State("sensor.t", "20", MEASURED, last_updated=start + 60)], now=start + 60)
        db.write([State("sensor.other", "on", {}, last_updated=start + 61)],
                 now=start + 900)  # two more buckets with no change: carried
    finally:
        db.close()
    rows = _rows(tmp_path / "r.db", "statistics_short_term")
    assert rows[0] == (start, pytest.approx(18.0), 10.0, 20.0)
    assert rows[1:] == [(start + 300, 20.0, 20.0, 20.0), (start + 600, 20.0, 20.0, 20.0)]


def test_hourly_rows_from_the_five_minute_rows(tmp_path: Path) -> None:
    hour = 1_700_002_800.0  # an hour boundary
    assert hour % 3600 == 0
    db = Database.open(tmp_path / "r.db")
    try:
        for minute in range(60):
            db.write([State("sensor.t", str(minute), MEASURED,
                            last_updated=hour + minute * 60)], now=hour + minute * 60)
        db.write([], now=hour + 3600)
    finally:
        db.close()
    hourly = _rows(tmp_path / "r.db", "statistics")
    assert hourly == [(hour, pytest.approx(29.5), 0.0, 59.0)]
    found = statistics_during(tmp_path / "r.db", ["sensor.t"], hour, hour + 3600, "hour")
    shaped = statistics_json(found, "hour", ["mean", "max"])
    assert shaped["sensor.t"] == [{"start": hour * 1000, "end": (hour + 3600) * 1000,
                                   "mean": pytest.approx(29.5), "max": 59.0}]


def test_purge_keeps_statistics_longer_than_states(tmp_path: Path) -> None:
    now = time.time()
    old = now - 20 * 86400
    db = Database.open(tmp_path / "r.db")
    try:
        db.write([State("sensor.t", "1", MEASURED, last_updated=old)], now=old)
        db.write([State("sensor.t", "2", {**MEASURED, "x": 1}, last_updated=old + 600)],
                 now=old + 900)
        db.write([State("sensor.t", "3", MEASURED, last_updated=now)], now=now)
        deleted = db.purge(10, 365, now=now)
        assert deleted == 2
        states = db.conn.execute("SELECT state FROM states").fetchall()
        assert states == [("3",)]
        attrs = db.conn.execute("SELECT COUNT(*) FROM state_attributes").fetchone()[0]
        assert attrs == 1  # the {"x": 1} row nobody references is gone
        short = db.conn.execute("SELECT COUNT(*) FROM statistics_short_term").fetchone()[0]
        assert short >= 3  # 20 days old, kept for 365
        db.write([State("sensor.t", "4", {**MEASURED, "x": 1})])  # caches forgotten: works
    finally:
        db.close()


@pytest.mark.anyio
@pytest.mark.timeout(60)
async def test_purge_service_is_admin_only_and_statistics_over_websocket(
        config_dir: Path) -> None:
    async with running(config_dir) as rig:
        host = rig.host
        problem = host.states.get("binary_sensor.recorder_problem")
        assert problem is not None and problem.state == "off"
        host.states.set("sensor.temp", "21", MEASURED)
        await rig.recorder.flush()
        purge = {"type": "call_service", "domain": "recorder", "service": "purge",
                 "service_data": {"keep_days": 0}, "return_response": True}
        refused = await rig.ws(purge, role="user")
        assert not refused["success"] and refused["error"]["code"] == "unauthorized"
        done = await rig.ws(purge)
        assert done["success"], done
        assert done["result"]["response"]["deleted"] >= 1
        answer = await rig.ws({"type": "recorder/statistics_during_period",
                               "start_time": iso(time.time() - 3600),
                               "statistic_ids": ["sensor.temp"], "period": "5minute"})
        assert answer["success"], answer
        assert answer["result"] == {}  # the first bucket is not closed yet


def test_a_long_purge_lets_queued_states_through_between_chunks(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gatehouse.integrations.recorder import database
    from gatehouse.integrations.recorder.database import state_row
    from gatehouse.integrations.recorder.writer import RecorderWriter

    monkeypatch.setattr(database, "PURGE_CHUNK", 10)
    old = time.time() - 30 * 86400
    db = Database.open(tmp_path / "r.db")
    db.write([State("sensor.old", str(n), last_updated=old + n) for n in range(55)], now=old)
    writer = RecorderWriter(db, commit_interval=60.0, max_queue=1000)
    writer.start()
    seen: list[int] = []

    def pause() -> None:  # a state arrives while the purge runs; it is committed now
        writer.offer(state_row(State("sensor.new", str(len(seen)))))
        writer.commit_queued()
        seen.append(db.conn.execute(
            "SELECT COUNT(*) FROM states s JOIN states_meta m USING (metadata_id) "
            "WHERE m.entity_id = 'sensor.new'").fetchone()[0])

    deleted = writer.call(lambda d: d.purge(10, 365, pause=pause))
    writer.close()
    assert deleted == 55
    assert seen == [1, 2, 3, 4, 5]  # each chunk boundary committed the new state
