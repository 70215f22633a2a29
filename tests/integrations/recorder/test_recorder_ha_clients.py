"""History and logbook through a Home Assistant client from PyPI (``homeassistant-api``'s
AsyncClient, its pydantic models), against a running host whose recorder wrote a real
SQLite file: the shapes that client parses.

``hass-cli state history`` is driven in ``test_recorder_hass_cli.py``, from a venv of
its own (``.venv-hass-cli``, made by ``scripts/_setup.sh`` in test mode): hass-cli
0.9.6's published requirements break it in its own process before any request (the
dateparser<0.8 it pins imports ``six``, which nothing installs, and fails with every
regex>=2022.9 it also pins: "bad escape \\d"), so that venv adds ``six`` and pins
regex back to 2021.11.10 with ``--no-deps``, as its user would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from homeassistant_api import AsyncClient
from recordertools import running

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(90)]

async def test_homeassistant_api_reads_history_and_logbook(config_dir: Path) -> None:
    async with running(config_dir) as rig:
        for value in ("1.5", "2.5"):
            rig.host.states.set("sensor.tank", value, {"unit_of_measurement": "%"})
        rig.host.states.set("switch.pump", "on", {"friendly_name": "Pump"})
        await rig.recorder.flush()
        start = datetime.now(UTC) - timedelta(hours=1)
        async with AsyncClient(rig.base + "/api", rig.tokens["admin"]) as api:
            tank = await api.get_entity(entity_id="sensor.tank")
            assert tank is not None
            histories = [h async for h in api.get_entity_histories(
                entities=(tank,), start_timestamp=start,
                end_timestamp=datetime.now(UTC))]
            assert [h.entity_id for h in histories] == ["sensor.tank"]
            assert [s.state for s in histories[0].states] == ["1.5", "2.5"]
            entries = [e async for e in api.get_logbook_entries(
                filter_entities="switch.pump", start_timestamp=start)]
            assert [(e.entity_id, e.state, e.name) for e in entries] == [
                ("switch.pump", "on", "Pump")]
