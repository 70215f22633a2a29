"""The entry's life: config flow (checked by an empty write), options flow (query
sensors), YAML, reload without leaks, diagnostics without secrets; and the small
parsers of the HTTP side (Retry-After, error bodies, Flux CSV, named lines)."""

from __future__ import annotations

import json
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from influxtools import V2Server, add_influx, assert_loaded, drained

from gatehouse.core import ConfigEntryState, Host
from gatehouse.core.control import collect_diagnostics
from gatehouse.core.testing import free_port, make_host, state_of, wait_until
from gatehouse.integrations.influxdb.client import error_text, flux_value, retry_after
from gatehouse.integrations.influxdb.writer import named_lines

pytestmark = pytest.mark.anyio


@pytest.fixture
async def v2() -> AsyncIterator[V2Server]:
    server = V2Server()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def _form(v2: V2Server, **extra: Any) -> dict[str, Any]:
    return {"name": "Cloud", "api_version": "2", "host": "127.0.0.1", "port": v2.port,
            "org": v2.org, "bucket": v2.bucket, "token": v2.token, **extra}


async def test_config_flow_checks_with_an_empty_write(host: Host, v2: V2Server) -> None:
    form = await host.config_entries.flow.init("influxdb")
    assert form["type"] == "form"
    fields = {f["name"]: f for f in form["data_schema"]}
    assert fields["password"]["secret"] and fields["token"]["secret"]
    flow_id = form["flow_id"]

    wrong = await host.config_entries.flow.configure(flow_id, _form(v2, token="nope"))
    assert wrong["errors"] == {"base": "invalid_auth"}
    down = await host.config_entries.flow.configure(flow_id, _form(v2, port=free_port()))
    assert down["errors"] == {"base": "cannot_connect"}
    mixed = await host.config_entries.flow.configure(flow_id, _form(v2, database="x"))
    assert "database" in mixed["errors"]
    done = await host.config_entries.flow.configure(flow_id, _form(v2))
    assert done["type"] == "create_entry", done
    entry = host.config_entries.get(done["entry_id"])
    assert_loaded(entry)
    assert v2.probes >= 2  # the flow's check and the set-up's


async def test_options_flow_adds_a_query_sensor(host: Host, v2: V2Server) -> None:
    entry = await add_influx(host, v2.data())
    flow = await host.config_entries.options.init(entry.entry_id)
    flow = await host.config_entries.options.configure(flow["flow_id"],
                                                        {"action": "add_entity"})
    bad = await host.config_entries.options.configure(flow["flow_id"], {
        "platform": "queries", "name": "Cloud temp", "query": "from(bucket: \"home\")",
        "value_template": "{{ value | float ", "scan_interval": 0.1})
    assert "value_template" in bad["errors"]
    good = await host.config_entries.options.configure(flow["flow_id"], {
        "platform": "queries", "name": "Cloud temp", "query": "from(bucket: \"home\")",
        "scan_interval": 0.1})
    assert good["step_id"] == "init", good.get("errors")
    await host.config_entries.options.configure(flow["flow_id"], {"action": "done"})
    await wait_until(lambda: entry.state is ConfigEntryState.LOADED
                     and state_of(host, "sensor.influx_cloud_temp") == "21.5")


async def test_reload_releases_everything_and_keeps_queued_points(
    host: Host, v2: V2Server
) -> None:
    listeners = host.bus.listener_count("state_changed")
    entry = await add_influx(host, v2.data())
    assert host.bus.listener_count("state_changed") == listeners + 1
    assert "write" in host.services.services().get("influxdb", {})
    v2.script = []
    v2.decide = lambda request: None
    for _ in range(3):
        assert await host.config_entries.reload(entry.entry_id)
        assert_loaded(entry)
    assert host.bus.listener_count("state_changed") == listeners + 1
    host.states.set("sensor.after_reloads", "1")
    await drained(entry)
    # The queue's sensors from attach_outbox, and the link.
    await wait_until(lambda: state_of(host, "sensor.influx_outbox_queued_messages") == "0")
    assert state_of(host, "sensor.influx_outbox_oldest_message_age") is not None
    assert state_of(host, "binary_sensor.influx_connected") == "on"
    assert any("after_reloads" in p for p in v2.points)
    assert await host.config_entries.unload(entry.entry_id)
    assert host.bus.listener_count("state_changed") == listeners
    assert "write" not in host.services.services().get("influxdb", {})


