"""InfluxDB 2.x/3.x through a test server that follows the documented
``/api/v2/write`` contract (``influxtools.V2Server``): token, org, bucket, precision,
gzip, and each error answer the writer must handle."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from typing import Any

import anyio.lowlevel
import pytest
from influxtools import (
    Answer,
    Request,
    V2Server,
    add_influx,
    assert_loaded,
    dead_letters,
    drained,
)

from gatehouse.core import ConfigEntryState, Host
from gatehouse.core.testing import Pki, state_of, wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


@pytest.fixture
async def v2() -> AsyncIterator[V2Server]:
    server = V2Server()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def burst(host: Host, n: int, prefix: str = "sensor.p") -> None:
    """``n`` states set without yielding: one group commit, one outbox batch."""
    for i in range(n):
        host.states.set(f"{prefix}_{i}", str(i), {"unit_of_measurement": "W"})


async def test_write_contract_token_org_bucket_precision_gzip(
    host: Host, v2: V2Server
) -> None:
    entry = await add_influx(host, v2.data(precision="ms"))
    assert_loaded(entry)
    burst(host, 20)
    await drained(entry)
    assert len(v2.points) == 20
    request = v2.requests[-1]
    assert request.headers["Authorization"] == f"Token {v2.token}"
    assert request.params == {"org": "acme", "bucket": "home", "precision": "ms"}
    assert request.headers["Content-Encoding"] == "gzip"
    assert request.body.decode().count("\n") == 20
    assert int(request.headers["Content-Length"]) < len(request.body) / 2  # compressed
    stamp = int(v2.points[0].rsplit(" ", 1)[1])
    assert 1e12 < stamp < 1e13  # milliseconds
    assert all(p.startswith("W,domain=sensor,entity_id=p_") for p in v2.points)


async def test_gzip_off_sends_plain_text(host: Host, v2: V2Server) -> None:
    entry = await add_influx(host, v2.data(gzip=False))
    burst(host, 3)
    await drained(entry)
    assert "Content-Encoding" not in v2.requests[-1].headers
    assert v2.requests[-1].body.decode().count("\n") == 3


async def test_refused_token_at_setup_is_an_error_with_the_reason(
    host: Host, v2: V2Server
) -> None:
    entry = await add_influx(host, v2.data(token="wrong"))
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert "refused the credentials" in (entry.reason or "")
    assert "401" in (entry.reason or "")
    assert "wrong" not in (entry.reason or "")


async def test_token_refused_later_stops_the_entry_and_keeps_the_points(
    host: Host, v2: V2Server
) -> None:
    entry = await add_influx(host, v2.data())
    assert_loaded(entry)
    destination = entry.runtime_data.outbox.destination
    outbox = entry.runtime_data.outbox.outbox
    v2.token = "rotated"  # the server no longer takes ours
    burst(host, 5)
    await wait_until(lambda: entry.state is ConfigEntryState.SETUP_ERROR, timeout=10)
    assert "refused the credentials" in (entry.reason or "")
    assert outbox.stats(destination).depth == 1  # the 5 points, kept for when it is fixed
    requests = len(v2.requests)
    burst(host, 5, "sensor.later")  # nobody listens any more: no retry loop either
    await wait_until(lambda: outbox.stats(destination).depth == 1, timeout=2)
    assert len(v2.requests) == requests


async def test_retry_after_on_429_and_503_is_honoured(host: Host, v2: V2Server) -> None:
    v2.script = [
        Answer(429, {"code": "too many requests", "message": "slow down"},
               {"Retry-After": "1"}),
        Answer(503, {"code": "unavailable", "message": "busy"}, {"Retry-After": "1"}),
    ]
    entry = await add_influx(host, v2.data())
    burst(host, 4)
    await drained(entry)
    assert len(v2.points) == 4
    # 429, 503, 204: each after the Retry-After of the one before
    times = [r.at for r in v2.requests]
    assert len(times) == 3
    assert times[1] - times[0] >= 0.95
    assert times[2] - times[1] >= 0.95


async def test_missing_bucket_retries_without_dead_letters(host: Host, v2: V2Server) -> None:
    entry = await add_influx(host, v2.data(bucket="nope"))
    assert_loaded(entry)  # a 404 is not a reason to refuse set-up: points wait
    burst(host, 3)
    sender = entry.runtime_data.sender
    await wait_until(lambda: sender.requests >= 3, timeout=10)
    assert await dead_letters(entry) == []
    assert "404" in (sender.last_error or "")
    assert entry.runtime_data.outbox.stats().depth == 1  # 3 points, one message


def _poison(message: str, named: bool) -> Any:
    def decide(request: Request) -> Answer | None:
        bad = [line for line in request.lines if "entity_id=poison " in line]
        if not bad:
            return None
        text = f"unable to parse '{bad[0]}': {message}" if named else message
        return Answer(400, {"code": "invalid", "message": text})

    return decide


@pytest.mark.parametrize("named", [True, False], ids=["named", "bisected"])
async def test_400_dead_letters_only_the_refused_points(
    host: Host, v2: V2Server, named: bool
) -> None:
    v2.decide = _poison("invalid field format", named)
    entry = await add_influx(host, v2.data(batch_size=64))
    burst(host, 30)
    host.states.set("sensor.poison", "1")
    host.states.set("sensor.poison_2", "2")  # not poison: the tag is entity_id=poison_2
    burst(host, 30, "sensor.q")
    await drained(entry)
    dead = await dead_letters(entry)
    assert [d.payload.decode().split(" ")[0] for d in dead] == [
        "sensor.poison,domain=sensor,entity_id=poison"
    ]
    assert "HTTP 400" in dead[0].reason
    assert len(v2.points) == 61
    sender = entry.runtime_data.sender
    assert sender.points_rejected == 1
    if named:
        assert sender.bisections == 0
    else:
        assert sender.bisections >= 1
        assert sender.requests < 20  # log2, not one per point


async def test_413_splits_the_batch_and_a_lone_giant_is_dead_lettered(
    host: Host, v2: V2Server
) -> None:
    v2.max_body = 3000
    entry = await add_influx(host, v2.data(gzip=False, batch_size=1000))
    burst(host, 100)  # about 6 KB of lines
    host.states.set("sensor.giant", "x", {"blob": "y" * 4000})
    await drained(entry)
    assert len(v2.points) == 100
    dead = await dead_letters(entry)
    assert len(dead) == 1 and "giant" in dead[0].payload.decode()
    assert "413" in dead[0].reason
    assert entry.runtime_data.sender.splits_413 >= 2


async def test_loads_with_the_server_down_and_delivers_once_it_answers(host: Host) -> None:
    v2 = V2Server()
    await v2.start()
    port = v2.port
    await v2.stop()
    entry = await add_influx(host, {**v2.data(), "port": port})
    assert_loaded(entry)
    burst(host, 10)
    link = entry.runtime_data.outbox.link
    assert link is not None and not link.is_on
    await wait_until(lambda: entry.runtime_data.sender.requests >= 1, timeout=5)
    v2.port = port
    await _start_on(v2, port)
    try:
        await drained(entry)
        assert len(v2.points) == 10
        assert link.is_on
    finally:
        await v2.stop()


async def _start_on(server: V2Server, port: int) -> None:
    from aiohttp import web

    app = web.Application()
    app.router.add_post("/api/v2/write", server._write)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    server._runner = runner


async def test_flux_query_sensor_and_failure_is_unavailable(
    host: Host, v2: V2Server, caplog: pytest.LogCaptureFixture
) -> None:
    entry = await add_influx(host, v2.data(queries=[
        {"name": "Flux temp", "query": 'from(bucket:"home") |> range(start: -1h) |> last()',
         "unit_of_measurement": "°C", "value_template": "{{ value | float * 2 }}",
         "scan_interval": 0.1},
        {"name": "Broken", "query": "error(now)", "scan_interval": 0.1},
    ]))
    assert_loaded(entry)
    await wait_until(lambda: v2.queries, timeout=5)
    await wait_until(lambda: state_of(host, "sensor.influx_flux_temp") == "43.0")
    assert v2.queries[0]["type"] == "flux"
    await wait_until(lambda: state_of(host, "sensor.influx_broken") == "unavailable")
    broken = next(s for s in entry.runtime_data.sensors if s.name == "Broken")
    await wait_until(lambda: broken.failures >= 3)
    lines = [r for r in caplog.records if "Broken unavailable" in r.getMessage()]
    assert len(lines) == 1  # once per burst, not once per interval
    assert "compilation failed" in lines[0].getMessage()


async def test_high_priority_points_leave_before_the_backlog(host: Host, v2: V2Server) -> None:
    """Priority rules (the shared ``priority:`` routes) give a message an outbox
    priority; an alarm queued behind a backlog is written first once the server is
    back. The rule here stands in for the helpers' ``priority_rules``."""
    blocked = True
    v2.decide = lambda request: Answer(503, {"code": "unavailable", "message": "down"}) \
        if blocked else None
    entry = await add_influx(host, v2.data(batch_size=64))
    entry.runtime_data.exporter.priority = lambda state: 10 if "alarm" in state.entity_id else 0
    burst(host, 200)
    await wait_until(lambda: len(v2.requests) >= 1)  # the backlog is refused
    host.states.set("binary_sensor.alarm", "on")
    await anyio.lowlevel.checkpoint()
    entry.runtime_data.exporter.flush()
    await wait_until(lambda: entry.runtime_data.outbox.stats().depth == 5)
    refused = len(v2.requests)  # one more refusal: the next fetch has the alarm first
    await wait_until(lambda: len(v2.requests) > refused)
    blocked = False
    await drained(entry)
    written = v2.points
    assert len(written) == 201
    assert written[0].startswith("binary_sensor.alarm,")


