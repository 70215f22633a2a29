"""Which InfluxDB entry ``influxdb.write`` writes to, with two entries (issue 14, point 5).

One real ``influxd``, two entries on two databases: ``entry_id`` names the entry by id
or title (any case); ``entry``, its deprecated spelling, still works; left out, the only
loaded entry is meant, and with two the call is refused naming both (nothing queued).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from influxtools import InfluxServer, add_influx, assert_loaded, drained, v1_data

from gatehouse.core import Host, ServiceValidationError

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


@pytest.fixture(scope="module")
def influx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    server = InfluxServer(tmp_path_factory.mktemp("influxd-entries"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_write_goes_to_the_entry_named_by_id_or_title(
    influx: InfluxServer, host: Host
) -> None:
    for db in ("north_db", "south_db"):
        influx.create_database(db)
    north = await add_influx(host, v1_data(influx, "north_db"), title="North plant")
    south = await add_influx(host, v1_data(influx, "south_db"), title="South plant")
    assert_loaded(north)
    assert_loaded(south)

    async def write(value: int, **named: str) -> None:
        await host.services.call("influxdb", "write",
                                 {"measurement": "m", "fields": {"v": value}, **named})

    with pytest.raises(ServiceValidationError) as left_out:
        await write(0)
    assert "several influxdb entries are loaded; pass entry_id" in str(left_out.value)
    assert f"'North plant' ({north.entry_id}), 'South plant' ({south.entry_id})" in str(
        left_out.value)
    with pytest.raises(ServiceValidationError,
                       match="no loaded influxdb entry has the id or title 'East plant'"):
        await write(0, entry_id="East plant")

    await write(1, entry_id=south.entry_id)
    await write(2, entry_id="north PLANT")
    await write(3, entry="South plant")  # the deprecated spelling
    await drained(north)
    await drained(south)
    assert sorted(r["v"] for r in await influx.rows("north_db", "SELECT v FROM m")) == [2]
    assert sorted(r["v"] for r in await influx.rows("south_db", "SELECT v FROM m")) == [1, 3]

    # One left: meant without naming it.
    await host.config_entries.unload(north.entry_id)
    await write(4)
    await drained(south)
    assert sorted(r["v"] for r in await influx.rows("south_db", "SELECT v FROM m")) == [1, 3, 4]
