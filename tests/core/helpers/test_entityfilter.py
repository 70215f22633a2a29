"""The shared entity filter (``gatehouse.core.helpers``); priority rules: test_priority_rules.py."""

from __future__ import annotations

import fnmatch
import random
from typing import Any

import pytest
import voluptuous as vol

from gatehouse.core import Host, State
from gatehouse.core.helpers import (
    ENTITY_FILTER_SCHEMA,
    EntityFilter,
    entity_filter,
)
from gatehouse.core.helpers.entityfilter import MAX_CACHED_DECISIONS

pytestmark = pytest.mark.anyio


def make(config: dict[str, Any], host: Host | None = None) -> EntityFilter:
    return EntityFilter(host, ENTITY_FILTER_SCHEMA(config))


def passes(flt: EntityFilter, entity_id: str, **attributes: Any) -> bool:
    return flt(State(entity_id, "1", attributes))


# Home Assistant's cases (homeassistant/helpers/entityfilter.py), entity id -> expected.
CASES: list[tuple[str, dict[str, Any], dict[str, bool]]] = [
    ("1 no filter", {}, {"sensor.a": True, "light.b": True}),
    (
        "2 include only",
        {"include": {"domains": ["light", "sensor"], "entities": ["binary_sensor.working"]}},
        {"sensor.a": True, "light.b": True, "binary_sensor.working": True,
         "binary_sensor.other": False, "sun.sun": False},
    ),
    (
        "3 exclude only",
        {"exclude": {"domains": ["switch"], "entities": ["sensor.secret"],
                     "entity_globs": ["*_debug"]}},
        {"sensor.a": True, "switch.x": False, "sensor.secret": False, "light.b_debug": False},
    ),
    (
        "4 broad include with excludes",
        {
            "include": {"domains": ["sensor"], "entity_globs": ["binary_sensor.tank_*"],
                        "entities": ["switch.pump"]},
            "exclude": {"entity_globs": ["sensor.*_debug"], "entities": ["sensor.old"],
                        "domains": ["binary_sensor"]},
        },
        {
            "sensor.level": True,
            "sensor.level_debug": False,  # excluded glob beats included domain
            "sensor.old": False,  # excluded entity beats included domain
            "binary_sensor.tank_full": True,  # included glob beats excluded domain
            "binary_sensor.door": False,
            "switch.pump": True,
            "switch.fan": False,  # named by no level
        },
    ),
    (
        "4 included entity beats excluded glob",
        {"include": {"entities": ["sensor.keep_debug"], "domains": ["sensor"]},
         "exclude": {"entity_globs": ["*_debug"]}},
        {"sensor.keep_debug": True, "sensor.drop_debug": False, "sensor.x": True},
    ),
    (
        "4 included domain beats the same domain excluded",
        {"include": {"domains": ["sensor"]}, "exclude": {"domains": ["sensor", "light"]}},
        {"sensor.a": True, "light.b": False, "switch.c": False},
    ),
    (
        "4 excluded entity beats included glob",
        {"include": {"entity_globs": ["sensor.tank_*"]},
         "exclude": {"entities": ["sensor.tank_old"], "entity_globs": ["sensor.tank_*"]}},
        {"sensor.tank_1": True, "sensor.tank_old": False, "sensor.pipe": False},
    ),
    (
        "5 broad excludes, entity includes",
        {"include": {"entities": ["light.keep"]}, "exclude": {"domains": ["light"]}},
        {"light.keep": True, "light.other": False, "sensor.a": True},
    ),
    (
        "5 glob excludes, entity excludes, entity includes",
        {"include": {"entities": ["sensor.keep_debug"]},
         "exclude": {"entity_globs": ["*_debug"], "entities": ["sensor.gone"]}},
        {"sensor.keep_debug": True, "sensor.x_debug": False, "sensor.gone": False,
         "sensor.other": True},
    ),
    (
        "6 entity lists only",
        {"include": {"entities": ["sensor.a"]}, "exclude": {"entities": ["sensor.b"]}},
        {"sensor.a": True, "sensor.b": False, "sensor.c": False},
    ),
]


@pytest.mark.parametrize(("case", "config", "expected"), CASES, ids=[c[0] for c in CASES])
def test_home_assistant_precedence(
    case: str, config: dict[str, Any], expected: dict[str, bool]
) -> None:
    flt = make(config)
    assert {e: passes(flt, e) for e in expected} == expected


