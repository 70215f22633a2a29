"""What a point is: states made into lines as Home Assistant's influxdb does (pure),
plus the device tag from the registries (with a host)."""

from __future__ import annotations

from typing import Any

import pytest
import voluptuous as vol

from gatehouse.core import DeviceInfo, Host, SensorEntity, State
from gatehouse.core.helpers import entity_filter
from gatehouse.core.testing import add_entry
from gatehouse.integrations.influxdb.config import CONFIG_SCHEMA, ENTRY_SCHEMA
from gatehouse.integrations.influxdb.lineprotocol import Counts
from gatehouse.integrations.influxdb.point import PointMaker

T = 1_700_000_000.25
NS = 1_700_000_000_250_000_000


def line(state: str, attributes: dict[str, Any] | None = None, *, entity: str = "sensor.t",
         **config: Any) -> str | None:
    maker = PointMaker(None, ENTRY_SCHEMA(config), Counts())
    return maker.line(State(entity, state, attributes, last_updated=T))


def test_numeric_state_is_value_with_unit_as_measurement() -> None:
    assert line("21.5", {"unit_of_measurement": "°C", "friendly_name": "Temp"}) == (
        f'°C,domain=sensor,entity_id=t value=21.5,friendly_name_str="Temp" {NS}'
    )


def test_text_state_is_state_field_and_binary_gets_a_value_too() -> None:
    assert line("heating", entity="climate.x") == (
        f'climate.x,domain=climate,entity_id=x state="heating" {NS}'
    )
    assert line("on", entity="switch.pump") == (
        f'switch.pump,domain=switch,entity_id=pump state="on",value=1.0 {NS}'
    )


@pytest.mark.parametrize("state", ["unknown", "unavailable", ""])
def test_unknown_and_unavailable_are_not_written(state: str) -> None:
    assert line(state) is None


def test_measurement_attr_domain_device_class() -> None:
    got = line("1", {"device_class": "power", "unit_of_measurement": "W"},
               measurement_attr="domain__device_class")
    assert got == (
        f'sensor__power,domain=sensor,entity_id=t value=1.0,unit_of_measurement_str="W" {NS}'
    )
    assert line("1", measurement_attr="domain__device_class").startswith("sensor,")


def test_measurement_attr_entity_id_and_default_measurement() -> None:
    assert line("1", measurement_attr="entity_id").startswith("sensor.t,")
    assert line("1", default_measurement="state").startswith("state,")  # no unit


def test_override_measurement_and_component_config_precedence() -> None:
    config = {
        "override_measurement": "all",
        "component_config_domain": {"sensor": {"override_measurement": "by_domain"}},
        "component_config_glob": {"sensor.t*": {"override_measurement": "by_glob"}},
        "component_config": {"sensor.t": {"override_measurement": "by_entity"}},
    }
    assert line("1", **config).startswith("by_entity,")
    assert line("1", entity="sensor.tx", **config).startswith("by_glob,")
    assert line("1", entity="sensor.other", **config).startswith("by_domain,")
    assert line("1", entity="light.x", **config).startswith("all,")


def test_ignore_attributes_global_and_per_entity() -> None:
    attributes = {"a": 1, "b": 2, "c": 3}
    got = line("1", attributes, ignore_attributes=["a"],
               component_config={"sensor.t": {"ignore_attributes": ["b"]}})
    assert got == f"sensor.t,domain=sensor,entity_id=t value=1.0,c=3.0 {NS}"


def test_attributes_numbers_floats_text_with_str_suffix_and_number_inside() -> None:
    got = line("1", {"n": 3, "flag": True, "text": "12.5 km", "list": [1, 2],
                     "bad": float("nan")})
    assert got == (
        f'sensor.t,domain=sensor,entity_id=t value=1.0,n=3.0,flag=1.0,text_str="12.5 km",'
        f'text=12.5,list_str="[1, 2]" {NS}'
    )


def test_attribute_named_like_a_field_gets_an_underscore() -> None:
    got = line("1", {"value": 7})
    assert got == f"sensor.t,domain=sensor,entity_id=t value=1.0,value_=7.0 {NS}"


def test_tags_config_and_tags_attributes_and_config_tags_win() -> None:
    got = line("1", {"room": "kitchen", "domain": "x"}, tags={"site": "a b", "room": "cfg"},
               tags_attributes=["room"])
    assert got == (
        f'sensor.t,domain=sensor,entity_id=t,room=cfg,site=a\\ b value=1.0,domain_str="x" {NS}'
    )


@pytest.mark.parametrize(
    ("precision", "stamp"), [("s", 1_700_000_000), ("ms", 1_700_000_000_250)]
)
def test_precision(precision: str, stamp: int) -> None:
    assert str(line("1", precision=precision)).endswith(f" {stamp}")


