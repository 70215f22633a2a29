"""Entities, platforms and the entity/device registries (stable ids across restarts)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from gatehouse.core import (
    BinarySensorEntity,
    ButtonEntity,
    ConfigEntry,
    Host,
    NumberEntity,
    SensorEntity,
    SensorEntityDescription,
    ServiceValidationError,
    SwitchEntity,
)
from gatehouse.core.exceptions import GatehouseError
from gatehouse.core.testing import make_host

pytestmark = pytest.mark.anyio

DEVICE = {"identifiers": {("t", "dev1")}, "name": "Boiler", "manufacturer": "ACME",
          "model": "B1"}


class Temp(SensorEntity):
    _attr_unique_id = "temp1"
    _attr_name = "Boiler temperature"
    _attr_native_unit_of_measurement = "°C"
    _attr_device_class = "temperature"
    _attr_state_class = "measurement"
    _attr_device_info = DEVICE  # type: ignore[assignment]
    _attr_native_value = 55.5


class Pump(SwitchEntity):
    _attr_unique_id = "pump1"
    _attr_name = "Pump"
    _attr_is_on = False

    async def turn_on(self) -> None:
        self._attr_is_on = True
        self.write_state()

    async def turn_off(self) -> None:
        self._attr_is_on = False
        self.write_state()


class Setpoint(NumberEntity):
    _attr_unique_id = "sp1"
    _attr_name = "Setpoint"
    _attr_native_min_value = 10
    _attr_native_max_value = 80
    _attr_native_step = 0.5
    _attr_native_value = 40.0

    async def set_native_value(self, value: float) -> None:
        self._attr_native_value = value
        self.write_state()


class Alarm(BinarySensorEntity):
    _attr_unique_id = "alarm1"
    _attr_name = "Alarm"
    _attr_is_on = True


class Reset(ButtonEntity):
    _attr_unique_id = "reset1"
    _attr_name = "Reset"
    presses = 0

    async def press(self) -> None:
        Reset.presses += 1


async def _entry(host: Host) -> ConfigEntry[Any]:
    """A loaded demo entry to hang test entities on (its own entities are irrelevant)."""
    entry = ConfigEntry(domain="demo", title="T", data={"name": "T"})
    await host.config_entries.add(entry)
    return entry


async def test_platform_states_and_attributes(host: Host) -> None:
    entry = await _entry(host)
    await host.entities.add(entry, [Temp(), Pump(), Setpoint(), Alarm(), Reset()])
    temp = host.states.get("sensor.boiler_temperature")
    assert temp is not None and temp.state == "55.5"
    assert temp.attributes["unit_of_measurement"] == "°C"
    assert temp.attributes["device_class"] == "temperature"
    assert temp.attributes["state_class"] == "measurement"
    assert temp.attributes["friendly_name"] == "Boiler temperature"
    assert host.states.get("switch.pump").state == "off"  # type: ignore[union-attr]
    sp = host.states.get("number.setpoint")
    assert sp is not None and sp.attributes["min"] == 10 and sp.attributes["step"] == 0.5
    assert host.states.get("binary_sensor.alarm").state == "on"  # type: ignore[union-attr]
    assert host.states.get("button.reset").state == "unknown"  # type: ignore[union-attr]


async def test_entity_services(host: Host) -> None:
    entry = await _entry(host)
    await host.entities.add(entry, [Pump(), Setpoint(), Reset()])
    await host.services.call("switch", "turn_on", {"entity_id": "switch.pump"})
    assert host.states.get("switch.pump").state == "on"  # type: ignore[union-attr]
    await host.services.call("switch", "toggle", {"entity_id": ["switch.pump"]})
    assert host.states.get("switch.pump").state == "off"  # type: ignore[union-attr]
    await host.services.call("number", "set_value", {"entity_id": "number.setpoint", "value": "60"})
    assert host.states.get("number.setpoint").state == "60.0"  # type: ignore[union-attr]
    with pytest.raises(ServiceValidationError, match="outside"):
        await host.services.call("number", "set_value",
                                 {"entity_id": "number.setpoint", "value": 99})
    with pytest.raises(GatehouseError, match="not a loaded switch"):
        await host.services.call("switch", "turn_on", {"entity_id": "number.setpoint"})
    before = Reset.presses
    await host.services.call("button", "press", {"entity_id": "button.reset"})
    assert Reset.presses == before + 1
    assert host.states.get("button.reset").state != "unknown"  # type: ignore[union-attr]


async def test_unavailable_entity(host: Host) -> None:
    entry = await _entry(host)
    temp = Temp()
    await host.entities.add(entry, [temp])
    temp._attr_available = False
    temp.write_state()
    state = host.states.get("sensor.boiler_temperature")
    assert state is not None and state.state == "unavailable"
    assert "state_class" not in state.attributes
    assert state.attributes["friendly_name"] == "Boiler temperature"


async def test_description_driven_sensor(host: Host) -> None:
    entry = await _entry(host)
    desc = SensorEntityDescription(key="flow", name="Flow", unit_of_measurement="l/min",
                                   suggested_display_precision=1, value_fn=lambda d: d["f"])

    class Described(SensorEntity):
        def __init__(self) -> None:
            self.entity_description = desc
            self._attr_unique_id = "flow"
            self._attr_native_value = desc.value_fn({"f": 3.14159})  # type: ignore[misc]

    await host.entities.add(entry, [Described()])
    state = host.states.get("sensor.flow")
    assert state is not None and state.state == "3.1"
    assert state.attributes["unit_of_measurement"] == "l/min"


async def test_ids_stable_across_restart_rename_and_disable(config_dir: Path) -> None:
    host = make_host(config_dir)
    async with host.running():
        entry = await _entry(host)
        await host.entities.add(entry, [Temp(), Pump()])
        # A second entity wanting the same object id gets a suffix.
        other = Temp()
        other._attr_unique_id = "temp2"
        await host.entities.add(entry, [other])
        assert host.states.get("sensor.boiler_temperature_2") is not None
        # Rename: name and entity id, live.
        host.entity_registry.update("switch.pump", new_entity_id="switch.main_pump",
                                    name="Main pump")
        assert host.states.get("switch.pump") is None
        main = host.states.get("switch.main_pump")
        assert main is not None and main.attributes["friendly_name"] == "Main pump"
        await host.services.call("switch", "turn_on", {"entity_id": "switch.main_pump"})
        assert host.states.get("switch.main_pump").state == "on"  # type: ignore[union-attr]
        # Disable: the state goes away.
        removed = anyio.Event()
        host.bus.listen(
            "state_changed",
            lambda e: removed.set(),
            lambda d: d["entity_id"] == "sensor.boiler_temperature_2" and d["new_state"] is None,
        )
        host.entity_registry.update("sensor.boiler_temperature_2", disabled_by="user")
        with anyio.fail_after(5):
            await removed.wait()
        assert host.states.get("sensor.boiler_temperature_2") is None
        device = host.device_registry.find([("t", "dev1")])
        assert device is not None and device.manufacturer == "ACME"
        entry_id = entry.entry_id

    stored = json.loads((config_dir / ".storage" / "core.entity_registry").read_text())
    assert {e["entity_id"] for e in stored["data"]["entities"]} >= {
        "sensor.boiler_temperature", "switch.main_pump", "sensor.boiler_temperature_2"}

    host2 = make_host(config_dir)
    async with host2.running():
        entry2 = host2.config_entries.get(entry_id)
        # Same unique ids come back with the same (renamed) ids; the disabled one stays off.
        other = Temp()
        other._attr_unique_id = "temp2"
        added = await host2.entities.add(entry2, [Temp(), Pump(), other])
        assert [e.entity_id for e in added] == ["sensor.boiler_temperature", "switch.main_pump"]
        assert host2.states.get("switch.main_pump").attributes["friendly_name"] == "Main pump"  # type: ignore[union-attr]
        assert host2.states.get("sensor.boiler_temperature_2") is None
        assert host2.device_registry.find([("t", "dev1")]) is not None


async def test_rename_refuses_bad_or_taken_ids(host: Host) -> None:
    entry = await _entry(host)
    pump2 = Pump()
    pump2._attr_unique_id = "pump2"
    await host.entities.add(entry, [Temp(), Pump(), pump2])
    with pytest.raises(GatehouseError, match="taken"):
        host.entity_registry.update("switch.pump", new_entity_id="switch.pump_2")
    with pytest.raises(GatehouseError, match="domain"):
        host.entity_registry.update("switch.pump", new_entity_id="sensor.pump")
    with pytest.raises(GatehouseError):
        host.entity_registry.update("switch.pump", new_entity_id="switch.Bad Id")


async def test_unload_removes_states_but_keeps_registry(host: Host) -> None:
    entry = await _entry(host)
    await host.entities.add(entry, [Temp()])
    await host.config_entries.unload(entry.entry_id)
    assert host.states.get("sensor.boiler_temperature") is None
    assert host.entity_registry.get("sensor.boiler_temperature") is not None
    assert len(host.entities.of_entry(entry.entry_id)) == 0


async def test_entity_service_state_carries_the_call_context(host: Host) -> None:
    from gatehouse.core import Context

    entry = await _entry(host)
    await host.entities.add(entry, [Pump()])
    ctx = Context(user_id="operator")
    await host.services.call("switch", "turn_on", {"entity_id": "switch.pump"}, context=ctx)
    state = host.states.get("switch.pump")
    assert state is not None and state.context is ctx
    pump = host.entities.get("switch.pump")
    assert pump is not None and pump._call_context is None


async def test_loaded_entries_keeps_domain_services_until_the_last_entry(host: Host) -> None:
    from gatehouse.core.exceptions import ServiceNotFound

    first = ConfigEntry(domain="demo", title="One", data={"name": "One"}, unique_id="one")
    second = ConfigEntry(domain="demo", title="Two", data={"name": "Two"}, unique_id="two")
    await host.config_entries.add(first)
    await host.config_entries.add(second)
    await host.config_entries.unload(first.entry_id)
    # The first entry registered the service; it stays while the second is loaded.
    result = await host.services.call("demo", "reset_counter", return_response=True)
    assert result is not None and set(result["previous"]) == {second.entry_id}
    await host.config_entries.unload(second.entry_id)
    with pytest.raises(ServiceNotFound):
        await host.services.call("demo", "reset_counter")
    await host.config_entries.setup(first.entry_id)
    assert host.services.has("demo", "reset_counter")


# -- length caps (issue 9: a 100,000-character discovery name made a 100,016-character id)


class Named(SensorEntity):
    _attr_native_value = 1

    def __init__(self, name: str, unique_id: str | None) -> None:
        self._attr_name = name
        self._attr_unique_id = unique_id


async def test_long_names_make_capped_distinct_deterministic_ids(config_dir: Path) -> None:
    from gatehouse.core.entity_registry import MAX_NAME_LENGTH, MAX_OBJECT_ID_LENGTH
    from gatehouse.core.states import MAX_ENTITY_ID_LENGTH

    long_a = "Very long name " + "x" * 100_000 + " a"
    long_b = "Very long name " + "x" * 100_000 + " b"
    host = make_host(config_dir)
    async with host.running():
        entry = await _entry(host)
        added = await host.entities.add(
            entry,
            [Named(long_a, "a"), Named(long_b, "b"), Named(long_a, None), Named(long_a, None)],
        )
        ids = [e.entity_id for e in added]
        assert all(i is not None and len(i) <= MAX_ENTITY_ID_LENGTH for i in ids), ids
        assert len(set(ids)) == 4  # the cut keeps them apart (hash suffix, then _2)
        first = ids[0]
        assert first is not None
        assert len(first.partition(".")[2]) == MAX_OBJECT_ID_LENGTH
        assert first.startswith("sensor.very_long_name_xxx")
        state = host.states.get(first)
        assert state is not None
        friendly = state.attributes["friendly_name"]
        assert len(friendly) == MAX_NAME_LENGTH and friendly.startswith("Very long name xx")
        reg = host.entity_registry.get(first)
        assert reg is not None and reg.original_name is not None
        assert len(reg.original_name) == MAX_NAME_LENGTH
        entry_id = entry.entry_id
    stored = (config_dir / ".storage" / "core.entity_registry").stat().st_size
    assert stored < 10_000  # not 100 KB per entity

    # The same long name gives the same id again (deterministic, not random).
    again = make_host(config_dir)
    async with again.running():
        entry2 = again.config_entries.get(entry_id)
        assert entry2 is not None
        (same,) = await again.entities.add(entry2, [Named(long_a + " ", "a2")])
        expected = first + "_2"  # the capped slug is taken by "a" in the registry
        assert same.entity_id == expected


async def test_entity_ids_and_user_names_longer_than_the_caps_are_refused(host: Host) -> None:
    from gatehouse.core.entity_registry import MAX_NAME_LENGTH
    from gatehouse.core.exceptions import InvalidEntityId
    from gatehouse.core.states import MAX_ENTITY_ID_LENGTH, valid_entity_id

    longest = "sensor." + "a" * (MAX_ENTITY_ID_LENGTH - len("sensor."))
    assert valid_entity_id(longest)
    assert not valid_entity_id(longest + "a")
    host.states.set(longest, "1")
    with pytest.raises(InvalidEntityId):
        host.states.set(longest + "a", "1")
    entry = await _entry(host)
    await host.entities.add(entry, [Pump()])
    with pytest.raises(InvalidEntityId):
        host.entity_registry.update("switch.pump", new_entity_id="switch." + "p" * 300)
    with pytest.raises(GatehouseError, match=f"longer than {MAX_NAME_LENGTH}"):
        host.entity_registry.update("switch.pump", name="P" * (MAX_NAME_LENGTH + 1))
    host.entity_registry.update("switch.pump", name="P" * MAX_NAME_LENGTH)
    assert len(host.states.get("switch.pump").attributes["friendly_name"]) == MAX_NAME_LENGTH  # type: ignore[union-attr]


async def test_an_overlong_id_stored_before_the_cap_is_replaced_at_load(config_dir: Path) -> None:
    from gatehouse.core.states import MAX_ENTITY_ID_LENGTH

    storage = config_dir / ".storage"
    storage.mkdir(parents=True, exist_ok=True)
    long_id = "sensor." + "x" * 100_009
    (storage / "core.entity_registry").write_text(json.dumps({
        "version": 1, "minor_version": 1, "key": "core.entity_registry",
        "data": {"entities": [
            {"entity_id": long_id, "unique_id": "a", "platform": "demo",
             "name": "N" * 100_000, "original_name": "x" * 100_000},
            {"entity_id": "sensor.kept", "unique_id": "k", "platform": "demo"},
        ]},
    }))
    host = make_host(config_dir)
    async with host.running():
        assert host.entity_registry.get(long_id) is None
        assert host.entity_registry.get("sensor.kept") is not None
        entry = await _entry(host)
        (entity,) = await host.entities.add(entry, [Named("x" * 100_000, "a")])
        assert entity.entity_id is not None and len(entity.entity_id) <= MAX_ENTITY_ID_LENGTH
