"""Priority rules for routes (``PRIORITY_FIELDS`` / ``priority_rules``): the outbox
priority of a state is the first rule whose filter takes it, else normal."""

from __future__ import annotations

from typing import Any

import pytest
import voluptuous as vol

from gatehouse.core import Host, State
from gatehouse.core.helpers import (
    ENTITY_FILTER_FIELDS,
    PRIORITY_FIELDS,
    PRIORITY_HIGH,
    PRIORITY_LOW,
    PRIORITY_NORMAL,
    PriorityRules,
    priority_rules,
)

pytestmark = pytest.mark.anyio

#: An exporter's schema with both blocks spliced in, as influxdb and aws_iot do.
ROUTE_SCHEMA = vol.Schema({vol.Required("name"): str, **ENTITY_FILTER_FIELDS, **PRIORITY_FIELDS})


def rules_of(host: Host, *rules: dict[str, Any]) -> PriorityRules:
    return priority_rules(host, ROUTE_SCHEMA({"name": "r", "priority": list(rules)}))


def test_the_names_are_the_outbox_priorities() -> None:
    assert (PRIORITY_HIGH, PRIORITY_NORMAL, PRIORITY_LOW) == (10, 0, -10)


async def test_first_matching_rule_wins(host: Host) -> None:
    rules = rules_of(
        host,
        {"priority": "high", "include": {"attributes": {"alarm": True}}},
        {"priority": "low", "include": {"entity_globs": ["sensor.debug_*"]}},
        {"priority": 5, "include": {"domains": ["binary_sensor"]}},
        {"priority": "HIGH", "include": {"domains": ["binary_sensor"]}},  # never reached
    )
    assert rules(State("sensor.debug_x", "1", {"alarm": True})) == PRIORITY_HIGH
    assert rules(State("sensor.debug_x", "1", {"alarm": False})) == PRIORITY_LOW
    assert rules(State("binary_sensor.door", "on")) == 5
    assert rules(State("sensor.level", "3")) == PRIORITY_NORMAL  # no rule: normal


async def test_rules_use_the_whole_filter(host: Host) -> None:
    """Each rule is a full include/exclude filter with Home Assistant's precedence."""
    rules = rules_of(
        host,
        # Alarms of every domain but the debug ones.
        {"priority": "high", "include": {"domains": ["alarm_control_panel"],
                                         "entities": ["binary_sensor.smoke"]},
         "exclude": {"entity_globs": ["*_test"]}},
        # Only an exclude: everything else that is not a sensor is low.
        {"priority": "low", "exclude": {"domains": ["sensor"]}},
    )
    assert rules(State("alarm_control_panel.house", "triggered")) == PRIORITY_HIGH
    assert rules(State("binary_sensor.smoke", "on")) == PRIORITY_HIGH
    assert rules(State("alarm_control_panel.house_test", "armed")) == PRIORITY_LOW
    assert rules(State("light.hall", "on")) == PRIORITY_LOW
    assert rules(State("sensor.level", "3")) == PRIORITY_NORMAL


async def test_a_rule_without_a_filter_catches_the_rest(host: Host) -> None:
    rules = rules_of(
        host,
        {"priority": "high", "include": {"attributes": {"device_class": "smoke"}}},
        {"priority": -3},
    )
    assert rules(State("binary_sensor.s", "on", {"device_class": "smoke"})) == PRIORITY_HIGH
    assert rules(State("sensor.anything", "1")) == -3


async def test_device_and_area_rules_follow_the_registries(host: Host) -> None:
    boiler = host.device_registry.get_or_create("e", {"identifiers": {("t", "boiler")}})
    entry = host.entity_registry.get_or_create(
        "sensor", "t", "p", suggested_object_id="boiler_pressure", device_id=boiler.id
    )
    rules = rules_of(
        host,
        {"priority": "high", "include": {"areas": ["plant_room"]}},
        {"priority": "low", "include": {"devices": [boiler.id]}},
    )
    state = State(entry.entity_id, "3")
    assert rules(state) == PRIORITY_LOW
    host.device_registry.update(boiler.id, area_id="plant_room")  # its entities follow
    assert rules(state) == PRIORITY_HIGH
    host.entity_registry.update(entry.entity_id, area_id="office")  # its own area wins
    assert rules(state) == PRIORITY_LOW


async def test_no_rules(host: Host) -> None:
    rules = priority_rules(host, ROUTE_SCHEMA({"name": "r"}))
    assert not rules
    assert rules(State("sensor.x", "1")) == PRIORITY_NORMAL
    assert rules_of(host, {"priority": "low"})


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"priority": "urgent"}, r"expected high, normal, low or an integer.*\['priority'\]"),
        ({"priority": True}, r"expected high, normal, low or an integer"),
        ({"priority": 2.5}, r"expected high, normal, low or an integer"),
        # The outbox refuses priorities outside 32 bits at enqueue time, in the exporter's
        # loop: refused at config time instead.
        ({"priority": 2**31}, r"between -2147483648 and 2147483647.*\['priority'\]"),
        ({"priority": -(2**31) - 1}, r"between -2147483648 and 2147483647"),
        ({"include": {"domains": ["sensor"]}}, r"required key not provided.*\['priority'\]"),
        ({"priority": "high", "inclde": {}}, r"extra keys not allowed.*\['inclde'\]"),
        ({"priority": "high", "include": {"entity_globs": [1]}}, r"\['entity_globs'\]"),
    ],
)
def test_bad_rules_are_named(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(vol.Invalid, match=message):
        ROUTE_SCHEMA({"name": "r", "priority": [rule]})


def test_the_priority_range_is_the_outboxs() -> None:
    from gatehouse.core.outbox import store
    from gatehouse.core.util import entityfilter

    assert (entityfilter.PRIORITY_MIN, entityfilter.PRIORITY_MAX) == (
        store.PRIORITY_MIN, store.PRIORITY_MAX,
    )
    ROUTE_SCHEMA({"name": "r", "priority": [{"priority": store.PRIORITY_MAX}]})


def test_priority_is_a_list() -> None:
    with pytest.raises(vol.Invalid, match=r"\['priority'\]"):
        ROUTE_SCHEMA({"name": "r", "priority": {"priority": "high"}})