async def test_https_with_the_ca_without_it_and_unverified(host: Host, pki: Pki) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    v2 = V2Server()
    await v2.start(ssl_context=context)
    try:
        trusted = await add_influx(host, v2.data(ssl=True, ssl_ca_cert=str(pki.ca_cert)),
                                   title="Trusted")
        assert_loaded(trusted)
        host.states.set("sensor.tls", "1")
        await drained(trusted)
        assert any("entity_id=tls" in p for p in v2.points)
        assert trusted.runtime_data.client.base.startswith("https://")

        untrusted = await add_influx(host, v2.data(ssl=True), title="Untrusted")
        assert_loaded(untrusted)  # points wait; the link says why
        host.states.set("sensor.tls_untrusted", "1")
        untrusted.runtime_data.exporter.flush()
        sender = untrusted.runtime_data.sender
        await wait_until(lambda: "certificate" in (sender.last_error or "").lower())

        unverified = await add_influx(host, v2.data(ssl=True, verify_ssl=False),
                                      title="Unverified")
        host.states.set("sensor.tls2", "1")
        await drained(unverified)
        assert any("entity_id=tls2" in p for p in v2.points)

        missing = await add_influx(host, v2.data(ssl=True, ssl_ca_cert="/nowhere/ca.pem"),
                                   title="Missing")
        assert missing.state is ConfigEntryState.SETUP_ERROR
        assert "/nowhere/ca.pem" in (missing.reason or "")
    finally:
        await v2.stop()


