"""``logbook/get_events`` over a real WebSocket, as Home Assistant's: the stored logbook
entries of a period (the same as ``GET /api/logbook``'s, ``when`` in POSIX seconds),
narrowed by entities and devices, filtered by the caller's permissions; a start in the
future answers ``[]``, an end before the start is refused naming the field."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from recordertools import Rig, running

from gatehouse.core.http.server import HTTP_SERVER
from gatehouse.core.permissions import Policy
from gatehouse.integrations.recorder import wstext
from gatehouse.integrations.recorder.history import iso

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

START, END = iso(1_700_000_000.0), iso(4_000_000_000.0)
PROBLEM = "binary_sensor.recorder_problem"


async def _fill(rig: Rig) -> tuple[str, str]:
    """Two devices' entities, a continuous sensor, events with and without entity;
    the two device ids."""
    host = rig.host
    pumps = host.device_registry.get_or_create("x", {"identifiers": {("t", "pumps")}})
    lamps = host.device_registry.get_or_create("x", {"identifiers": {("t", "lamps")}})
    host.entity_registry.get_or_create("switch", "t", "pump", suggested_object_id="pump",
                                       device_id=pumps.id)
    host.entity_registry.get_or_create("light", "t", "desk", suggested_object_id="desk",
                                       device_id=lamps.id)
    host.states.set("switch.pump", "on", {"friendly_name": "Pump"})
    host.states.set("switch.pump", "on", {"friendly_name": "Pump", "x": 1})  # attrs only
    host.states.set("light.desk", "on", {"friendly_name": "Desk"})
    host.states.set("sensor.power", "5", {"unit_of_measurement": "W"})  # continuous
    host.states.set("lock.door", "locked")
    host.bus.fire("logbook_entry", {"name": "Plant", "message": "night shift"})
    host.bus.fire("logbook_entry", {"name": "Pump", "message": "serviced",
                                    "entity_id": "switch.pump"})
    host.bus.fire("automation_triggered", {"name": "Fill", "entity_id": "automation.fill",
                                           "source": "state of sensor.level"})
    host.states.set("switch.pump", "off", {"friendly_name": "Pump"})
    await rig.recorder.flush()
    return pumps.id, lamps.id


def _same(ws: list[dict[str, Any]], rest: list[dict[str, Any]]) -> bool:
    """Equal entries, ``when`` in POSIX seconds over the WebSocket and ISO 8601 (to
    the microsecond) over REST."""
    def plain(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in e.items() if k != "when"} for e in entries]

    seconds = [datetime.fromisoformat(e["when"]).timestamp() for e in rest]
    return len(ws) == len(rest) and plain(ws) == plain(rest) and all(
        abs(e["when"] - t) < 2e-6 for e, t in zip(ws, seconds, strict=True))


async def _get(rig: Rig, role: str = "admin", **fields: Any) -> dict[str, Any]:
    return await rig.ws({"type": "logbook/get_events", **fields}, role=role)


def _ids(answer: dict[str, Any]) -> list[str | None]:
    assert answer["success"], answer
    return [e["entity_id"] for e in answer["result"] if e["entity_id"] != PROBLEM]


async def test_entries_equal_the_rest_logbooks(config_dir: Path) -> None:
    """The same rows through the same entry building: REST's entries, ``when`` in
    seconds; for an admin (events about no entity included) and for a user."""
    async with running(config_dir) as rig:
        await _fill(rig)
        for role in ("admin", "user", "read_only"):
            status, rest = await rig.get(f"/api/logbook/{START}", role=role, end_time=END)
            assert status == 200
            answer = await _get(rig, role, start_time=START, end_time=END)
            assert answer["success"], answer
            assert _same(answer["result"], rest), role
            assert len(rest) >= (7 if role == "admin" else 1)
            assert all(type(e["when"]) is float for e in answer["result"])
        admin = [e for e in (await _get(rig, start_time=START))["result"]
                 if e["entity_id"] != PROBLEM]
        # no end: until now (HA's WebSocket default), the same as REST's for the day
        assert [(e["name"], e.get("message") or e.get("state")) for e in admin] == [
            ("Pump", "on"), ("Desk", "on"), ("lock.door", "locked"),
            ("Plant", "night shift"), ("Pump", "serviced"),
            ("Fill", "triggered by state of sensor.level"), ("Pump", "off")]
        assert abs(admin[-1]["when"] - time.time()) < 30


async def test_entity_and_device_filters(config_dir: Path) -> None:
    async with running(config_dir) as rig:
        pumps, lamps = await _fill(rig)
        span = {"start_time": START, "end_time": END}
        assert _ids(await _get(rig, entity_ids=["switch.pump"], **span)) == [
            "switch.pump", "switch.pump", "switch.pump"]
        assert _ids(await _get(rig, entity_ids=["Automation.Fill"], **span)) == [
            "automation.fill"]
        # a device: its entities (the registry's), their state changes and events
        assert _ids(await _get(rig, device_ids=[pumps], **span)) == [
            "switch.pump", "switch.pump", "switch.pump"]
        # both: together, as HA
        assert _ids(await _get(rig, device_ids=[lamps], entity_ids=["lock.door"],
                               **span)) == ["light.desk", "lock.door"]
        # an unknown device, or only continuous sensors: nothing (not everything)
        assert (await _get(rig, device_ids=["nope"], **span))["result"] == []
        assert (await _get(rig, entity_ids=["sensor.power"], **span))["result"] == []
        # empty lists are no filter, as HA's ``if entity_ids:``
        everything = await _get(rig, **span)
        assert (await _get(rig, entity_ids=[], device_ids=[], **span)) == everything
        assert len(_ids(everything)) == 7


async def test_users_see_only_what_they_may_read(config_dir: Path) -> None:
    """A read-only user limited to lights, and a user limited to switches: neither
    sees the other's entities, nor events about no entity, whatever they ask for."""
    async with running(config_dir) as rig:
        pumps, lamps = await _fill(rig)
        server = rig.host.data.get(HTTP_SERVER)
        assert server is not None
        auth = server.runtime.auth
        viewer = await auth.create_user("rec_viewer", "rec password", role="read_only")
        viewer = await auth.update_user(viewer.id, by=None, policy=Policy(read=("light.*",)))
        rig.tokens["viewer"] = (await auth.create_token(viewer, "tests"))[1]
        span = {"start_time": START, "end_time": END}
        assert _ids(await _get(rig, "viewer", **span)) == ["light.desk"]
        assert _ids(await _get(rig, "viewer", device_ids=[pumps, lamps], **span)) == [
            "light.desk"]
        assert _ids(await _get(rig, "viewer", entity_ids=["switch.pump"], **span)) == []
        assert set(_ids(await _get(rig, "user", **span))) == {"switch.pump"}
        assert _ids(await _get(rig, "user", device_ids=[lamps], **span)) == []


