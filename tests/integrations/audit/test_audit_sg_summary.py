"""schema_guard's rejections reach the log as one summary per interval, not one record
per message: a real schema_guard entry (schema file, SQLite quarantine) refuses
messages, its counter sensors move, and the audit entry records the increase."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from auditools import records

from gatehouse.core.testing import make_host, wait_until
from gatehouse.integrations.schema_guard.api import guard_for

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object", "required": ["temp"],
    "properties": {"temp": {"type": "number", "maximum": 150}},
}
TOPIC = "site/north/device/pump-1/telemetry"


async def test_rejections_are_summarised_per_rule_and_interval(config_dir: Path) -> None:
    (config_dir / "schemas").mkdir()
    (config_dir / "schemas" / "telemetry.v1.json").write_text(json.dumps(SCHEMA))
    (config_dir / "configuration.yaml").write_text(textwrap.dedent("""\
        gatehouse:
          control_socket: false
        schema_guard:
          name: Guard
          stats_interval: 0.05
          rules:
            - topic: site/+/device/{source}/telemetry
              name: telemetry
              schema: telemetry
        audit:
          summary_interval: 0.1
        """), encoding="utf-8")
    host = make_host(config_dir)
    async with host.running():
        guard = guard_for(host)
        for n in range(5):
            guard.check(TOPIC, json.dumps({"temp": 200 + n}).encode())
        guard.check(TOPIC, json.dumps({"temp": 20}).encode())  # accepted: not counted
        directory = host.storage_dir / "audit"

        def summaries() -> list[dict[str, Any]]:
            try:
                found = records(directory)
            except ValueError:  # a line being written: look again
                return []
            return [r for r in found if r["action"] == "schema_guard.rejections"]

        await wait_until(lambda: sum(r["details"]["total"] for r in summaries()) >= 5, 10,
                         "a summary of the 5 rejections")
        found = summaries()
        assert sum(r["details"]["total"] for r in found) == 5
        assert len(found) <= 2  # a summary per interval, not a record per message
        counted: dict[str, int] = {}
        for r in found:
            for entity_id, n in r["details"]["by_entity"].items():
                counted[entity_id] = counted.get(entity_id, 0) + n
        assert counted == {"sensor.guard_telemetry_quarantined": 5}
