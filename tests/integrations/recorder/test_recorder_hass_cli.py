"""History and logbook through ``hass-cli`` (``homeassistant-cli`` 0.9.6 from PyPI, run
from its own venv ``.venv-hass-cli``, see ``hatools``), against a running host whose
recorder wrote a real SQLite file: the rows it prints are the states the test set.

What hass-cli 0.9.6 sends (``remote.get_history``): ``GET /api/history/period
?filter_entity_id=a,b&end_time=<--end>``. ``--since`` is parsed but never sent (it
formats the start into ``"/api/history/period"``, which has no placeholder), so the
server's default start applies, a day before now, as in Home Assistant; ``--end``
narrows. It has no logbook command: ``hass-cli raw get`` / ``raw ws`` is how its user
reaches ``/api/logbook`` and ``history/history_during_period``; ``raw ws`` sends the
command right behind ``auth`` without waiting for ``auth_ok``.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from recordertools import Rig, running

from gatehouse.integrations.recorder.history import iso

# hatools (the hass-cli runner) lives with the HA client tests of core/http
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "core" / "http" / "ha_api"))
from hatools import run_hass_cli

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]


async def _cli(rig: Rig, *args: str, role: str = "admin", output: str = "json",
               check: bool = True) -> Any:
    return await run_hass_cli(rig.base, rig.tokens[role], *args, output=output,
                              check=check)


def _rows(rig: Rig, *changes: tuple[str, str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Set each state; the rows HA's REST history holds for them (full states)."""
    out = []
    for entity_id, value, attributes in changes:
        rig.host.states.set(entity_id, value, attributes)
        state = rig.host.states.get(entity_id)
        assert state is not None
        out.append({"entity_id": entity_id, "state": value, "attributes": attributes,
                    "last_changed": iso(state.last_changed),
                    "last_updated": iso(state.last_updated)})
    return out


async def test_hass_cli_state_history_prints_the_recorded_rows(config_dir: Path) -> None:
    """Several entities, interleaved changes, one not asked for: hass-cli prints the
    asked ones' rows, grouped per entity in the order given, as the host set them."""
    async with running(config_dir) as rig:
        tank = {"unit_of_measurement": "%", "friendly_name": "Tank"}
        pump = {"friendly_name": "Pump"}
        rows = _rows(rig, ("sensor.tank", "1.5", tank), ("switch.pump", "on", pump),
                     ("sensor.tank", "2.5", tank), ("sensor.other", "7", {}),
                     ("switch.pump", "off", pump))
        await rig.recorder.flush()
        got = await _cli(rig, "state", "history", "sensor.tank", "switch.pump",
                         "--since", "1 hour ago", "--end", "now")
        by_entity = [r for r in rows if r["entity_id"] == "sensor.tank"] + [
            r for r in rows if r["entity_id"] == "switch.pump"]
        assert got == by_entity


async def test_hass_cli_state_history_sends_no_start(config_dir: Path) -> None:
    """What the docstring above says hass-cli sends, read from its ``--debug`` log
    (urllib3's request line): no start in the path whatever ``--since`` says, the ids
    joined, ``--end`` as ISO 8601 in UTC; and the rows it printed are ours. If a later
    hass-cli sends the start, this fails and the README's note on it goes."""
    async with running(config_dir) as rig:
        rows = _rows(rig, ("sensor.tank", "1.5", {}), ("switch.pump", "on", {}))
        await rig.recorder.flush()
        before = datetime.now(UTC)
        out, err, code = await _cli(rig, "--debug", "state", "history", "sensor.tank",
                                    "switch.pump", "--since", "3 hours ago", check=False)
        assert code == 0, err
        sent = re.findall(r'"GET (\S+) HTTP/1\.1" 200', err)
        assert len(sent) == 1, err
        url = urlsplit(sent[0])
        assert url.path == "/api/history/period"
        query = parse_qs(url.query)
        assert sorted(query) == ["end_time", "filter_entity_id"]
        assert query["filter_entity_id"] == ["sensor.tank,switch.pump"]
        end = datetime.fromisoformat(query["end_time"][0])
        assert end.utcoffset() is not None
        assert before <= end <= datetime.now(UTC)
        # --debug also prints http.client's trace on stdout, before the JSON
        assert json.loads(out[out.index("\n[") + 1:]) == rows


def _updated(rig: Rig, entity_id: str) -> float:
    state = rig.host.states.get(entity_id)
    assert state is not None
    return state.last_updated