async def test_period_and_field_errors(config_dir: Path) -> None:
    async with running(config_dir) as rig:
        await _fill(rig)
        future = iso(time.time() + 3600)
        for role in ("admin", "user", "read_only"):
            answer = await _get(rig, role, start_time=future)
            assert answer["success"] and answer["result"] == [], answer
        answer = await _get(rig, start_time=END, end_time=START)
        assert answer["success"] is False
        assert answer["error"]["code"] == "invalid_format"
        assert "end_time" in answer["error"]["message"]
        answer = await _get(rig, start_time="yesterday")
        assert not answer["success"] and "start_time" in answer["error"]["message"]
        answer = await _get(rig)
        assert not answer["success"] and "start_time" in answer["error"]["message"]
        answer = await _get(rig, start_time=START, entity_id="switch.pump")
        assert answer["error"]["code"] == "invalid_format"
        assert "entity_id" in answer["error"]["message"]
        answer = await _get(rig, start_time=START, entity_ids="switch.pump")
        assert not answer["success"] and "entity_ids" in answer["error"]["message"]
        # not kept by the recorder: refused by name, not answered with a false []
        answer = await _get(rig, start_time=START, context_id="01HXYZ")
        assert answer["error"]["code"] == "invalid_format"
        assert "context_id" in answer["error"]["message"]


