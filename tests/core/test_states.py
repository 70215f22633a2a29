"""The state machine: immutable states, validation, state_changed only on change."""

from __future__ import annotations

from typing import Any

import pytest

from gatehouse.core import EVENT_STATE_CHANGED, Context, Event, EventBus, State, StateMachine
from gatehouse.core.exceptions import InvalidEntityId, InvalidStateError


@pytest.fixture
def machine() -> tuple[StateMachine, list[Event[Any]]]:
    bus = EventBus()
    events: list[Event[Any]] = []
    bus.listen(EVENT_STATE_CHANGED, events.append)
    return StateMachine(bus), events


def test_set_creates_state_and_fires(machine: tuple[StateMachine, list[Event[Any]]]) -> None:
    states, events = machine
    ctx = Context(user_id="me")
    state = states.set("sensor.t", 21.5, {"unit_of_measurement": "°C"}, context=ctx)
    assert state.state == "21.5"
    assert state.attributes["unit_of_measurement"] == "°C"
    assert state.context is ctx
    assert states.get("sensor.t") is state
    assert len(events) == 1
    assert events[0].data["old_state"] is None
    assert events[0].data["new_state"] is state
    assert events[0].context is ctx


def test_no_event_when_nothing_changes(machine: tuple[StateMachine, list[Event[Any]]]) -> None:
    states, events = machine
    first = states.set("sensor.t", "1", {"a": 1})
    again = states.set("sensor.t", "1", {"a": 1})
    assert again is first
    assert len(events) == 1
    states.set("sensor.t", "1", {"a": 1}, force_update=True)
    assert len(events) == 2


def test_attribute_change_keeps_last_changed(
    machine: tuple[StateMachine, list[Event[Any]]],
) -> None:
    states, events = machine
    first = states.set("sensor.t", "1", {"a": 1})
    second = states.set("sensor.t", "1", {"a": 2})
    assert second.last_changed == first.last_changed
    assert second.last_updated >= first.last_updated
    third = states.set("sensor.t", "2", {"a": 2})
    assert third.last_changed == third.last_updated
    assert len(events) == 3


def test_state_is_immutable(machine: tuple[StateMachine, list[Event[Any]]]) -> None:
    states, _ = machine
    attrs = {"a": 1}
    state = states.set("sensor.t", "1", attrs)
    attrs["a"] = 2  # the caller's dict is copied
    assert state.attributes["a"] == 1
    with pytest.raises(AttributeError):
        state.state = "2"  # type: ignore[misc]
    with pytest.raises(TypeError):
        state.attributes["a"] = 3  # type: ignore[index]


@pytest.mark.parametrize(
    "bad", ["sensor", "Sensor.x", "sensor.", ".x", "sensor.x y", "_sensor.x", "sensor.x_", "a.b.c"]
)
def test_invalid_entity_ids_are_refused(
    machine: tuple[StateMachine, list[Event[Any]]], bad: str
) -> None:
    states, events = machine
    with pytest.raises(InvalidEntityId) as err:
        states.set(bad, "1")
    assert bad in str(err.value)
    assert events == []


def test_long_state_and_bad_type_refused(machine: tuple[StateMachine, list[Event[Any]]]) -> None:
    states, _ = machine
    with pytest.raises(InvalidStateError, match="256 characters"):
        states.set("sensor.long", "x" * 256)
    with pytest.raises(InvalidStateError):
        states.set("sensor.obj", object())
    assert states.set("binary_sensor.b", True).state == "on"
    assert states.set("sensor.none", None).state == "unknown"


def test_remove_fires_with_new_state_none(machine: tuple[StateMachine, list[Event[Any]]]) -> None:
    states, events = machine
    states.set("switch.a", "on")
    assert states.remove("switch.a") is True
    assert states.remove("switch.a") is False
    assert events[-1].data["new_state"] is None
    assert events[-1].data["old_state"].state == "on"
    assert "switch.a" not in states


def test_queries_and_as_dict(machine: tuple[StateMachine, list[Event[Any]]]) -> None:
    states, _ = machine
    states.set("sensor.a", "1")
    states.set("switch.b", "on", {"friendly_name": "Pump"})
    assert [s.entity_id for s in states.all("sensor")] == ["sensor.a"]
    assert sorted(states.entity_ids()) == ["sensor.a", "switch.b"]
    b = states.get("switch.b")
    assert isinstance(b, State)
    assert b.name == "Pump"
    d = b.as_dict()
    assert d["state"] == "on" and d["attributes"] == {"friendly_name": "Pump"}
    assert d["last_changed"].endswith("+00:00")
    assert set(d["context"]) == {"id", "user_id", "parent_id"}
