"""JetStream: declared streams, publishing through the outbox, durable consumers, KV."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import nats.js.errors
import pytest
import voluptuous as vol
from nats.js.api import RetentionPolicy, StorageType
from natstools import add_nats, assert_loaded, jdump, raw_client, stream_payloads

from gatehouse.core import EVENT_STATE_CHANGED, Event, Host
from gatehouse.core.testing import NatsServer, make_host, state_of, wait_until
from gatehouse.integrations.nats.config import KV_SCHEMA

pytestmark = pytest.mark.anyio

ORDERS = {"name": "ORDERS", "subjects": ["orders.>"], "storage": "memory",
          "retention": "limits", "max_msgs": 10_000}


async def test_streams_are_declared_and_updated(
    nats_server: NatsServer, host: Host
) -> None:
    async with raw_client(nats_server.url) as nc:
        entry = await add_nats(host, servers=[nats_server.url], streams=[ORDERS])
        assert_loaded(entry)
        info = await nc.jetstream().stream_info("ORDERS")
        assert info.config.subjects == ["orders.>"]
        assert info.config.storage == StorageType.MEMORY
        assert info.config.retention == RetentionPolicy.LIMITS
        assert info.config.num_replicas == 1 and info.config.max_msgs == 10_000
        assert info.config.allow_atomic

        # Changing the YAML/entry changes the stream (declaring is idempotent too).
        wider = {**ORDERS, "subjects": ["orders.>", "returns.>"]}
        host.config_entries.update_entry(entry, data={**entry.data, "streams": [wider]})
        assert await host.config_entries.reload(entry.entry_id)
        info = await nc.jetstream().stream_info("ORDERS")
        assert info.config.subjects == ["orders.>", "returns.>"]

        # A refusal by the server is a configuration error, not a retry.
        bad = {**ORDERS, "name": "BAD", "replicas": 3}
        host.config_entries.update_entry(entry, data={**entry.data, "streams": [bad]})
        assert not await host.config_entries.reload(entry.entry_id)
        assert entry.state == "setup_error" and "stream BAD" in (entry.reason or "")


@pytest.mark.parametrize("atomic", [True, False], ids=["atomic", "pipelined"])
async def test_outbox_publish_survives_a_server_restart_in_order(
    nats_server: NatsServer, host: Host, atomic: bool
) -> None:
    total = 400
    # File storage: a memory stream would not survive the restart.
    stream = {**ORDERS, "storage": "file", "atomic_publish": atomic}
    entry = await add_nats(host, servers=[nats_server.url], streams=[stream])
    assert_loaded(entry)
    runtime = entry.runtime_data

    async def publish(i: int) -> None:
        await host.services.call(
            "nats", "publish",
            {"subject": f"orders.line{i % 3}", "payload": str(i), "jetstream": True},
        )

    sent = 0
    restarted = anyio.Event()

    async def restart() -> None:
        await anyio.to_thread.run_sync(nats_server.restart)
        restarted.set()

    for sent in range(100):
        await publish(sent)
    async with anyio.create_task_group() as tg:
        tg.start_soon(restart)
        # Keep producing while the server goes away and comes back: the service
        # returns once the message is on disk, whatever NATS is doing.
        while not restarted.is_set():
            sent += 1
            await publish(sent)
            await anyio.sleep(0.005)
    while sent < total - 1:
        sent += 1
        await publish(sent)

    with anyio.fail_after(30):
        await runtime.outbox.outbox.wait_drained(runtime.destination)
    stats = runtime.outbox.stats()
    assert stats.retries >= 1, "the restart was not noticed by the sender"
    assert (runtime.sender.atomic_batches > 0) is atomic

    async with raw_client(nats_server.url) as nc:
        payloads = await stream_payloads(nc, "ORDERS")
    assert [int(p) for p in payloads] == list(range(total))


@pytest.mark.parametrize("mode", ["pull", "push"])
async def test_durable_consumer_resumes_after_host_restart(
    nats_server: NatsServer, config_dir: Path, mode: str
) -> None:
    meters = {"name": "METERS", "subjects": ["meter.>"]}
    consumer = {"name": "Meter energy", "stream": "METERS", "filter_subject": "meter.>",
                "mode": mode, "json_path": "kwh", "unit_of_measurement": "kWh",
                "fetch_timeout": 0.5}
    seen: list[str] = []

    def record(event: Event[Any]) -> None:
        new = event.data["new_state"]
        if event.data["entity_id"] == "sensor.meter_energy" and new is not None:
            seen.append(new.state)

    async with raw_client(nats_server.url) as nc:
        js = nc.jetstream()
        async with make_host(config_dir).running() as host:
            host.bus.listen(EVENT_STATE_CHANGED, record)
            entry = await add_nats(
                host, servers=[nats_server.url], streams=[meters], consumers=[consumer]
            )
            assert_loaded(entry)
            for kwh in range(1, 6):
                await js.publish("meter.main", jdump({"kwh": kwh}))
            await wait_until(lambda: state_of(host, "sensor.meter_energy") == "5")

        # The host is down: these wait in the stream for the durable consumer.
        for kwh in range(6, 11):
            await js.publish("meter.main", jdump({"kwh": kwh}))

        host2 = make_host(config_dir)
        host2.bus.listen(EVENT_STATE_CHANGED, record)
        async with host2.running():
            await wait_until(lambda: state_of(host2, "sensor.meter_energy") == "10")
            await anyio.sleep(0.2)  # nothing else (no replay of acked messages) arrives
        values = [int(s) for s in seen if s.isdigit()]
        assert values == list(range(1, 11))
        info = await js.consumer_info("METERS", "meter_energy")
        assert info.num_pending == 0 and info.num_ack_pending == 0


async def test_malformed_messages_are_terminated_and_counted(
    nats_server: NatsServer, host: Host
) -> None:
    stream = {"name": "TELEMETRY", "subjects": ["tele.>"]}
    consumers = [
        {"name": "Flow", "stream": "TELEMETRY", "filter_subject": "tele.flow",
         "json_path": "$.flow[0]", "ack_wait": 1.0, "fetch_timeout": 0.5},
        {"name": "Alarms", "stream": "TELEMETRY", "filter_subject": "tele.alarm",
         "target": "event", "event_type": "plant_alarm", "fetch_timeout": 0.5},
    ]
    alarms: list[dict[str, Any]] = []
    async with raw_client(nats_server.url) as nc:
        host.bus.listen("plant_alarm", lambda event: alarms.append(dict(event.data)))
        entry = await add_nats(
            host, servers=[nats_server.url], streams=[stream], consumers=consumers
        )
        assert_loaded(entry)
        js = nc.jetstream()
        await js.publish("tele.flow", jdump({"flow": [1.5]}))
        await js.publish("tele.flow", b"\xff\xfe not even text")
        await js.publish("tele.flow", b"{broken json")
        await js.publish("tele.flow", jdump({"other": 1}))
        await js.publish("tele.flow", jdump({"flow": [2.5]}))
        await js.publish("tele.alarm", jdump({"code": 7}))
        await js.publish("tele.alarm", b"\xff")
        await wait_until(lambda: state_of(host, "sensor.flow") == "2.5")
        await wait_until(lambda: len(alarms) == 1)
        counter = host.states.get("sensor.bus_malformed_messages")
        await wait_until(lambda: state_of(host, "sensor.bus_malformed_messages") == "4")
        counter = host.states.get("sensor.bus_malformed_messages")
        assert counter is not None
        assert counter.attributes["consumer Flow"] == 3
        assert counter.attributes["consumer Alarms"] == 1
        assert alarms[0]["json"] == {"code": 7} and alarms[0]["subject"] == "tele.alarm"
        await anyio.sleep(1.5)  # past ack_wait: terminated messages must not come back
        for durable in ("flow", "alarms"):
            info = await js.consumer_info("TELEMETRY", durable)
            assert info.num_pending == 0 and info.num_ack_pending == 0, info
            assert info.num_redelivered == 0
        assert state_of(host, "sensor.bus_malformed_messages") == "4"


async def _kv_value(nc: Any, bucket: str, key: str) -> dict[str, Any] | None:
    kv = await nc.jetstream().key_value(bucket)
    try:
        entry = await kv.get(key)
    except (nats.js.errors.KeyNotFoundError, nats.js.errors.KeyDeletedError):
        return None
    return json.loads(entry.value) if entry.value else None


async def test_kv_mirror_follows_selected_states(
    nats_server: NatsServer, host: Host
) -> None:
    kv = {"bucket": "site_states", "include": ["sensor.*", "binary_sensor.door_*"],
          "exclude": ["sensor.secret_*", "sensor.bus_*"]}
    async with raw_client(nats_server.url) as nc:
        host.states.set("sensor.before", "1", {"unit_of_measurement": "W"})
        entry = await add_nats(host, servers=[nats_server.url], kv=kv)
        assert_loaded(entry)
        for value in range(50):
            host.states.set("sensor.power", value)
        host.states.set("sensor.secret_key", "x")
        host.states.set("binary_sensor.door_front", "on")
        host.states.set("switch.pump", "on")

        async def settled(host: Host) -> bool:
            doc = await _kv_value(nc, "site_states", "sensor.power")
            return doc is not None and doc["state"] == "49"

        with anyio.fail_after(10):
            while not await settled(host):  # noqa: ASYNC110 - polling the server
                await anyio.sleep(0.02)
        before = await _kv_value(nc, "site_states", "sensor.before")
        assert before is not None and before["attributes"] == {"unit_of_measurement": "W"}
        door = await _kv_value(nc, "site_states", "binary_sensor.door_front")
        assert door is not None and door["state"] == "on"
        assert await _kv_value(nc, "site_states", "sensor.secret_key") is None
        assert await _kv_value(nc, "site_states", "switch.pump") is None
        kv_store = await nc.jetstream().key_value("site_states")
        keys = set(await kv_store.keys())
        assert keys == {"sensor.before", "sensor.power", "binary_sensor.door_front"}
        # Far fewer writes than changes: a burst is coalesced into the newest state.
        assert entry.runtime_data.kv is not None
        assert entry.runtime_data.kv.writes < 50

        host.states.remove("sensor.power")
        with anyio.fail_after(10):
            while await _kv_value(nc, "site_states", "sensor.power") is not None:  # noqa: ASYNC110
                await anyio.sleep(0.02)


async def test_kv_mirror_takes_the_house_entity_filter(
    nats_server: NatsServer, host: Host
) -> None:
    """The mapping form: Home Assistant's precedence (an excluded glob beats an included
    domain) and attribute conditions, which hold back a state that fails them."""
    kv = {"bucket": "filtered", "include": {"domains": ["sensor"], "attributes": {"ok": True}},
          "exclude": {"entity_globs": ["sensor.secret_*"]}}
    async with raw_client(nats_server.url) as nc:
        entry = await add_nats(host, servers=[nats_server.url], kv=kv)
        assert_loaded(entry)
        host.states.set("sensor.secret_key", "x", {"ok": True})
        host.states.set("sensor.bad", "1", {"ok": False})
        host.states.set("switch.pump", "on", {"ok": True})
        host.states.set("sensor.level", "1", {"ok": True})
        host.states.set("sensor.level", "2", {"ok": False})  # held back: the bucket keeps 1
        host.states.set("sensor.last", "9", {"ok": True})
        bucket = await nc.jetstream().key_value("filtered")
        wanted = {"sensor.level", "sensor.last"}
        with anyio.fail_after(10):
            while not wanted <= set(await bucket.keys()):  # noqa: ASYNC110 - the server
                await anyio.sleep(0.02)
        # Written in one round with the others: anything else would be there by now.
        assert set(await bucket.keys()) == wanted
        level = await _kv_value(nc, "filtered", "sensor.level")
        assert level is not None and level["state"] == "1"


def test_kv_filter_forms_cannot_be_mixed() -> None:
    with pytest.raises(vol.Invalid, match="both as lists of entity id globs"):
        KV_SCHEMA({"bucket": "b", "include": ["sensor.*"], "exclude": {"domains": ["light"]}})
    with pytest.raises(vol.Invalid, match=r"extra keys not allowed @ data\['include'\]\['domain"):
        KV_SCHEMA({"bucket": "b", "include": {"domain": ["sensor"]}})
    # The older form alone still validates to itself.
    assert KV_SCHEMA({"bucket": "b", "include": "sensor.*"})["include"] == ["sensor.*"]


async def test_a_lost_delivery_is_read_from_the_stream_in_order(
    nats_server: NatsServer, host: Host
) -> None:
    """A delivery lost in transit is redelivered only after ack_wait, behind newer
    messages; the consumer reads it from the stream first so the entity never skips
    or goes back in time."""
    stream = {"name": "LEVELS", "subjects": ["level.>"]}
    consumer = {"name": "Level", "stream": "LEVELS", "ack_wait": 1.0, "fetch_timeout": 0.3}
    seen: list[str] = []

    def record(event: Event[Any]) -> None:
        new = event.data["new_state"]
        if event.data["entity_id"] == "sensor.level" and new is not None:
            seen.append(new.state)

    async with raw_client(nats_server.url) as nc:
        host.bus.listen(EVENT_STATE_CHANGED, record)
        entry = await add_nats(
            host, servers=[nats_server.url], streams=[stream], consumers=[consumer]
        )
        assert_loaded(entry)
        js = nc.jetstream()
        await js.publish("level.tank", b"1")
        await wait_until(lambda: state_of(host, "sensor.level") == "1")
        await host.config_entries.unload(entry.entry_id)

        # Another client takes delivery of "2" and loses it (never acks).
        await js.publish("level.tank", b"2")
        thief = await js.pull_subscribe_bind(durable="level", stream="LEVELS")
        (stolen,) = await thief.fetch(1, timeout=2)
        assert stolen.data == b"2"
        await js.publish("level.tank", b"3")
        await js.publish("level.tank", b"4")

        assert await host.config_entries.setup(entry.entry_id)
        await wait_until(lambda: state_of(host, "sensor.level") == "4")
        await anyio.sleep(1.5)  # "2" is redelivered after ack_wait: skipped, acked
        assert [s for s in seen if s.isdigit()] == ["1", "2", "3", "4"]
        (diagnostics,) = [c.diagnostics() for c in entry.runtime_data.consumers]
        assert diagnostics["gap_filled"] == 1 and diagnostics["skipped_redeliveries"] == 1
        info = await js.consumer_info("LEVELS", "level")
        assert info.num_pending == 0 and info.num_ack_pending == 0
