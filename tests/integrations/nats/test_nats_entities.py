"""Subjects become entities; YAML and the config flow make entries; unreachable servers
leave the entry loaded, offline."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from natstools import add_nats, assert_loaded, jdump, raw_client

from gatehouse.core import Host
from gatehouse.core.testing import NatsServer, free_port, make_host, state_of, wait_until
from gatehouse.integrations.nats.client import flush_in_order

pytestmark = pytest.mark.anyio


async def test_subjects_feed_sensors_from_yaml(
    nats_server: NatsServer, config_dir: Path, write_config: Callable[[str], Path]
) -> None:
    write_config(
        f"""
        nats:
          name: Plant bus
          servers: {nats_server.url}
          reconnect_time_wait: 0.1
          sensor:
            - name: Boiler temperature
              subject: plant.boiler.*.status
              json_path: $.temp.value
              unit_of_measurement: °C
            - name: Boiler raw
              subject: plant.boiler.raw
            - name: Boiler label
              subject: plant.boiler.*.status
              value_template: "{{{{ value_json.mode | upper }}}} on {{{{ subject }}}}"
          binary_sensor:
            - name: Pump running
              subject: plant.pump
              payload_on: "1"
              payload_off: "0"
        """
    )
    async with make_host(config_dir).running() as host:
        (entry,) = host.config_entries.entries("nats")
        assert_loaded(entry)
        assert entry.source == "import" and entry.title == "Plant bus"
        assert state_of(host, "binary_sensor.plant_bus_connected") == "on"
        async with raw_client(nats_server.url) as nc:
            status = {"temp": {"value": 71.5}, "mode": "eco"}
            await nc.publish("plant.boiler.b1.status", jdump(status))
            await nc.publish("plant.boiler.raw", b"hello")
            await nc.publish("plant.pump", b"1")
            await flush_in_order(nc, 5)
            await wait_until(lambda: state_of(host, "binary_sensor.pump_running") == "on")
            await wait_until(lambda: state_of(host, "sensor.boiler_temperature") == "71.5")
            temperature = host.states.get("sensor.boiler_temperature")
            assert temperature is not None
            assert temperature.attributes["unit_of_measurement"] == "°C"
            assert state_of(host, "sensor.boiler_raw") == "hello"
            assert state_of(host, "sensor.boiler_label") == "ECO on plant.boiler.b1.status"

            # Bad payloads change nothing and are counted, per source.
            await nc.publish("plant.boiler.b2.status", b"not json")
            await nc.publish("plant.pump", b"maybe")
            await nc.publish("plant.pump", b"0")
            await flush_in_order(nc, 5)
            await wait_until(lambda: state_of(host, "binary_sensor.pump_running") == "off")
            # Subscriptions run in their own tasks: wait for the other subject too.
            await wait_until(
                lambda: state_of(host, "sensor.plant_bus_malformed_messages") == "3"
            )  # 2 sensors on the bad status + the pump
            counter = host.states.get("sensor.plant_bus_malformed_messages")
            assert counter is not None
            assert counter.attributes["subject plant.pump"] == 1
            assert state_of(host, "sensor.boiler_temperature") == "71.5"


async def test_unreachable_servers_load_the_entry_offline(
    host: Host, caplog: pytest.LogCaptureFixture
) -> None:
    """Store-and-forward from the first second: no server answering is no reason to
    refuse messages, so the entry loads and says why it is offline (it used to retry
    set-up, with the same words as its reason)."""
    dead = [f"nats://127.0.0.1:{free_port()}", f"nats://127.0.0.1:{free_port()}"]
    with caplog.at_level(logging.WARNING, logger="gatehouse.integrations.nats"):
        entry = await add_nats(host, "Nowhere", servers=dead, setup_timeout=0.3)
    assert_loaded(entry)
    (warning,) = [r.getMessage() for r in caplog.records if "no NATS server" in r.getMessage()]
    assert "ConnectionRefusedError" in warning and dead[0] in warning
    link = host.states.get("binary_sensor.nowhere_connected")
    assert link is not None and link.state == "off"
    assert "ConnectionRefusedError" in link.attributes["last_error"]
    assert link.attributes["server"] is None
    await host.config_entries.unload(entry.entry_id)


async def test_config_flow_checks_the_connection(nats_server: NatsServer, host: Host) -> None:
    form = await host.config_entries.flow.init("nats")
    assert form["type"] == "form"
    fields = {f["name"]: f for f in form["data_schema"]}
    assert fields["password"]["secret"] and fields["nkey_seed"]["secret"]
    assert fields["token"]["secret"]

    refused = await host.config_entries.flow.configure(
        form["flow_id"], {"name": "Edge", "servers": f"127.0.0.1:{free_port()}"}
    )
    assert refused["type"] == "form" and refused["errors"] == {"base": "cannot_connect"}

    both = await host.config_entries.flow.configure(
        form["flow_id"],
        {"name": "Edge", "servers": nats_server.url, "token": "t", "user": "u"},
    )
    assert both["type"] == "form" and "base" in both["errors"]

    done = await host.config_entries.flow.configure(
        form["flow_id"], {"name": "Edge", "servers": f"{nats_server.url}, 127.0.0.1:1"}
    )
    assert done["type"] == "create_entry", done
    entry = host.config_entries.get(done["entry_id"])
    assert_loaded(entry)
    assert entry.data["servers"] == [nats_server.url, "nats://127.0.0.1:1"]
    assert state_of(host, "binary_sensor.edge_connected") == "on"
