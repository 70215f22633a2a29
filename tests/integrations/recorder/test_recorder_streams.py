"""``history/stream`` and ``logbook/event_stream`` on a real socket: the result, the
stored part, then live changes; unsubscribing stops them; unreadable entities never
come."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from recordertools import Rig, running

from gatehouse.integrations.recorder.history import iso

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


async def _socket_session(rig: Rig, role: str, message: dict[str, Any],
                          after_history: Any) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    async with ClientSession() as session, session.ws_connect(
            f"{rig.base}/api/websocket") as sock:
        await sock.receive_json()
        await sock.send_json({"type": "auth", "access_token": rig.tokens[role]})
        assert (await sock.receive_json())["type"] == "auth_ok"
        await sock.send_json({"id": 7, **message})
        result = await sock.receive_json(timeout=10)
        assert result["type"] == "result" and result["success"], result
        stored = await sock.receive_json(timeout=10)
        assert stored["type"] == "event" and stored["id"] == 7
        got.append(stored["event"])
        after_history()
        live = await sock.receive_json(timeout=10)
        got.append(live["event"])
        await sock.send_json({"id": 8, "type": "unsubscribe_events", "subscription": 7})
        assert (await sock.receive_json(timeout=10))["success"]
        rig.host.states.set("switch.pump", "unsubscribed")  # nothing comes before the pong
        await sock.send_json({"id": 9, "type": "ping"})
        assert await sock.receive_json(timeout=10) == {"id": 9, "type": "pong"}
    return got


async def test_history_stream_sends_stored_then_live(config_dir: Path) -> None:
    async with running(config_dir) as rig:
        rig.host.states.set("switch.pump", "on")
        rig.host.states.set("sensor.secret", "1")
        got = await _socket_session(
            rig, "user",
            {"type": "history/stream", "start_time": iso(time.time() - 60),
             "entity_ids": ["switch.pump", "sensor.secret"], "minimal_response": True},
            lambda: (rig.host.states.set("sensor.secret", "2"),
                     rig.host.states.set("switch.pump", "off")))
        stored, live = got
        assert list(stored["states"]) == ["switch.pump"]
        assert [s["s"] for s in stored["states"]["switch.pump"]] == ["on"]
        assert "start_time" in stored and "end_time" in stored
        (change,) = live["states"]["switch.pump"]
        assert list(live["states"]) == ["switch.pump"]  # never sensor.secret
        assert change["s"] == "off" and change["a"] == {}
        assert abs(change["lu"] - time.time()) < 30


async def test_logbook_event_stream_sends_stored_then_live(config_dir: Path) -> None:
    async with running(config_dir) as rig:
        rig.host.states.set("switch.pump", "on", {"friendly_name": "Pump"})
        got = await _socket_session(
            rig, "admin",
            {"type": "logbook/event_stream", "start_time": iso(time.time() - 60)},
            lambda: rig.host.states.set("switch.pump", "off", {"friendly_name": "Pump"}))
        stored, live = got
        pump = [e for e in stored["events"] if e["entity_id"] == "switch.pump"]
        assert [(e["state"], e["name"]) for e in pump] == [("on", "Pump")]
        assert isinstance(pump[0]["when"], float)
        assert [(e["entity_id"], e["state"]) for e in live["events"]] == [("switch.pump", "off")]


async def test_a_period_in_the_past_sends_the_stored_part_only(config_dir: Path) -> None:
    async with running(config_dir) as rig:
        rig.host.states.set("switch.pump", "on")
        await rig.recorder.flush()
        async with ClientSession() as session, session.ws_connect(
                f"{rig.base}/api/websocket") as sock:
            await sock.receive_json()
            await sock.send_json({"type": "auth", "access_token": rig.tokens["admin"]})
            assert (await sock.receive_json())["type"] == "auth_ok"
            await sock.send_json({"id": 3, "type": "history/stream",
                                  "start_time": iso(time.time() - 3600),
                                  "end_time": iso(time.time() + 0.0),
                                  "entity_ids": ["switch.pump"]})
            assert (await sock.receive_json(timeout=10))["success"]
            stored = (await sock.receive_json(timeout=10))["event"]
            assert [s["s"] for s in stored["states"]["switch.pump"]] == ["on"]
            rig.host.states.set("switch.pump", "off")  # after the period: not sent
            await sock.send_json({"id": 4, "type": "ping"})
            assert await sock.receive_json(timeout=10) == {"id": 4, "type": "pong"}