async def test_a_long_retry_after_is_served_across_sends(
    host: Host, v2: V2Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wait longer than one send may hold is given back to the outbox (retried
    later) instead of running into the send timeout; nothing is written before it."""
    from gatehouse.integrations.influxdb import writer

    monkeypatch.setattr(writer, "MAX_WAIT_IN_SEND", 0.2)
    v2.script = [Answer(429, {"code": "too many requests", "message": "later"},
                        {"Retry-After": "1"})]
    entry = await add_influx(host, v2.data())
    burst(host, 3)
    await drained(entry)
    assert len(v2.requests) == 2
    assert v2.requests[1].at - v2.requests[0].at >= 0.95
    assert entry.runtime_data.outbox.stats().retries >= 1


async def test_query_answer_too_long_for_a_state_is_unavailable_then_recovers(
    host: Host, v2: V2Server
) -> None:
    """Regression: a 300-character answer raised from write_state and ended the
    sensor's task for good (the core refuses states over 255 characters)."""
    v2.flux_csv = ",result,table,_value\n,_result,0," + "x" * 300 + "\n"
    entry = await add_influx(host, v2.data(queries=[
        {"name": "Text", "query": "from(bucket: \"home\")", "scan_interval": 0.05}]))
    sensor = entry.runtime_data.sensors[0]
    await wait_until(lambda: state_of(host, "sensor.influx_text") == "unavailable")
    assert "300 characters" in (sensor.last_error or "")
    v2.flux_csv = ",result,table,_value\n,_result,0,short\n"
    await wait_until(lambda: state_of(host, "sensor.influx_text") == "short")


async def test_sql_query_sensor_for_influxdb_3(host: Host, v2: V2Server) -> None:
    entry = await add_influx(host, v2.data(queries=[
        {"name": "SQL temp", "language": "sql", "scan_interval": 0.1,
         "query": "SELECT time, temp FROM home ORDER BY time"},
        {"name": "Other db", "language": "sql", "bucket": "nope", "scan_interval": 0.1,
         "query": "SELECT 1"},
    ]))
    assert_loaded(entry)
    await wait_until(lambda: state_of(host, "sensor.influx_sql_temp") == "19.5")
    assert {"db": "home", "q": "SELECT time, temp FROM home ORDER BY time",
            "format": "json"} in v2.queries
    await wait_until(lambda: state_of(host, "sensor.influx_other_db") == "unavailable")


def test_query_language_must_suit_the_api_version() -> None:
    import voluptuous as vol

    from gatehouse.integrations.influxdb.config import ENTRY_SCHEMA

    with pytest.raises(vol.Invalid, match="use influxql"):
        ENTRY_SCHEMA({"queries": [{"name": "q", "query": "x", "language": "sql"}]})
    with pytest.raises(vol.Invalid, match="use flux or sql"):
        ENTRY_SCHEMA({"api_version": 2, "org": "o", "bucket": "b", "token": "t",
                      "queries": [{"name": "q", "query": "x", "language": "influxql"}]})


async def test_priority_route_from_the_configuration(host: Host, v2: V2Server) -> None:
    """``priority:`` rules (the helpers' shared routes) put alarms ahead of the backlog."""
    blocked = True
    v2.decide = lambda request: Answer(503, {"code": "unavailable", "message": "down"}) \
        if blocked else None
    entry = await add_influx(host, v2.data(batch_size=64, priority=[
        {"priority": "high", "include": {"entity_globs": ["binary_sensor.alarm*"]}}]))
    assert_loaded(entry)
    burst(host, 200)
    await wait_until(lambda: len(v2.requests) >= 1)
    host.states.set("binary_sensor.alarm_door", "on")
    entry.runtime_data.exporter.flush()
    await wait_until(lambda: entry.runtime_data.outbox.stats().depth == 5)
    refused = len(v2.requests)  # one more refusal: the next fetch has the alarm first
    await wait_until(lambda: len(v2.requests) > refused)
    blocked = False
    await drained(entry)
    assert len(v2.points) == 201
    assert v2.points[0].startswith("binary_sensor.alarm_door,")
