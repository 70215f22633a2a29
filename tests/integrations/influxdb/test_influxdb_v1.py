"""The writer against a real InfluxDB 1.x: refusals isolated to the refused points,
batching by time, query sensors, ``influxdb.write``; outages in test_influxdb_outage.py.

One ``influxd`` for the module; each test writes to its own database.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

import anyio
import pytest
from influxtools import (
    InfluxServer,
    add_influx,
    assert_loaded,
    dead_letters,
    drained,
    v1_data,
)

from gatehouse.core import Host
from gatehouse.core.testing import state_of, wait_until
from gatehouse.integrations.influxdb.errors import InfluxWriteError

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


@pytest.fixture(scope="module")
def influx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    server = InfluxServer(tmp_path_factory.mktemp("influxd"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def db(influx: InfluxServer, request: pytest.FixtureRequest) -> str:
    name = "v1_" + request.node.name.replace("[", "_").replace("]", "")[:50]
    influx.create_database(name)
    return name


async def write(host: Host, **data: object) -> None:
    await host.services.call("influxdb", "write", dict(data), blocking=True)


async def test_type_conflict_named_by_the_server_dead_letters_only_that_point(
    host: Host, influx: InfluxServer, db: str
) -> None:
    entry = await add_influx(host, v1_data(influx, db))
    await write(host, measurement="m", fields={"f": 1.0}, time=1)
    await drained(entry)
    # One request: the server writes the good points and names the conflict.
    points = [{"measurement": "m", "fields": {"f": float(i)}, "time": i} for i in range(2, 12)]
    points.insert(5, {"measurement": "m", "fields": {"f": "text"}, "time": 100})
    await write(host, points=points)
    await drained(entry)
    dead = await dead_letters(entry)
    assert len(dead) == 1
    assert dead[0].payload == b'm f="text" 100000000000'
    assert "field type conflict" in dead[0].reason
    assert 'input field \\"f\\" on measurement \\"m\\"' in dead[0].reason or (
        'input field "f" on measurement "m"' in dead[0].reason
    )
    rows = await influx.rows(db, "SELECT f FROM m")
    assert [r["f"] for r in rows] == [float(i) for i in range(1, 12)]
    assert entry.runtime_data.sender.bisections == 0


async def test_conflict_inside_one_request_is_found_by_bisection(
    host: Host, influx: InfluxServer, db: str
) -> None:
    """A new measurement with two types in one request: 1.x answers a bare
    ``field type conflict`` that names nothing."""
    entry = await add_influx(host, v1_data(influx, db))
    points = [{"measurement": "fresh", "fields": {"f": float(i)}, "time": i} for i in range(40)]
    points[23] = {"measurement": "fresh", "fields": {"f": "odd"}, "time": 23}
    await write(host, points=points)
    await drained(entry)
    dead = await dead_letters(entry)
    assert [d.payload for d in dead] == [b'fresh f="odd" 23000000000']
    rows = await influx.rows(db, "SELECT f FROM fresh")
    assert len(rows) == 39
    assert entry.runtime_data.sender.bisections >= 1


async def test_points_beyond_the_retention_policy_are_dead_lettered_alone(
    host: Host, influx: InfluxServer, db: str
) -> None:
    influx.query_sync(f'CREATE RETENTION POLICY "hour" ON "{db}" DURATION 1h REPLICATION 1',
                      method="POST")
    entry = await add_influx(host, v1_data(influx, db, retention_policy="hour"))
    now = time.time()
    points = [{"measurement": "r", "fields": {"v": i}, "time": now - i} for i in range(10)]
    points.append({"measurement": "r", "fields": {"v": 99}, "time": now - 7200})
    await write(host, points=points)
    await drained(entry)
    dead = await dead_letters(entry)
    assert len(dead) == 1 and b"v=99i" in dead[0].payload
    assert "beyond retention policy" in dead[0].reason
    rows = await influx.rows(db, 'SELECT v FROM "hour"."r"')
    assert sorted(r["v"] for r in rows) == list(range(10))


async def test_flush_interval_gathers_a_trickle_into_few_requests(
    host: Host, influx: InfluxServer, db: str
) -> None:
    """Ten states 50 ms apart, flush_interval 0.4 s: nothing is written before the
    first state is 0.4 s old, and the trickle makes about two requests per interval (the first
    batch waits for its oldest point; the points that came meanwhile follow in one)."""
    entry = await add_influx(host, v1_data(influx, db, flush_interval=0.4))
    sender = entry.runtime_data.sender
    first = time.time()
    for i in range(10):
        host.states.set("sensor.trickle", str(i))
        if time.time() - first < 0.35:  # (a loaded machine may pace slower)
            assert sender.requests == 0
        await anyio.sleep(0.05)  # the trickle itself (pacing, not synchronisation)
    await drained(entry)
    intervals = math.ceil((time.time() - first) / 0.4)
    assert sender.requests <= 2 * intervals  # about two per interval, not one per state
    assert time.time() - first >= 0.4
    assert await influx.count(db, "sensor.trickle") == 10


async def test_service_write_round_trip_and_refusals(
    host: Host, influx: InfluxServer, db: str
) -> None:
    entry = await add_influx(host, v1_data(influx, db))
    await write(host, measurement="svc m", tags={"a b": "c,d", "n": 5},
                fields={"i": 3, "f": 2.5, "b": True, "s": 'x "y" \\z'},
                time="2026-01-02T03:04:05.5Z")
    await drained(entry)
    rows = await influx.rows(db, 'SELECT * FROM "svc m"')
    assert rows == [{"time": 1767323045500000000, "a b": "c,d", "n": "5", "i": 3, "f": 2.5,
                     "b": True, "s": 'x "y" \\z', "_measurement": "svc m"}]
    with pytest.raises(InfluxWriteError, match="no writable field"):
        await write(host, measurement="m", fields={"f": float("nan")})
    with pytest.raises(InfluxWriteError, match="not both"):
        await write(host, measurement="m", fields={"f": 1}, points=[
            {"measurement": "m", "fields": {"f": 1}}])


async def test_influxql_query_sensors(
    host: Host, influx: InfluxServer, db: str, caplog: pytest.LogCaptureFixture
) -> None:
    entry = await add_influx(host, v1_data(influx, db, queries=[
        {"name": "Last power", "measurement": "W", "field": "value",
         "where": "entity_id = 'meter'", "unit_of_measurement": "W", "scan_interval": 0.1},
        {"name": "Doubled", "query": 'SELECT max("value") FROM "W"',
         "value_template": "{{ (value * 2) | round(1) }}", "scan_interval": 0.1},
        {"name": "Bad", "query": "SELEKT nonsense", "scan_interval": 0.1},
    ]))
    assert_loaded(entry)
    for value in ("100", "250.5", "80"):
        host.states.set("sensor.meter", value, {"unit_of_measurement": "W"})
        await wait_until(lambda: entry.runtime_data.exporter.points >= 1)
    await drained(entry)
    await wait_until(lambda: state_of(host, "sensor.influx_last_power") == "80")
    await wait_until(lambda: state_of(host, "sensor.influx_doubled") == "501.0")
    assert host.states.get("sensor.influx_last_power").attributes[  # type: ignore[union-attr]
        "unit_of_measurement"] == "W"
    await wait_until(lambda: state_of(host, "sensor.influx_bad") == "unavailable")
    bad = next(s for s in entry.runtime_data.sensors if s.name == "Bad")
    await wait_until(lambda: bad.failures >= 3)
    logged = [r.getMessage() for r in caplog.records if "Bad unavailable" in r.getMessage()]
    assert len(logged) == 1 and "error parsing query" in logged[0]