def test_attribute_conditions_apply_after_the_choice() -> None:
    flt = make({
        "include": {
            "domains": ["sensor"], "attributes": {"device_class": ["temperature", "pressure"]},
        },
        "exclude": {"attributes": {"quality": "bad"}},
    })
    assert passes(flt, "sensor.t", device_class="temperature")
    assert passes(flt, "sensor.p", device_class="pressure", quality="good")
    assert not passes(flt, "sensor.p", device_class="pressure", quality="bad")
    assert not passes(flt, "sensor.h", device_class="humidity")
    assert not passes(flt, "sensor.none")  # a missing attribute is not a match
    assert not passes(flt, "light.t", device_class="temperature")  # not chosen at all


def test_attribute_condition_alone_narrows_every_entity() -> None:
    flt = make({"include": {"attributes": {"alarm": True}}})
    assert not flt.empty
    assert passes(flt, "binary_sensor.high", alarm=True)
    assert not passes(flt, "binary_sensor.high", alarm=False)
    assert make({}).empty


def test_schema_errors_name_the_key() -> None:
    with pytest.raises(vol.Invalid, match="entities"):
        ENTITY_FILTER_SCHEMA({"include": {"entities": ["not_an_id"]}})
    with pytest.raises(vol.Invalid, match="domain"):
        ENTITY_FILTER_SCHEMA({"include": {"domain": ["sensor"]}})  # the key is "domains"
    with pytest.raises(vol.Invalid, match="attributes"):
        ENTITY_FILTER_SCHEMA({"exclude": {"attributes": ["quality"]}})
    with pytest.raises(vol.Invalid, match="entity_globs"):
        ENTITY_FILTER_SCHEMA({"exclude": {"entity_globs": [3]}})
    # An attribute with no accepted value would silently drop (or keep) every state.
    with pytest.raises(vol.Invalid, match=r"device_class.*@ data\['include'\]\['attributes'\]"):
        ENTITY_FILTER_SCHEMA({"include": {"attributes": {"device_class": []}}})
    with pytest.raises(vol.Invalid, match=r"@ data\['include'\]"):
        ENTITY_FILTER_SCHEMA({"include": ["sensor.*"]})  # the older nats form is nats' own
    # A lone string is a list of one, as in Home Assistant.
    assert ENTITY_FILTER_SCHEMA({"include": {"domains": "sensor"}})["include"]["domains"] == [
        "sensor"
    ]


async def test_devices_and_areas_follow_the_registries(host: Host) -> None:
    devices, entities = host.device_registry, host.entity_registry
    boiler = devices.get_or_create("entry", {"identifiers": {("t", "boiler")}, "name": "Boiler"})
    pump = devices.get_or_create("entry", {"identifiers": {("t", "pump")}, "name": "Pump"})
    temp = entities.get_or_create(
        "sensor", "t", "temp", suggested_object_id="boiler_temp", device_id=boiler.id
    )
    flow = entities.get_or_create(
        "sensor", "t", "flow", suggested_object_id="pump_flow", device_id=pump.id
    )
    lone = entities.get_or_create("sensor", "t", "lone", suggested_object_id="lone")

    by_device = entity_filter(host, ENTITY_FILTER_SCHEMA({"include": {"devices": [boiler.id]}}))
    by_area = entity_filter(host, ENTITY_FILTER_SCHEMA({"include": {"areas": ["plant_room"]}}))
    assert [passes(by_device, e.entity_id) for e in (temp, flow, lone)] == [True, False, False]
    assert [passes(by_area, e.entity_id) for e in (temp, flow, lone)] == [False, False, False]

    # A device's area is its entities' area; an entity's own area wins over it.
    # The cached decisions are forgotten when either registry changes.
    devices.update(boiler.id, area_id="plant_room")
    assert [passes(by_area, e.entity_id) for e in (temp, flow, lone)] == [True, False, False]
    entities.update(temp.entity_id, area_id="office")
    entities.update(lone.entity_id, area_id="plant_room")
    assert [passes(by_area, e.entity_id) for e in (temp, flow, lone)] == [False, False, True]

    # Excluding a device beats including its domain; including an area beats excluding
    # the domain (areas are more specific than domains).
    mixed = entity_filter(host, ENTITY_FILTER_SCHEMA({
        "include": {"domains": ["sensor"], "areas": ["plant_room"]},
        "exclude": {"devices": [pump.id], "domains": ["light"]},
    }))
    assert passes(mixed, temp.entity_id)
    assert not passes(mixed, flow.entity_id)
    assert passes(mixed, lone.entity_id)


