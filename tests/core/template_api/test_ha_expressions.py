"""Home Assistant template expressions and the results Home Assistant documents for them.

Each row renders through ``render_template`` (native results, undefined values lenient,
as in Home Assistant automations and template entities) on a host whose states,
devices and entities are set up by ``home``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gatehouse.core import Host
from gatehouse.core.helpers import TemplateError, render_template

pytestmark = pytest.mark.anyio


@pytest.fixture
async def home(host: Host) -> Host:
    """A running host with states, a device in an area and an entity in another."""
    device = host.device_registry.get_or_create(
        "entry1", {"identifiers": {("test", "meter")}, "name": "Meter", "model": "M1"}
    )
    host.device_registry.update(device.id, area_id="boiler_room")
    reg = host.entity_registry
    reg.get_or_create("sensor", "demo", "t1", config_entry_id="entry1", device_id=device.id,
                      suggested_object_id="temp")
    reg.get_or_create("sensor", "demo", "h1", config_entry_id="entry1",
                      suggested_object_id="humidity")
    reg.update("sensor.humidity", area_id="kitchen")
    host.states.set("sensor.temp", "21.5", {"unit_of_measurement": "°C",
                                            "friendly_name": "Kitchen temperature"})
    host.states.set("sensor.humidity", "40")
    host.states.set("sensor.broken", "unavailable")
    host.states.set("sensor.pending", "unknown")
    host.states.set("light.kitchen", "on", {"brightness": 200})
    host.states.set("light.hall", "off")
    host.states.set("switch.pump", "on")
    host.states.set("group.lights", "on", {"entity_id": ["light.kitchen", "light.hall"]})
    host.states.set("group.all", "on", {"entity_id": ["group.lights", "switch.pump"]})
    return host


# (template, expected) — expected is compared with == and with its type.
TABLE: list[tuple[str, Any]] = [
    # states
    ("{{ states('sensor.temp') }}", 21.5),
    ("{{ states('sensor.nothing') }}", "unknown"),
    ("{{ states('sensor.temp', with_unit=True) }}", "21.5 °C"),
    ("{{ states.sensor.temp.state }}", 21.5),
    ("{{ states.sensor.temp.name }}", "Kitchen temperature"),
    ("{{ states.sensor.temp.attributes.unit_of_measurement }}", "°C"),
    ("{{ states.sensor.temp.state_with_unit }}", "21.5 °C"),
    ("{{ states.sensor.nothing }}", None),
    ("{{ states.sensor.nothing.state }}", ""),  # None.state: undefined, empty
    ("{{ states['light.kitchen'].state }}", "on"),
    ("{{ states.light | map(attribute='entity_id') | list }}",
     ["light.hall", "light.kitchen"]),
    ("{{ states.light | count }}", 2),
    ("{{ states | selectattr('state', 'eq', 'on') | map(attribute='entity_id') | list }}",
     ["group.all", "group.lights", "light.kitchen", "switch.pump"]),
    ("{{ states.sensor | selectattr('state', 'is_number') | map(attribute='state') "
     "| map('float') | sum }}", 61.5),
    ("{{ 'sensor.temp' | states }}", 21.5),
    ("{{ is_state('light.kitchen', 'on') }}", True),
    ("{{ is_state('light.kitchen', ['off', 'on']) }}", True),
    ("{{ is_state('light.nothing', 'on') }}", False),
    ("{{ 'light.kitchen' is is_state('on') }}", True),
    ("{{ state_attr('light.kitchen', 'brightness') }}", 200),
    ("{{ state_attr('light.kitchen', 'nothing') }}", None),
    ("{{ 'light.kitchen' | state_attr('brightness') }}", 200),
    ("{{ is_state_attr('light.kitchen', 'brightness', 200) }}", True),
    ("{{ has_value('sensor.temp') }}", True),
    ("{{ has_value('sensor.broken') }}", False),
    ("{{ has_value('sensor.pending') }}", False),
    ("{{ has_value('sensor.nothing') }}", False),
    ("{{ 'sensor.temp' | has_value }}", True),
    ("{{ expand('group.lights') | map(attribute='entity_id') | list }}",
     ["light.hall", "light.kitchen"]),
    ("{{ expand('group.all') | map(attribute='entity_id') | list }}",
     ["light.hall", "light.kitchen", "switch.pump"]),
    ("{{ expand(['switch.pump', 'light.hall'], 'switch.pump') | map(attribute='entity_id')"
     " | list }}", ["light.hall", "switch.pump"]),
    ("{{ 'group.lights' | expand | selectattr('state', 'eq', 'on') "
     "| map(attribute='entity_id') | list }}", ["light.kitchen"]),
    # conversions
    ("{{ '3.5' | float }}", 3.5),
    ("{{ 'x' | float(0) }}", 0),
    ("{{ float('x', 7) }}", 7),
    ("{{ '3.7' | int }}", 3),
    ("{{ 'x' | int(-1) }}", -1),
    ("{{ int('0x1A', base=16) }}", 26),
    ("{{ 'on' | bool }}", True),
    ("{{ 'off' | bool }}", False),
    ("{{ 0 | bool }}", False),
    ("{{ 'maybe' | bool('n/a') }}", "n/a"),
    ("{{ iif(true) }}", True),
    ("{{ iif(false, 'yes', 'no') }}", "no"),
    ("{{ iif(none, 'yes', 'no', 'none') }}", "none"),
    ("{{ is_state('light.kitchen', 'on') | iif('Yes', 'No') }}", "Yes"),
    ("{{ '12' is is_number }}", True),
    ("{{ is_number('nan') }}", False),
    # maths
    ("{{ min(3, 1, 2) }}", 1),
    ("{{ min([3, 1, 2]) }}", 1),
    ("{{ max(3, 1, 2) }}", 3),
    ("{{ [3, 1, 2] | max }}", 3),
    ("{{ average(1, 2, 3) }}", 2.0),
    ("{{ average([1, 2, 3, 4]) }}", 2.5),
    ("{{ [1, 2] | average }}", 1.5),
    ("{{ average([], 0) }}", 0),
    ("{{ average([], default=5) }}", 5),
    ("{{ median(1, 3, 2) }}", 2),
    ("{{ 2.5 | round }}", 2),
    ("{{ 3.5 | round }}", 4),
    ("{{ 3.14159 | round(2) }}", 3.14),
    ("{{ 3.14159 | round(1, 'floor') }}", 3.1),
    ("{{ 3.01 | round(1, 'ceil') }}", 3.1),
    ("{{ 3.3 | round(method='half') }}", 3),
    ("{{ 'x' | round(1, default=0) }}", 0),
    ("{{ 10 | log(10) }}", 1.0),
    ("{{ 16 | sqrt }}", 4.0),
    ("{{ '5' | multiply(2) }}", 10.0),
    ("{{ 12 | bitwise_and(10) }}", 8),
    # json
    ("{{ {'a': 1} | tojson }}", {"a": 1}),
    ("{{ {'a': 'ü'} | to_json }}", {"a": "ü"}),
    ("{{ ('{\"a\": [1, 2]}' | from_json).a[1] }}", 2),
    ("{{ 'nope' | from_json(default='bad') }}", "bad"),
    # time
    ("{{ as_timestamp('2024-01-01T00:00:00+00:00') }}", 1704067200.0),
    ("{{ '2024-01-01T00:00:00+00:00' | as_timestamp }}", 1704067200.0),
    ("{{ as_timestamp('never', 0) }}", 0),
    ("{{ as_datetime('2024-01-01T12:00:00+00:00').hour }}", 12),
    ("{{ as_datetime(1704067200).year }}", 2024),
    ("{{ as_datetime('1704067200').isoformat() }}", "2024-01-01T00:00:00+00:00"),
    ("{{ as_datetime('rubbish') }}", None),
    ("{{ 0 | timestamp_utc }}", "1970-01-01T00:00:00+00:00"),
    ("{{ 86400 | timestamp_custom('%Y-%m-%d', false) }}", "1970-01-02"),
    ("{{ now().tzinfo is not none }}", True),
    ("{{ utcnow().tzinfo is not none }}", True),
    ("{{ (utcnow() - now()).total_seconds() | abs < 5 }}", True),
    ("{{ relative_time(utcnow() - timedelta(hours=2)) }}", "2 hours"),
    ("{{ relative_time(utcnow() - timedelta(days=3)) }}", "3 days"),
    ("{{ relative_time(utcnow() - timedelta(minutes=1)) }}", "1 minute"),
    ("{{ relative_time('not a time') }}", "not a time"),
    ("{{ (now() - states.sensor.temp.last_changed).total_seconds() < 60 }}", True),
    # registries (no area registry: areas are the ids in use)
    ("{{ areas() }}", ["boiler_room", "kitchen"]),
    ("{{ area_id('sensor.temp') }}", "boiler_room"),
    ("{{ area_id('sensor.humidity') }}", "kitchen"),
    ("{{ area_id('kitchen') }}", "kitchen"),
    ("{{ area_name('sensor.temp') }}", "boiler_room"),
    ("{{ area_entities('boiler_room') }}", ["sensor.temp"]),
    ("{{ 'kitchen' | area_entities }}", ["sensor.humidity"]),
    ("{{ area_devices('boiler_room') | count }}", 1),
    ("{{ device_attr(device_id('sensor.temp'), 'model') }}", "M1"),
    ("{{ device_attr('sensor.temp', 'name') }}", "Meter"),
    ("{{ is_device_attr('sensor.temp', 'model', 'M1') }}", True),
    ("{{ device_entities(device_id('Meter')) }}", ["sensor.temp"]),
    ("{{ device_id('sensor.humidity') }}", None),
    ("{{ integration_entities('demo') | sort }}", ["sensor.humidity", "sensor.temp"]),
    # variables: this, trigger, variables
    ("{{ trigger.to_state.state }}", "on"),
    ("{{ this.state | float + 1 }}", 22.5),
    ("{{ this.entity_id }}", "sensor.temp"),
    ("{{ threshold + 1 }}", 6),
    # native result parsing (Home Assistant's parse_result)
    ("{{ '007' }}", "007"),
    ("{{ '1e5' }}", "1e5"),
    ("{{ 'True' }}", True),
    ("{{ 'none' }}", "none"),
    ("{{ 'None' }}", None),
    ("{{ '[1, 2]' }}", [1, 2]),
    ("  {{ 'padded' }}  ", "padded"),
    ("no template at all", "no template at all"),
    ("42", 42),
    ("{{ undefined_name }}", ""),
]


@pytest.mark.parametrize(("source", "expected"), TABLE, ids=[row[0] for row in TABLE])
async def test_home_assistant_expression(home: Host, source: str, expected: Any) -> None:
    variables = {
        "trigger": {"to_state": home.states.get("light.kitchen")},
        "this": home.states.get("sensor.temp"),
        "threshold": 5,
    }
    result = render_template(home, source, variables)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ 'x' | float }}", "float got invalid input 'x'"),
        ("{{ int('x') }}", "int got invalid input 'x'"),
        ("{{ 'maybe' | bool }}", "bool got invalid input 'maybe'"),
        ("{{ 'x' | round }}", "round got invalid input 'x'"),
        ("{{ as_timestamp('never') }}", "as_timestamp got invalid input 'never'"),
        ("{{ average([]) }}", "average got invalid input"),
        ("{{ states('not an id') }}", "Invalid entity ID 'not an id'"),
        ("{{ min() }}", "min expected at least 1 argument"),
        ("{{ device_attr('sensor.temp', 'secret') }}", "Invalid device attribute"),
        ("{{ 1 | round(10 ** 6) }}", "precision"),
        ("{{ undefined_name.attribute }}", "undefined"),
    ],
)
async def test_home_assistant_errors(home: Host, source: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message.replace("(", r"\(")):
        render_template(home, source)


async def test_strict_rendering_refuses_undefined(home: Host) -> None:
    with pytest.raises(TemplateError, match="'undefined_name' is undefined"):
        render_template(home, "{{ undefined_name }}", strict=True)


async def test_native_false_keeps_text_stripped(home: Host) -> None:
    assert render_template(home, " {{ states('sensor.temp') }} ", native=False) == "21.5"
    assert render_template(home, "{{ [1, 2] }}", native=False) == "[1, 2]"


async def test_datetimes_render_like_home_assistant(home: Host) -> None:
    moment = datetime(2024, 1, 1, tzinfo=UTC)
    assert render_template(home, "{{ t + delta }}", {"t": moment, "delta": timedelta(hours=1)}) \
        == "2024-01-01 01:00:00+00:00"
    assert render_template(home, "{{ t | as_local }}", {"t": moment}) != ""


async def test_a_native_list_is_never_shared_between_callers(home: Host) -> None:
    first = render_template(home, "{{ [1, 2] }}")
    first.append(3)
    assert render_template(home, "{{ [1, 2] }}") == [1, 2]


async def test_an_undefined_variable_is_warned_once_per_template(
    home: Host, caplog: pytest.LogCaptureFixture,
) -> None:
    for _ in range(3):
        assert render_template(home, "{{ missing_thing }}", name="warned once") == ""
    warnings = [r for r in caplog.records if "missing_thing" in r.getMessage()]
    assert len(warnings) == 1
    assert "warned once" in warnings[0].getMessage()