def _day_first(ts: float) -> str:
    """A time as hass-cli reads absolute times correctly: day first (it parses with
    dateparser's ``DATE_ORDER: DMY``, so ISO 8601 ``2026-12-04`` is read as 12 April)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%d-%m-%Y %H:%M:%S.%f")


async def test_hass_cli_state_history_end_narrows_the_period(config_dir: Path) -> None:
    """``--end`` as an absolute time between two changes, and as a relative time."""
    async with running(config_dir) as rig:
        first = _rows(rig, ("sensor.tank", "1.5", {}), ("switch.pump", "on", {}))
        before = _updated(rig, "switch.pump")
        await rig.recorder.flush()  # a thread round trip: microseconds apart at least
        later = _rows(rig, ("sensor.tank", "2.5", {}), ("switch.pump", "off", {}))
        after = _updated(rig, "sensor.tank")
        assert after - before > 2e-6  # a microsecond between them, as hass-cli sends
        await rig.recorder.flush()
        between = _day_first((before + after) / 2)
        got = await _cli(rig, "state", "history", "sensor.tank", "switch.pump",
                         "--since", "1d", "--end", between)
        assert got == first
        got = await _cli(rig, "state", "history", "switch.pump", "--end", "now")
        assert got == [first[1], later[1]]
        assert await _cli(rig, "state", "history", "sensor.tank", "switch.pump",
                          "--end", "1 hour ago") == []


async def test_hass_cli_state_history_table_and_permissions(config_dir: Path) -> None:
    """The table hass-cli prints by default (entity, friendly name, state, changed), and
    a user whose policy reads switches only: the sensor's rows are left out."""
    async with running(config_dir) as rig:
        rows = _rows(rig, ("sensor.tank", "1.5", {"friendly_name": "Tank"}),
                     ("switch.pump", "on", {"friendly_name": "Pump"}))
        await rig.recorder.flush()
        out, _err, code = await _cli(rig, "state", "history", "sensor.tank", "switch.pump",
                                     output="table", check=False)
        assert code == 0, out
        assert [line.split() for line in out.splitlines()] == [
            [r["entity_id"], r["attributes"]["friendly_name"], r["state"], r["last_changed"]]
            for r in rows]
        got = await _cli(rig, "state", "history", "sensor.tank", "switch.pump",
                         role="user")
        assert got == rows[1:]
        assert await _cli(rig, "state", "history", "sensor.nothing_here") == []
        # ids as typed (HA lowercases them), each once
        assert await _cli(rig, "state", "history", "SWITCH.Pump", "switch.pump") == rows[1:]


async def test_hass_cli_state_history_bad_end_is_a_legible_error(config_dir: Path) -> None:
    """hass-cli's own documented ISO form ``2016-02-06T22:15:00+00:00`` is read day
    first (6 February becomes 2 June): an end before the start the server takes
    (a day ago, --since is not sent) is refused naming ``end_time``, and hass-cli prints
    that and exits 1. (Home Assistant's view does not compare the two and answers 200:
    the user would see an empty or stale table instead of the reason.)"""
    async with running(config_dir) as rig:
        _rows(rig, ("sensor.tank", "1.5", {}))
        await rig.recorder.flush()
        out, err, code = await _cli(rig, "state", "history", "sensor.tank",
                                    "--end", "2016-02-06T22:15:00+00:00", check=False)
        assert (out, code) == ("", 1)
        assert "end_time: before the start time" in err


async def test_hass_cli_raw_logbook_and_websocket_history(config_dir: Path) -> None:
    """What hass-cli has for the logbook and the WebSocket history: ``raw get`` and
    ``raw ws`` (the command sent right behind ``auth``, before ``auth_ok``)."""
    async with running(config_dir) as rig:
        start = datetime.now(UTC).isoformat()
        rows = _rows(rig, ("switch.pump", "on", {"friendly_name": "Pump"}),
                     ("switch.pump", "off", {"friendly_name": "Pump"}),
                     ("sensor.tank", "1.5", {}))
        await rig.recorder.flush()
        entries = await _cli(rig, "raw", "get",
                             f"/api/logbook/{start}?entity=switch.pump")
        assert [(e["entity_id"], e["state"], e["name"], e["when"]) for e in entries] == [
            ("switch.pump", r["state"], "Pump", r["last_changed"]) for r in rows[:2]]
        answer = await _cli(rig, "raw", "ws", "history/history_during_period", "--json",
                            json.dumps({"start_time": start,
                                        "entity_ids": ["switch.pump", "sensor.tank"],
                                        "minimal_response": True}))
        assert answer["success"] is True, answer
        history = answer["result"]
        assert list(history) == ["switch.pump", "sensor.tank"]
        assert [s["s"] for s in history["switch.pump"]] == ["on", "off"]
        assert [s["s"] for s in history["sensor.tank"]] == ["1.5"]
        assert history["switch.pump"][0]["a"] == {"friendly_name": "Pump"}
        assert [s["lu"] for s in history["switch.pump"]] == pytest.approx(
            [datetime.fromisoformat(r["last_updated"]).timestamp() for r in rows[:2]],
            abs=1e-6)