async def test_area_ids_survive_a_restart(host: Host) -> None:
    device = host.device_registry.get_or_create("entry", {"identifiers": {("t", "d")}})
    entry = host.entity_registry.get_or_create("sensor", "t", "x", suggested_object_id="x")
    host.device_registry.update(device.id, area_id="yard")
    host.entity_registry.update(entry.entity_id, area_id="shed")
    await host.device_registry.flush()
    await host.entity_registry.flush()
    from gatehouse.core.device_registry import DeviceRegistry
    from gatehouse.core.entity_registry import EntityRegistry

    devices, entities = DeviceRegistry(host), EntityRegistry(host)
    await devices.load()
    await entities.load()
    reloaded_device = devices.get(device.id)
    reloaded_entity = entities.get(entry.entity_id)
    assert reloaded_device is not None and reloaded_device.area_id == "yard"
    assert reloaded_entity is not None and reloaded_entity.area_id == "shed"


def test_decision_cache_is_bounded() -> None:
    flt = make({"include": {"entity_globs": ["sensor.keep_*"]}})
    for i in range(MAX_CACHED_DECISIONS + 10):
        passes(flt, f"sensor.n{i}")
    assert len(flt._cache) <= MAX_CACHED_DECISIONS
    assert passes(flt, "sensor.keep_1") and not passes(flt, "sensor.other")


async def test_filters_add_no_bus_listeners(host: Host) -> None:
    """The registry-change subscription is one per host, shared by every filter, so a
    filter that goes away with its entry leaves nothing subscribed behind it."""
    entity_filter(host, ENTITY_FILTER_SCHEMA({"include": {"areas": ["a"]}}))
    before = host.bus.listener_count()
    filters = [
        entity_filter(host, ENTITY_FILTER_SCHEMA({"include": {"devices": [f"d{i}"]}}))
        for i in range(50)
    ]
    assert host.bus.listener_count() == before
    assert not any(passes(f, "sensor.x") for f in filters)


def home_assistant_reference(config: dict[str, Any], entity_id: str) -> bool:
    """Home Assistant's documented cases, step by step as its docstring lists them
    (domains, entities, entity_globs only): an independent statement of the rule to
    hold our level walk against."""
    inc, exc = config.get("include", {}), config.get("exclude", {})
    domain = entity_id.split(".", maxsplit=1)[0]

    def named(side: dict[str, Any], key: str) -> bool:
        if key == "entities":
            return entity_id in side.get("entities", [])
        if key == "domains":
            return domain in side.get("domains", [])
        return any(fnmatch.fnmatchcase(entity_id, g) for g in side.get("entity_globs", []))

    have_inc = any(inc.get(k) for k in ("domains", "entities", "entity_globs"))
    have_exc = any(exc.get(k) for k in ("domains", "entities", "entity_globs"))
    if not have_inc and not have_exc:  # case 1
        return True
    if not have_exc:  # case 2
        return any(named(inc, k) for k in ("entities", "domains", "entity_globs"))
    if not have_inc:  # case 3
        return not any(named(exc, k) for k in ("entities", "domains", "entity_globs"))
    if inc.get("domains") or inc.get("entity_globs"):  # case 4
        if named(inc, "entities"):
            return True
        if named(exc, "entities"):
            return False
        if named(inc, "entity_globs"):
            return True
        if named(exc, "entity_globs"):
            return False
        return named(inc, "domains")
    if exc.get("domains") or exc.get("entity_globs"):  # case 5
        if named(inc, "entities"):
            return True
        return not any(named(exc, k) for k in ("entities", "entity_globs", "domains"))
    return named(inc, "entities")  # case 6


def test_home_assistant_cases_on_random_filters() -> None:
    """3,000 random filters over a small alphabet (so selectors overlap a lot), each
    entity decided by our filter and by the reference above."""
    rng = random.Random(20261204)
    domains = ["sensor", "light", "switch"]
    entity_ids = [f"{d}.{n}" for d in domains for n in ("a", "b", "a_debug", "tank_1")]
    globs = ["*_debug", "sensor.*", "*.tank_*", "light.?", "*a*"]

    def side() -> dict[str, list[str]]:
        return {
            "domains": rng.sample(domains, rng.choice([0, 0, 1, 2])),
            "entities": rng.sample(entity_ids, rng.choice([0, 0, 1, 2])),
            "entity_globs": rng.sample(globs, rng.choice([0, 0, 1, 2])),
        }

    for _ in range(3000):
        config = {"include": side(), "exclude": side()}
        flt = make(config)
        for entity_id in entity_ids:
            assert passes(flt, entity_id) == home_assistant_reference(config, entity_id), (
                config, entity_id,
            )