async def test_answer_bounded_and_encoded_off_the_loop(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One message held whole: past ``wstext.MAX_ANSWER_BYTES`` it is refused with the
    ways to get the entries; below, it is sent as encoded in the worker thread."""
    encoded_in: set[int] = set()
    compact = wstext.compact

    def recording(value: Any) -> str:
        encoded_in.add(threading.get_ident())
        return compact(value)

    monkeypatch.setattr(wstext, "compact", recording)
    async with running(config_dir) as rig:
        for index in range(300):
            rig.host.states.set("switch.busy", str(index))
        await rig.recorder.flush()
        span = {"start_time": START, "end_time": END, "entity_ids": ["switch.busy"]}
        answer = await _get(rig, **span)
        assert len(answer["result"]) == 300
        assert encoded_in and threading.get_ident() not in encoded_in  # not on the loop
        size = len(json.dumps(answer["result"], separators=(",", ":")))
        monkeypatch.setattr(wstext, "MAX_ANSWER_BYTES", size - 1)
        answer = await _get(rig, **span)
        assert answer["success"] is False
        message = answer["error"]["message"]
        assert "larger than" in message and "/api/logbook" in message
        monkeypatch.setattr(wstext, "MAX_ANSWER_BYTES", size)
        answer = await _get(rig, **span)
        assert [e["state"] for e in answer["result"]] == [str(i) for i in range(300)]


async def test_answer_is_one_valid_frame_with_unicode(config_dir: Path) -> None:
    """The bytes go out as they are (``RawJson``): a name outside ASCII and a control
    character still make one valid JSON frame the client parses."""
    async with running(config_dir) as rig:
        rig.host.states.set("switch.kaffee", "an", {"friendly_name": "Kaffeemühle \u2615\n"})
        await rig.recorder.flush()
        async with ClientSession() as session, session.ws_connect(
                f"{rig.base}/api/websocket") as sock:
            await sock.receive_json()
            await sock.send_json({"type": "auth", "access_token": rig.tokens["admin"]})
            assert (await sock.receive_json())["type"] == "auth_ok"
            await sock.send_json({"id": 3, "type": "logbook/get_events",
                                  "start_time": START, "entity_ids": ["switch.kaffee"]})
            frame = json.loads(await sock.receive_str(timeout=10))
        assert frame["id"] == 3 and frame["type"] == "result" and frame["success"]
        (entry,) = frame["result"]
        assert entry["name"] == "Kaffeemühle \u2615\n" and entry["state"] == "an"


async def _stream_first(rig: Rig, **fields: Any) -> dict[str, Any]:
    """``logbook/event_stream``'s first answer after its result: the stored part (or
    the refusal, which then comes instead of the result)."""
    async with ClientSession() as session, session.ws_connect(
            f"{rig.base}/api/websocket") as sock:
        await sock.receive_json()
        await sock.send_json({"type": "auth", "access_token": rig.tokens["admin"]})
        assert (await sock.receive_json())["type"] == "auth_ok"
        await sock.send_json({"id": 1, "type": "logbook/event_stream", **fields})
        result: dict[str, Any] = await sock.receive_json(timeout=10)
        if not result["success"]:
            return result
        stored: dict[str, Any] = await sock.receive_json(timeout=10)
        return stored


async def test_the_stream_takes_device_ids_and_is_bounded_as_get_events(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: ``logbook/event_stream`` accepted ``device_ids`` and ignored them
    (every entity was sent). Its stored part now uses get_events' filter and bound."""
    async with running(config_dir) as rig:
        pumps, _lamps = await _fill(rig)
        span = {"start_time": START, "end_time": END}
        stored = await _stream_first(rig, device_ids=[pumps], **span)
        assert [e["entity_id"] for e in stored["event"]["events"]] == [
            "switch.pump", "switch.pump", "switch.pump"]
        got = await _get(rig, device_ids=[pumps], **span)
        assert stored["event"]["events"] == got["result"]
        stored = await _stream_first(rig, device_ids=["nope"], **span)
        assert stored["event"]["events"] == []
        monkeypatch.setattr(wstext, "MAX_ANSWER_BYTES", 100)
        refused = await _stream_first(rig, **span)
        assert refused["success"] is False
        assert "larger than" in refused["error"]["message"]


async def test_over_the_row_limit_the_answer_is_a_whole_prefix_of_the_period(
    config_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Regression: states and events were each cut at the row limit on their own, so
    past the states' cut the answer went on with events only, as if no state had
    changed. Now both are cut at the earlier cut (a complete part of the period) and
    the cut is logged with how to get the rest."""
    from gatehouse.integrations.recorder import queries

    async with running(config_dir) as rig:
        for index in range(30):
            rig.host.states.set("switch.pump", "on" if index % 2 else "off")
            rig.host.bus.fire("logbook_entry", {"name": "Plant", "message": f"m{index}"})
        await rig.recorder.flush()
        everything = queries.logbook_rows(rig.recorder.path, 0, 4e9, None,
                                          ["logbook_entry"], None)
        cut = queries.logbook_rows(rig.recorder.path, 0, 4e9, None, ["logbook_entry"],
                                   None, limit=10)
        assert 0 < len(cut) < 20
        assert cut == everything[:len(cut)]  # a prefix: nothing left out before the cut
        kinds = {row.event_type is None for row in cut}
        assert kinds == {True, False}  # states and events both, up to the same time
        assert "logbook cut at 10 rows" in caplog.text
