"""History over REST and WebSocket from a running host: states recorded to SQLite on
disk, answered in Home Assistant's shapes."""

from __future__ import annotations

from pathlib import Path

import pytest
from recordertools import running

from gatehouse.integrations.recorder.history import iso

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


async def test_states_recorded_and_answered_by_history_period(config_dir: Path) -> None:
    async with running(config_dir) as rig:
        host = rig.host
        t0 = 1_700_000_000.0
        for index in range(5):
            host.states.set("sensor.tank", str(index), {"unit_of_measurement": "%"},
                            )
        await rig.recorder.flush()
        start = iso(t0)
        status, body = await rig.get(f"/api/history/period/{start}",
                                     filter_entity_id="sensor.tank",
                                     end_time=iso(4_000_000_000.0))
        assert status == 200, body
        assert [s["state"] for s in body[0]] == ["0", "1", "2", "3", "4"]
        first = body[0][0]
        assert first["entity_id"] == "sensor.tank"
        assert first["attributes"] == {"unit_of_measurement": "%"}
        assert first["last_changed"].endswith("+00:00")

        status, body = await rig.get(f"/api/history/period/{start}",
                                     filter_entity_id="sensor.tank",
                                     end_time=iso(4_000_000_000.0), minimal_response="",
                                     no_attributes="")
        assert status == 200
        assert body[0][0]["attributes"] == {}
        assert body[0][1] == {"state": "1", "last_changed": body[0][1]["last_changed"]}

        status, body = await rig.get(f"/api/history/period/{start}")
        assert status == 400 and "filter_entity_id" in body["message"]
        status, body = await rig.get("/api/history/period/yesterday",
                                     filter_entity_id="sensor.tank")
        assert status == 400 and "start_time" in body["message"]


async def test_attributes_stored_once(config_dir: Path) -> None:
    import sqlite3

    async with running(config_dir) as rig:
        for index in range(50):
            rig.host.states.set("sensor.same", str(index), {"unit_of_measurement": "W",
                                                            "friendly_name": "Same"})
        await rig.recorder.flush()
        conn = sqlite3.connect(rig.recorder.path)
        rows = conn.execute(
            "SELECT COUNT(*), COUNT(DISTINCT s.attributes_id) FROM states s "
            "JOIN states_meta m USING (metadata_id) WHERE m.entity_id='sensor.same'"
        ).fetchone()
        conn.close()
        assert rows == (50, 1)


async def test_websocket_history_during_period(config_dir: Path) -> None:
    async with running(config_dir) as rig:
        rig.host.states.set("switch.pump", "on", {"friendly_name": "Pump"})
        rig.host.states.set("switch.pump", "off", {"friendly_name": "Pump"})
        await rig.recorder.flush()
        answer = await rig.ws({"type": "history/history_during_period",
                               "start_time": iso(1_700_000_000.0),
                               "end_time": iso(4_000_000_000.0),
                               "entity_ids": ["switch.pump"], "minimal_response": True})
        assert answer["success"], answer
        states = answer["result"]["switch.pump"]
        assert [s["s"] for s in states] == ["on", "off"]
        assert states[0]["a"] == {"friendly_name": "Pump"}
        assert set(states[1]) == {"s", "lu"}


async def test_non_admins_see_only_readable_entities(config_dir: Path) -> None:
    async with running(config_dir) as rig:
        rig.host.states.set("sensor.tank", "1")
        rig.host.states.set("switch.pump", "on")
        await rig.recorder.flush()
        wanted = "sensor.tank,switch.pump"
        period = {"filter_entity_id": wanted, "end_time": iso(4_000_000_000.0)}
        start = f"/api/history/period/{iso(1_700_000_000.0)}"
        status, body = await rig.get(start, **period)
        assert status == 200
        assert sorted(s[0]["entity_id"] for s in body) == ["sensor.tank", "switch.pump"]
        status, body = await rig.get(start, role="user", **period)
        assert status == 200
        assert [s[0]["entity_id"] for s in body] == ["switch.pump"]
        answer = await rig.ws({"type": "history/history_during_period",
                               "start_time": iso(1_700_000_000.0),
                               "entity_ids": ["sensor.tank", "switch.pump"]}, role="user")
        assert list(answer["result"]) == ["switch.pump"]
        status, body = await rig.get(f"/api/logbook/{iso(1_700_000_000.0)}", role="user",
                                     end_time=iso(4_000_000_000.0))
        assert status == 200
        assert {e["entity_id"] for e in body} == {"switch.pump"}


async def test_logbook_entries_events_and_who_sees_them(config_dir: Path) -> None:
    async with running(config_dir) as rig:
        bus = rig.host.bus
        rig.host.states.set("switch.pump", "on", {"friendly_name": "Pump"})
        rig.host.states.set("switch.pump", "on", {"friendly_name": "Pump", "x": 1})  # attrs only
        rig.host.states.set("sensor.power", "5", {"unit_of_measurement": "W"})  # continuous
        bus.fire("logbook_entry", {"name": "Plant", "message": "started the night shift"})
        bus.fire("logbook_entry", {"name": "Pump", "message": "serviced",
                                   "entity_id": "switch.pump"})
        bus.fire("automation_triggered", {"name": "Fill", "entity_id": "automation.fill",
                                          "source": "state of sensor.level"})
        await rig.recorder.flush()
        start, end = iso(1_700_000_000.0), iso(4_000_000_000.0)
        status, body = await rig.get(f"/api/logbook/{start}", end_time=end)
        assert status == 200
        seen = [(e["name"], e.get("message") or e.get("state")) for e in body
                if e["entity_id"] != "binary_sensor.recorder_problem"]
        assert seen == [("Pump", "on"), ("Plant", "started the night shift"),
                        ("Pump", "serviced"), ("Fill", "triggered by state of sensor.level")]
        assert body[0]["when"].endswith("+00:00")
        status, body = await rig.get(f"/api/logbook/{start}", role="user", end_time=end)
        assert [(e["name"], e.get("message") or e.get("state")) for e in body] == [
            ("Pump", "on"), ("Pump", "serviced")]
        status, body = await rig.get(f"/api/logbook/{start}", end_time=end,
                                     entity="automation.fill")
        assert [e["entity_id"] for e in body] == ["automation.fill"]
        status, body = await rig.get("/api/logbook/not-a-time")
        assert status == 400 and "start_time" in body["message"]
