"""schema_guard inline in the transports: real Mosquitto and a real nats-server.

A governed message that fails its schema never changes the entity it was meant for,
a valid one does, the quarantined row names the transport it came by, and a replay
after a schema fix feeds the entity the messages that now pass, in arrival order.
"""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sgtools import write_schema

from gatehouse.core import EVENT_STATE_CHANGED, Event, Host, StateChangedData
from gatehouse.core.control import collect_diagnostics
from gatehouse.core.testing import Mosquitto, NatsServer, make_host, state_of, wait_until
from gatehouse.integrations.schema_guard.api import guard_for
from gatehouse.integrations.schema_guard.services import LOADED
from gatehouse.integrations.schema_guard.store import Filters

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "mqtt"))
sys.path.insert(0, str(HERE.parent / "nats"))
from mqtt_helpers import Peer  # noqa: E402
from natstools import raw_client  # noqa: E402

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

READING: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["temp"],
    "properties": {"temp": {"type": "number", "minimum": -50, "maximum": 150}},
}
#: The fix: the boiler's sensor really does read up to 1000.
READING_V2 = {**READING, "properties": {"temp": {"type": "number", "maximum": 1000}}}

GUARD_YAML = """\
schema_guard:
  name: Guard
  reload_interval: 0.05
  stats_interval: 0.05
  rules:
    - topic: plant/+/reading
      name: reading
      schema: reading
"""


def _rows(host: Host) -> list[dict[str, Any]]:
    (runtime,) = LOADED.runtimes(host).values()
    return runtime.store.query(Filters(), limit=100)


async def _flushed(host: Host) -> list[dict[str, Any]]:
    (runtime,) = LOADED.runtimes(host).values()
    await runtime.writer.flush()
    return _rows(host)


def _recorder(host: Host, entity_id: str) -> list[str]:
    seen: list[str] = []

    def on_change(event: Event[StateChangedData]) -> None:
        new = event.data["new_state"]
        if event.data["entity_id"] == entity_id and new is not None:
            seen.append(new.state)

    host.bus.listen(EVENT_STATE_CHANGED, on_change)
    return seen


async def _replay_after_fix(host: Host, config_dir: Path) -> None:
    write_schema(config_dir / "schemas", "reading", 2, READING_V2)
    await wait_until(lambda: guard_for(host).check(
        "plant/x/reading", b'{"temp": 500}', store=False).accepted)
    dry = await guard_for(host).replay()
    assert (dry.passing, dry.failing) == (2, 1)
    done = await guard_for(host).replay(dry_run=False)
    assert done.replayed == 2 and done.error is None


async def test_inline_mqtt(
    config_dir: Path, mosquitto: Mosquitto, write_config: Callable[[str], Path]
) -> None:
    write_schema(config_dir / "schemas", "reading", 1, READING)
    write_config(GUARD_YAML + textwrap.dedent(f"""\
        mqtt:
          broker: 127.0.0.1
          port: {mosquitto.port}
          discovery: false
          sensor:
            - name: Boiler
              unique_id: boiler
              state_topic: plant/boiler/reading
              json_path: temp
            - name: Boiler raw
              unique_id: boiler_raw
              state_topic: plant/boiler/reading
          binary_sensor:
            - name: Boiler online
              unique_id: boiler_online
              state_topic: plant/boiler/online
              payload_on: "yes"
              payload_off: "no"
        """))
    peer = Peer(mosquitto.port, "sg-inline-peer")
    try:
        async with make_host(config_dir).running() as host:
            seen = _recorder(host, "sensor.boiler")
            peer.publish("plant/boiler/reading", json.dumps({"temp": 21.5}), qos=1)
            await wait_until(lambda: state_of(host, "sensor.boiler") == "21.5")
            peer.publish("plant/boiler/reading", b"{not json", qos=1)
            peer.publish("plant/boiler/reading", json.dumps({"temp": 500}), qos=1)
            peer.publish("plant/boiler/reading", json.dumps({"temp": 600}), qos=1)
            peer.publish("plant/boiler/online", "yes", qos=1)  # no rule: allowed
            peer.publish("plant/boiler/reading", json.dumps({"temp": 22}), qos=1)
            await wait_until(lambda: state_of(host, "sensor.boiler") == "22")
            assert state_of(host, "binary_sensor.boiler_online") == "on"
            assert seen == ["21.5", "22"]
            # Neither of the two entities on the topic saw the bad ones (checked once).
            raw = host.states.get("sensor.boiler_raw")
            assert raw is not None and json.loads(raw.state) == {"temp": 22}
            rows = await _flushed(host)
            assert [(r["payload"], r["transport"]) for r in rows] == [
                (b"{not json", "mqtt"), (b'{"temp": 500}', "mqtt"), (b'{"temp": 600}', "mqtt")]
            report = collect_diagnostics(host)["plugins"]["mqtt"]
            (entry_report,) = report.values()
            assert entry_report["connection"]["rejected_by_ingress_guard"] == 3
            assert entry_report["bad_payloads"] == 0  # refused before the entities

            await _replay_after_fix(host, config_dir)
            await wait_until(lambda: state_of(host, "sensor.boiler") == "600")
            assert seen == ["21.5", "22", "500", "600"]
            assert [r["replayed"] is not None for r in _rows(host)] == [False, True, True]
    finally:
        peer.close()


