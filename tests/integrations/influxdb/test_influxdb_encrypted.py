"""Tag encryption at rest for the InfluxDB exporter, with a real InfluxDB 1.x.

Regression: points were queued in shared messages without an entity id, so a sensitive
entity's value sat in the outbox file in clear while InfluxDB was away. Now its point
is a message of its own, stored encrypted, and written to InfluxDB decrypted."""

from __future__ import annotations

from pathlib import Path

import anyio
import anyio.to_thread
import pytest
from influxtools import InfluxServer, add_influx, assert_loaded, drained, v1_data

from gatehouse.core import Host
from gatehouse.core.crypto import configure_encryption

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(90)]

SECRET = 4711.25


async def test_a_sensitive_point_waits_encrypted_and_arrives_in_clear(
    host: Host, tmp_path: Path
) -> None:
    configure_encryption(host, {"sensitive": {"include": {"entities": ["sensor.recipe"]}}})
    server = InfluxServer(tmp_path / "influxd")
    try:
        entry = await add_influx(host, v1_data(server, "sealed"))
        assert_loaded(entry)
        host.states.set("sensor.recipe", str(SECRET), {"unit_of_measurement": "kg"})
        host.states.set("sensor.tank", "12.5", {"unit_of_measurement": "kg"})
        await entry.runtime_data.exporter.barrier()  # both points are on disk
        raw = b"".join(p.read_bytes() for p in (host.config_dir / ".storage").glob("outbox*"))
        assert str(SECRET).encode() not in raw
        assert b"12.5" in raw  # the control: an unlisted entity is stored as it is

        await anyio.to_thread.run_sync(server.start)
        server.create_database("sealed")
        await drained(entry)
        rows = await server.rows("sealed", 'SELECT * FROM "kg"')
        assert {r["entity_id"]: r["value"] for r in rows} == {
            "recipe": SECRET, "tank": 12.5}
    finally:
        server.stop()