# -- configuration -------------------------------------------------------------------


def test_v2_needs_org_bucket_token_and_refuses_v1_fields() -> None:
    with pytest.raises(vol.Invalid, match="org"):
        ENTRY_SCHEMA({"api_version": 2, "bucket": "b", "token": "t"})
    with pytest.raises(vol.Invalid, match="database: only with api_version 1"):
        ENTRY_SCHEMA({"api_version": 2, "org": "o", "bucket": "b", "token": "t",
                      "database": "d"})
    with pytest.raises(vol.Invalid, match="token: only with api_version 2"):
        ENTRY_SCHEMA({"token": "t"})
    config = ENTRY_SCHEMA({"api_version": "2", "org": "o", "bucket": "b", "token": "t"})
    assert config["api_version"] == 2 and "database" not in config


def test_defaults() -> None:
    config = ENTRY_SCHEMA({})
    assert config["database"] == "home_assistant"
    assert config["verify_ssl"] is True and config["gzip"] is True
    assert config["precision"] == "ns" and config["batch_size"] == 5000
    assert config["measurement_attr"] == "unit_of_measurement"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"precision": "m"}, "precision"),
        ({"measurement_attr": "name"}, "measurement_attr"),
        ({"host": "http://x"}, "without scheme"),
        ({"username": "u"}, "together"),
        ({"batch_size": 0}, "batch_size"),
        ({"queries": [{"name": "q"}]}, "query"),
        ({"api_version": 3}, "api_version"),
    ],
)
def test_bad_config_names_the_field(data: dict[str, Any], message: str) -> None:
    with pytest.raises(vol.Invalid, match=message):
        CONFIG_SCHEMA(data)


# -- registries ----------------------------------------------------------------------


class _Thing(SensorEntity):
    _attr_unique_id = "thing_1"
    _attr_name = "Thing"
    _attr_native_value = 4
    _attr_device_info: DeviceInfo | None = {"identifiers": {("x", "1")}, "name": "Boiler room"}


@pytest.mark.anyio
async def test_device_tag_from_registries(host: Host) -> None:
    entry = await add_entry(host, "demo", {})
    thing = _Thing()
    await host.entities.add(entry, [thing])
    assert thing.entity_id is not None
    maker = PointMaker(host, ENTRY_SCHEMA({}), Counts())
    got = maker.line(host.states.get(thing.entity_id))  # type: ignore[arg-type]
    assert got is not None and ",device=Boiler\\ room," in got


@pytest.mark.anyio
async def test_area_tag_follows_the_registries(host: Host) -> None:
    """The entity's own area, else its device's; made again after a registry change."""
    entry = await add_entry(host, "demo", {})
    thing = _Thing()
    await host.entities.add(entry, [thing])
    entity_id = str(thing.entity_id)
    registered = host.entity_registry.get(entity_id)
    assert registered is not None and registered.device_id is not None
    maker = PointMaker(host, ENTRY_SCHEMA({}), Counts())

    def line() -> str:
        got = maker.line(host.states.get(entity_id))  # type: ignore[arg-type]
        assert got is not None
        return got

    assert ",area=" not in line()
    host.device_registry.update(registered.device_id, area_id="plant_room")
    maker.forget()
    assert ",area=plant_room," in line()
    host.entity_registry.update(entity_id, area_id="office")
    maker.forget()
    assert ",area=office," in line()


@pytest.mark.anyio
async def test_include_exclude_by_attribute_and_device(host: Host) -> None:
    """The helpers' shared filter over the entry's own schema."""
    entry = await add_entry(host, "demo", {})
    thing = _Thing()
    await host.entities.add(entry, [thing])
    accept = entity_filter(host, ENTRY_SCHEMA({
        "include": {"domains": ["sensor"],
                    "attributes": {"device_class": ["temperature", "humidity"]}},
        "exclude": {"entity_globs": ["sensor.*_raw"]},
    }))
    assert accept(State("sensor.a", "1", {"device_class": "humidity"}))
    assert not accept(State("sensor.a_raw", "1", {"device_class": "humidity"}))
    assert not accept(State("sensor.b", "1", {"device_class": "power"}))
    assert not accept(State("light.c", "on", {"device_class": "humidity"}))
    registered = host.entity_registry.get(str(thing.entity_id))
    assert registered is not None and registered.device_id is not None
    by_device = entity_filter(host, ENTRY_SCHEMA({"include": {"devices": [registered.device_id]}}))
    assert by_device(host.states.get(str(thing.entity_id)))  # type: ignore[arg-type]
    assert not by_device(State("sensor.a", "1"))