async def test_diagnostics_hold_no_secret(host: Host, v2: V2Server) -> None:
    v2.token = "sekrit-token-value-123"
    entry = await add_influx(host, v2.data(token=v2.token))
    assert_loaded(entry)
    host.states.set("sensor.d", "1")
    await drained(entry)
    text = json.dumps(collect_diagnostics(host), default=str)
    assert "sekrit-token-value-123" not in text
    from gatehouse.core.secrets import secret_keys

    assert {"password", "token"} <= secret_keys(host, "influxdb")  # masked in the API
    influx = collect_diagnostics(host)["plugins"]["influxdb"][entry.entry_id]
    assert influx["writer"]["points_written"] == 1
    assert influx["left_out"]["non_finite_float"] == 0


async def test_yaml_entries_load_with_the_server_down_and_filter(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    port = free_port()
    (config / "configuration.yaml").write_text(textwrap.dedent(f"""\
        gatehouse:
          control_socket: false
        influxdb:
          - name: Local
            host: 127.0.0.1
            port: {port}
            database: home
            include:
              domains: [sensor]
            exclude:
              entity_globs: ["sensor.*_raw"]
            component_config_glob:
              "sensor.*_raw":
                ignore_attributes: [raw]
          - name: Cloud
            api_version: 2
            host: 127.0.0.1
            port: {port}
            org: acme
            bucket: home
            token: t
        """), encoding="utf-8")
    host = make_host(config)
    async with host.running():
        entries = host.config_entries.entries("influxdb")
        assert sorted(e.title for e in entries) == ["Cloud", "Local"]
        assert all(e.state is ConfigEntryState.LOADED for e in entries)  # server down: loads
        local = next(e for e in entries if e.title == "Local")
        exporter = local.runtime_data.exporter
        points, filtered = exporter.points, exporter.filtered
        host.states.set("light.kitchen", "on")
        host.states.set("sensor.kitchen", "1")
        host.states.set("sensor.kitchen_raw", "1")
        assert exporter.points == points + 1
        assert exporter.filtered == filtered + 2


def test_retry_after_seconds_and_http_date() -> None:
    assert retry_after("3") == 3.0
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert retry_after("garbage") is None
    assert retry_after(None) is None


def test_error_text_from_1x_and_2x_bodies() -> None:
    assert error_text(b'{"error":"partial write: x dropped=1"}') == "partial write: x dropped=1"
    assert error_text(b'{"code":"invalid","message":"bad line"}') == "bad line"
    assert error_text(b"plain text") == "plain text"


def test_flux_csv_last_value() -> None:
    text = ("#datatype,string,long,double\n#group,false,false,false\n"
            ",result,table,_value\n,_result,0,1.5\n,_result,0,2.5\n\n"
            ",result,table,_value\n,_result,1,7\n")
    assert flux_value(text) == 7.0
    assert flux_value("") is None


def test_named_lines_finds_parse_errors_and_type_conflicts() -> None:
    lines = ['m f=1.0 1', 'm f="x" 2', 'm f=2i 3', 'other f="x" 4', 'bad line']
    reason = ("partial write: unable to parse 'bad line': invalid field format; "
              'field type conflict: input field "f" on measurement "m" is type string, '
              "already exists as type float dropped=2")
    assert named_lines(reason, lines) == {1, 4}
    assert named_lines('input field "f" on measurement "m" is type integer', lines) == {2}
    assert named_lines("field type conflict", lines) == set()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("  api_version: 2\n  org: acme\n  bucket: home\n  token: t\n  database: x\n",
         "configuration.yaml:6: influxdb -> database: database: only with api_version 1"),
        ("  precision: minutes\n",
         "configuration.yaml:2: influxdb -> precision: value must be one of"),
        ("  api_version: 2\n  org: acme\n  bucket: home\n",
         "influxdb -> token: required with api_version 2"),
    ],
)
def test_check_config_names_file_line_and_field(
    tmp_path: Path, body: str, expected: str
) -> None:
    from gatehouse.core.bootstrap import load_configuration
    from gatehouse.core.plugins import PluginManager

    (tmp_path / "configuration.yaml").write_text("influxdb:\n" + body, encoding="utf-8")
    result = load_configuration(tmp_path, PluginManager())
    assert not result.ok
    assert expected in "\n".join(str(issue) for issue in result.issues)
