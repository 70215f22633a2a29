"""Sensitive entities are stored sealed (no plaintext in the file) and opened on read
for users who may read them; the entity filter decides what is recorded at all."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from recordertools import BASE_CONFIG, running

from gatehouse.integrations.recorder.history import iso

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

SEALED = BASE_CONFIG.replace("gatehouse:\n  control_socket: false\n", """\
gatehouse:
  control_socket: false
  encryption:
    sensitive:
      include:
        entities: [sensor.recipe]
""")
PERIOD = {"end_time": iso(4_000_000_000.0)}
START = f"/api/history/period/{iso(1_700_000_000.0)}"


def _file_bytes(config_dir: Path) -> bytes:
    return b"".join((config_dir / name).read_bytes() for name in os.listdir(config_dir)
                    if name.startswith("gatehouse_v2.db"))


async def test_sensitive_values_sealed_on_disk_and_opened_for_readers(
        config_dir: Path) -> None:
    async with running(config_dir, base=SEALED) as rig:
        assert rig.recorder.cipher is not None
        rig.host.states.set("sensor.recipe", "SECRET-RECIPE-42", {"batch": "TOPSECRET-ATTR"})
        rig.host.states.set("sensor.plain", "visible-value")
        await rig.recorder.flush()
        status, body = await rig.get(START, filter_entity_id="sensor.recipe,sensor.plain",
                                     **PERIOD)
        assert status == 200
        by_id = {states[0]["entity_id"]: states[0] for states in body}
        assert by_id["sensor.recipe"]["state"] == "SECRET-RECIPE-42"
        assert by_id["sensor.recipe"]["attributes"] == {"batch": "TOPSECRET-ATTR"}
        await rig.recorder.close()  # the WAL checkpointed into the file too
        raw = _file_bytes(config_dir)
        assert b"visible-value" in raw
        assert b"SECRET-RECIPE-42" not in raw and b"TOPSECRET-ATTR" not in raw


async def test_the_entity_filter_decides_what_is_recorded(config_dir: Path) -> None:
    recorder = """\
    recorder:
      commit_interval: 0.05
      exclude:
        entity_globs: ["sensor.*_debug"]
    """
    async with running(config_dir, recorder=recorder) as rig:
        rig.host.states.set("sensor.pump_debug", "noise")
        rig.host.states.set("sensor.pump", "kept")
        await rig.recorder.flush()
        status, body = await rig.get(START, filter_entity_id="sensor.pump_debug,sensor.pump",
                                     **PERIOD)
        assert status == 200
        assert [states[0]["entity_id"] for states in body] == ["sensor.pump"]
