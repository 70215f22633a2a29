"""Against a real InfluxDB 1.x: every point written is read back and compared.

One ``influxd`` for the module (each test its own database). States go through the
whole path (state machine → listener → outbox → writer → ``/write``) and are read with
``/query?epoch=ns``: names and values with spaces, commas, equals signs, quotes,
backslashes, newlines and non-ASCII text come back exactly (or as documented, for what
line protocol cannot carry).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio.to_thread
import pytest
from influxtools import InfluxServer, add_influx, assert_loaded, drained, v1_data

from gatehouse.core import Host

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


@pytest.fixture(scope="module")
def influx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    server = InfluxServer(tmp_path_factory.mktemp("influxd"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _db(request: pytest.FixtureRequest) -> str:
    return "t_" + request.node.name.replace("[", "_").replace("]", "").replace("-", "_")[:50]


@pytest.fixture
def db(influx: InfluxServer, request: pytest.FixtureRequest) -> str:
    name = _db(request)
    influx.create_database(name)
    return name


TRICKY = [
    "plain",
    "with space",
    "comma,inside",
    "equals=sign",
    'double "quotes"',
    "back\\slash",
    "mixed ,= \\\"all\"",
    "ünïcödé 温度 😀",
]


async def test_tricky_values_tags_and_field_keys_round_trip(
    host: Host, influx: InfluxServer, db: str
) -> None:
    """State text, string fields, tag values and field keys, all read back exactly."""
    entry = await add_influx(host, v1_data(
        influx, db, override_measurement="tricky", tags_attributes=["tagged"],
    ))
    assert_loaded(entry)
    expected: list[dict[str, Any]] = []
    for index, text in enumerate(TRICKY):
        state = host.states.set(
            f"sensor.tricky_{index}", text,
            {text: index, "note": text, "tagged": text, "level": index + 0.5},
        )
        expected.append({"text": text, "time": state.last_updated})
    await drained(entry)
    rows = await influx.rows(db, 'SELECT * FROM "tricky"')
    by_entity = {row["entity_id"]: row for row in rows}
    assert sorted(by_entity) == [f"tricky_{i}" for i in range(len(TRICKY))]
    for index, item in enumerate(expected):
        row = by_entity[f"tricky_{index}"]
        text = item["text"]
        assert row["state"] == text
        assert row["note_str"] == text
        assert row["tagged"] == text
        assert row[text] == float(index)
        assert row["level"] == index + 0.5
        assert row["domain"] == "sensor"
        assert row["time"] == round(item["time"] * 1_000_000) * 1000
    assert entry.runtime_data.counts.total == 0


async def test_tricky_measurement_names_round_trip(
    host: Host, influx: InfluxServer, db: str
) -> None:
    """Measurements from units with every special character: SHOW MEASUREMENTS gives
    them back exactly. (InfluxQL itself cannot select a measurement holding a
    backslash before a quote, whatever the quoting: a query-side limit of 1.x.)"""
    entry = await add_influx(host, v1_data(influx, db))
    assert_loaded(entry)
    for index, text in enumerate(TRICKY):
        host.states.set(f"sensor.unit_{index}", str(index), {"unit_of_measurement": text})
    await drained(entry)
    document = await anyio.to_thread.run_sync(
        lambda: influx.query_sync("SHOW MEASUREMENTS", db=db)
    )
    names = [v[0] for v in document["results"][0]["series"][0]["values"]]
    assert sorted(names) == sorted(TRICKY)
    rows = await influx.rows(db, 'SELECT * FROM "with space"')
    assert rows[0]["value"] == 1.0
    assert "unit_of_measurement_str" not in rows[0]  # the unit is the measurement


async def test_tags_from_config_and_attributes_round_trip(
    host: Host, influx: InfluxServer, db: str
) -> None:
    tags = {"site name": "plant, 1", "k=v": "a=b", "quote\"d": 'q"v', "bs\\": "x\\y"}
    entry = await add_influx(host, v1_data(
        influx, db, tags=tags, tags_attributes=["room"], default_measurement="no unit",
    ))
    assert_loaded(entry)
    host.states.set("sensor.room_t", "21.5", {"room": "living room, east", "friendly_name": "T"})
    await drained(entry)
    rows = await influx.rows(db, 'SELECT * FROM "no unit"')
    assert len(rows) == 1
    row = rows[0]
    assert row["value"] == 21.5
    assert row["room"] == "living room, east"
    assert row["site name"] == "plant, 1"
    assert row["k=v"] == "a=b"
    assert row['quote"d'] == 'q"v'
    # A trailing backslash cannot end a name in line protocol: removed (and counted).
    assert row["bs"] == "x\\y"
    assert row["friendly_name_str"] == "T"
    assert entry.runtime_data.counts.as_dict()["trailing_backslash"] >= 1


async def test_what_line_protocol_cannot_carry_is_left_out_counted_rest_written(
    host: Host, influx: InfluxServer, db: str
) -> None:
    entry = await add_influx(host, v1_data(influx, db, override_measurement="edge"))
    host.states.set("sensor.edge", "5", {
        "huge": "z" * (64 * 1024 + 1),      # over InfluxDB's string limit
        "fits": "y" * (64 * 1024),          # exactly the limit
        "nan": float("nan"), "inf": float("-inf"),
        "multi\nline key": 1,               # newline in a field key
        "text": "two\nlines",               # newline in a string value: kept
    })
    host.states.set("sensor.empty_state", "", {"a": 1})  # not written (as HA)
    await drained(entry)
    rows = await influx.rows(db, 'SELECT * FROM "edge"')
    assert len(rows) == 1
    row = rows[0]
    assert row["value"] == 5.0
    assert row["fits_str"] == "y" * (64 * 1024)
    assert row["text_str"] == "two\nlines"
    assert row["multi line key"] == 1.0
    assert "huge_str" not in row and "nan" not in row and "inf" not in row
    counts = entry.runtime_data.counts.as_dict()
    assert counts["string_too_long"] == 1
    assert counts["non_finite_float"] == 2
    assert counts["newline_in_name"] == 1
    assert entry.runtime_data.maker.skipped == 1