async def test_inline_nats(
    config_dir: Path, nats_server: NatsServer, write_config: Callable[[str], Path]
) -> None:
    write_schema(config_dir / "schemas", "reading", 1, READING)
    write_config(GUARD_YAML + textwrap.dedent(f"""\
        nats:
          name: Plant bus
          servers: {nats_server.url}
          reconnect_time_wait: 0.1
          sensor:
            - name: Boiler
              subject: plant.boiler.reading
              json_path: $.temp
        """))
    async with make_host(config_dir).running() as host:
        seen = _recorder(host, "sensor.boiler")
        async with raw_client(nats_server.url) as nc:
            await nc.publish("plant.boiler.reading", json.dumps({"temp": 21.5}).encode())
            await nc.flush()
            await wait_until(lambda: state_of(host, "sensor.boiler") == "21.5")
            for payload in (b"{not json", b'{"temp": 500}', b'{"temp": 600}', b'{"temp": 22}'):
                await nc.publish("plant.boiler.reading", payload)
            await nc.flush()
        await wait_until(lambda: state_of(host, "sensor.boiler") == "22")
        assert seen == ["21.5", "22"]
        await wait_until(lambda: state_of(host, "sensor.plant_bus_malformed_messages") == "3")
        rows = await _flushed(host)
        assert [(r["topic"], r["payload"], r["transport"]) for r in rows] == [
            ("plant/boiler/reading", b"{not json", "nats"),
            ("plant/boiler/reading", b'{"temp": 500}', "nats"),
            ("plant/boiler/reading", b'{"temp": 600}', "nats"),
        ]
        await _replay_after_fix(host, config_dir)
        await wait_until(lambda: state_of(host, "sensor.boiler") == "600")
        assert seen == ["21.5", "22", "500", "600"]


async def test_transports_work_without_schema_guard(
    config_dir: Path, mosquitto: Mosquitto, write_config: Callable[[str], Path]
) -> None:
    write_config(textwrap.dedent(f"""\
        mqtt:
          broker: 127.0.0.1
          port: {mosquitto.port}
          discovery: false
          sensor:
            - name: Boiler
              unique_id: boiler
              state_topic: plant/boiler/reading
              json_path: temp
        """))
    peer = Peer(mosquitto.port, "sg-inline-peer2")
    try:
        async with make_host(config_dir).running() as host:
            assert not guard_for(host).active
            peer.publish("plant/boiler/reading", json.dumps({"temp": 500}), qos=1)
            await wait_until(lambda: state_of(host, "sensor.boiler") == "500")
    finally:
        peer.close()


async def test_inline_nats_jetstream_consumer(
    config_dir: Path, nats_server: NatsServer, write_config: Callable[[str], Path]
) -> None:
    """A consumer-fed entity: a refused message is terminated (never redelivered),
    counted as malformed and quarantined; the stream keeps flowing behind it."""
    write_schema(config_dir / "schemas", "reading", 1, READING)
    write_config(GUARD_YAML + textwrap.dedent(f"""\
        nats:
          name: Plant bus
          servers: {nats_server.url}
          reconnect_time_wait: 0.1
          streams:
            - name: PLANT
              subjects: ["plant.>"]
          consumers:
            - name: Boiler
              stream: PLANT
              filter_subject: plant.boiler.reading
              json_path: temp
              fetch_timeout: 0.5
        """))
    async with make_host(config_dir).running() as host:
        seen = _recorder(host, "sensor.boiler")
        async with raw_client(nats_server.url) as nc:
            js = nc.jetstream()
            for payload in (b'{"temp": 21.5}', b"{not json", b'{"temp": 500}',
                            b'{"temp": 600}', b'{"temp": 22}'):
                await js.publish("plant.boiler.reading", payload)
            await wait_until(lambda: state_of(host, "sensor.boiler") == "22")
            assert seen == ["21.5", "22"]
            await wait_until(
                lambda: state_of(host, "sensor.plant_bus_malformed_messages") == "3")
            info = await js.consumer_info("PLANT", "boiler")
            assert info.num_ack_pending == 0 and info.num_pending == 0
        rows = await _flushed(host)
        assert [(r["payload"], r["transport"]) for r in rows] == [
            (b"{not json", "nats"), (b'{"temp": 500}', "nats"), (b'{"temp": 600}', "nats")]
        await _replay_after_fix(host, config_dir)
        await wait_until(lambda: state_of(host, "sensor.boiler") == "600")
        assert seen == ["21.5", "22", "500", "600"]
