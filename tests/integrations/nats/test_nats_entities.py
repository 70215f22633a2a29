"""Subjects become entities; YAML and the config flow make entries; bad servers retry."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from natstools import (
    add_entry,
    assert_loaded,
    jdump,
    raw_client,
    running_nats_host,
    state_of,
    wait_until,
)

from gatehouse.core import ConfigEntryState
from gatehouse.core.testing import NatsServer, free_port

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
    async with running_nats_host(config_dir) as host:
        (entry,) = host.config_entries.entries("nats")
        assert_loaded(entry)
        assert entry.source == "import" and entry.title == "Plant bus"
        assert state_of(host, "binary_sensor.plant_bus_connected") == "on"
        async with raw_client(nats_server.url) as nc:
            status = {"temp": {"value": 71.5}, "mode": "eco"}
            await nc.publish("plant.boiler.b1.status", jdump(status))
            await nc.publish("plant.boiler.raw", b"hello")
            await nc.publish("plant.pump", b"1")
            await nc.flush()
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
            await nc.flush()
            await wait_until(lambda: state_of(host, "binary_sensor.pump_running") == "off")
            # Subscriptions run in their own tasks: wait for the other subject too.
            await wait_until(
                lambda: state_of(host, "sensor.plant_bus_malformed_messages") == "3"
            )  # 2 sensors on the bad status + the pump
            counter = host.states.get("sensor.plant_bus_malformed_messages")
            assert counter is not None
            assert counter.attributes["subject plant.pump"] == 1
            assert state_of(host, "sensor.boiler_temperature") == "71.5"


async def test_unreachable_servers_make_the_entry_retry(config_dir: Path) -> None:
    dead = [f"nats://127.0.0.1:{free_port()}", f"nats://127.0.0.1:{free_port()}"]
    async with running_nats_host(config_dir) as host:
        entry = await add_entry(host, "Nowhere", servers=dead, setup_timeout=0.3)
        assert entry.state is ConfigEntryState.SETUP_RETRY
        assert entry.reason is not None and "no NATS server" in entry.reason
        assert "ConnectionRefusedError" in entry.reason
        await host.config_entries.unload(entry.entry_id)


async def test_config_flow_checks_the_connection(
    nats_server: NatsServer, config_dir: Path
) -> None:
    async with running_nats_host(config_dir) as host:
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
