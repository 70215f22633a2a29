"""Hostile input through a real broker (issue 9): templates over budget, deep JSON.

The attacks are made the way they were found: a user calls ``mqtt.publish`` with a
retained discovery config whose value template loops for ever, then a state message;
devices send JSON nested 1,000 levels deep. The host must stop the work itself, count
the payload as bad, log one line, and stay responsive (a loop-lag probe: a task that
measures how late it wakes up).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mqtt_helpers import Peer, entry_data, loaded

from gatehouse.core import Host
from gatehouse.core.testing import Mosquitto, add_entry, make_host, state_of, wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(90)]

NESTED = "{% for i in range(6000) %}{% for j in range(6000) %}{% endfor %}{% endfor %}"
#: Longest the event loop may be late while the attack is processed. The attack itself
#: blocked it for 1.5-1.8 s per message; a render stops at the step limit in ~10-30 ms.
MAX_LAG = 0.2


class LagProbe:
    """Sleeps 5 ms at a time and records the worst lateness of its wake-ups."""

    def __init__(self) -> None:
        self.worst = 0.0
        self.wakeups = 0

    async def run(self) -> None:
        while True:
            started = time.perf_counter()
            await anyio.sleep(0.005)
            self.worst = max(self.worst, time.perf_counter() - started - 0.005)
            self.wakeups += 1


def attributes(host: Host, entity_id: str) -> dict[str, Any]:
    state = host.states.get(entity_id)
    return {} if state is None else dict(state.attributes)


def bad_payloads(host: Host, entity_id: str) -> int:
    entity: Any = host.entities.get(entity_id)
    return int(entity.bad_payloads) if entity is not None else -1


async def publish(host: Host, topic: str, payload: str, *, retain: bool = False) -> None:
    """What the attacker did: the ``mqtt.publish`` service."""
    await host.services.call(
        "mqtt", "publish", {"topic": topic, "payload": payload, "qos": 1, "retain": retain}
    )


async def test_a_discovered_template_over_budget_stops_itself_also_after_a_restart(
    config_dir: Path, mosquitto: Mosquitto
) -> None:
    attack = json.dumps(
        {"name": "Attack", "uniq_id": "attack", "stat_t": "attack/state", "val_tpl": NESTED}
    )
    host = make_host(config_dir)
    async with host.running():
        entry = await add_entry(host, "mqtt", entry_data(mosquitto.port))
        assert loaded(entry), entry.reason
        await publish(host, "homeassistant/sensor/attack/config", attack, retain=True)
        await wait_until(lambda: "sensor.attack" in host.states)

        probe = LagProbe()
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(probe.run)
            await wait_until(lambda: probe.wakeups > 0)
            await publish(host, "attack/state", "1", retain=True)
            error = await wait_until(
                lambda: attributes(host, "sensor.attack").get("template_error")
            )
            # A flood of further messages while the template rests: counted, not run.
            for n in range(50):
                await publish(host, "attack/state", str(n))
            await wait_until(lambda: bad_payloads(host, "sensor.attack") == 51)
            # Still responsive: a sensor announced now works at once.
            await publish(
                host, "homeassistant/sensor/good/config",
                json.dumps({"name": "Good", "uniq_id": "good", "stat_t": "good/state"}),
                retain=True,
            )
            await wait_until(lambda: "sensor.good" in host.states)
            await publish(host, "good/state", "42")
            await wait_until(lambda: state_of(host, "sensor.good") == "42")
            tasks.cancel_scope.cancel()
        assert probe.worst < MAX_LAG, f"the loop was {probe.worst * 1000:.0f} ms late"
        assert "sensor.attack value_template" in error
        assert "more than 100000 steps" in error
        assert state_of(host, "sensor.attack") == "unknown"  # never had a good value
        diagnostics = entry.runtime_data.diagnostics()
        assert diagnostics["bad_payloads"] == 51

    # Retained config and state: the next start meets the attack again, and stops it.
    again = make_host(config_dir)
    async with again.running():
        probe = LagProbe()
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(probe.run)
            error = await wait_until(
                lambda: attributes(again, "sensor.attack").get("template_error"), timeout=20
            )
            tasks.cancel_scope.cancel()
        assert "more than 100000 steps" in error
        assert bad_payloads(again, "sensor.attack") == 1
        assert probe.worst < MAX_LAG, f"the loop was {probe.worst * 1000:.0f} ms late"
        for topic in ("homeassistant/sensor/attack/config", "attack/state",
                      "homeassistant/sensor/good/config"):
            await publish(again, topic, "", retain=True)  # leave the broker clean


async def test_the_last_good_value_stays_and_the_mark_clears_when_it_renders_again(
    host: Host, mosquitto: Mosquitto, peer: Peer
) -> None:
    template = "{% if value == 'boom' %}" + NESTED + "{% endif %}{{ value }}"
    peer.publish(
        "homeassistant/sensor/cond/config",
        json.dumps({"name": "Cond", "uniq_id": "cond", "stat_t": "cond/state",
                    "val_tpl": template}),
        qos=1, retain=True,
    )
    entry = await add_entry(host, "mqtt", entry_data(mosquitto.port))
    assert loaded(entry), entry.reason
    await wait_until(lambda: "sensor.cond" in host.states)
    peer.publish("cond/state", "21", qos=1, retain=True)
    await wait_until(lambda: state_of(host, "sensor.cond") == "21")
    peer.publish("cond/state", "boom", qos=1)
    error = await wait_until(lambda: attributes(host, "sensor.cond").get("template_error"))
    assert "steps" in error
    assert state_of(host, "sensor.cond") == "21"  # the last good value stays
    # After its pause (1 s) the template runs again; a good value clears the mark.
    await wait_until(lambda: not host.entities.get("sensor.cond")._reader.suspended)  # type: ignore[union-attr]
    peer.publish("cond/state", "22", qos=1)
    await wait_until(lambda: state_of(host, "sensor.cond") == "22")
    assert "template_error" not in attributes(host, "sensor.cond")
    assert bad_payloads(host, "sensor.cond") == 1
    peer.publish("homeassistant/sensor/cond/config", b"", qos=1, retain=True)
    peer.publish("cond/state", b"", qos=1, retain=True)


DEEP = b"[" * 1000 + b"1" + b"]" * 1000


async def test_deep_json_payloads_are_counted_bad_payloads_with_one_line(
    host: Host, mosquitto: Mosquitto, peer: Peer, caplog: pytest.LogCaptureFixture
) -> None:
    entry = await add_entry(
        host, "mqtt",
        entry_data(
            mosquitto.port,
            sensor=[
                {"name": "Path", "unique_id": "deep_path", "state_topic": "deep/path",
                 "json_path": "temp"},
                {"name": "Nested path", "unique_id": "deep_nested", "state_topic": "deep/nested",
                 "json_path": "a.temp"},
                {"name": "Tpl", "unique_id": "deep_tpl", "state_topic": "deep/tpl",
                 "value_template": "{{ value_json.temp }}"},
            ],
        ),
    )
    assert loaded(entry), entry.reason
    caplog.set_level(logging.INFO)
    payloads = {
        "deep/path": [DEEP, b'{"temp": ' + DEEP + b"}", b'{"temp": ' + DEEP[930:-930] + b"}"],
        "deep/nested": [DEEP, b'{"a": {"temp": ' + DEEP + b"}}"],
        "deep/tpl": [DEEP, b'{"temp": ' + DEEP + b"}"],
    }
    for topic, items in payloads.items():
        for _ in range(3):
            for payload in items:
                peer.publish(topic, payload, qos=1)
    expected = {"sensor.path": 9, "sensor.nested_path": 6, "sensor.tpl": 6}
    await wait_until(
        lambda: {e: bad_payloads(host, e) for e in expected} == expected,
        message=f"bad payloads {[bad_payloads(host, e) for e in expected]}",
    )
    # Good payloads still land afterwards.
    peer.publish("deep/path", b'{"temp": 1.5}', qos=1)
    peer.publish("deep/nested", b'{"a": {"temp": 2.5}}', qos=1)
    peer.publish("deep/tpl", b'{"temp": 3.5}', qos=1)
    await wait_until(lambda: state_of(host, "sensor.path") == "1.5")
    await wait_until(lambda: state_of(host, "sensor.nested_path") == "2.5")
    await wait_until(lambda: state_of(host, "sensor.tpl") == "3.5")

    assert not [r for r in caplog.records if r.exc_info is not None or r.levelno >= logging.ERROR]
    for entity_id in expected:
        starts = [r for r in caplog.records
                  if r.levelno == logging.WARNING and entity_id in r.getMessage()]
        assert len(starts) == 1, [r.getMessage() for r in starts]
        assert "nested deeper than 64" in starts[0].getMessage()
    assert entry.runtime_data.diagnostics()["bad_payloads"] == sum(expected.values())


async def test_a_deep_discovery_config_is_an_invalid_config_not_a_traceback(
    host: Host, mosquitto: Mosquitto, peer: Peer, caplog: pytest.LogCaptureFixture
) -> None:
    entry = await add_entry(host, "mqtt", entry_data(mosquitto.port))
    assert loaded(entry), entry.reason
    caplog.set_level(logging.INFO)
    peer.publish("homeassistant/sensor/deep/config", b'{"name": ' + DEEP + b"}", qos=1)
    await wait_until(lambda: entry.runtime_data.parts["discovery"].invalid == 1)
    assert not [r for r in caplog.records if r.exc_info is not None or r.levelno >= logging.ERROR]
    assert any("nested deeper than 64" in r.getMessage() for r in caplog.records)


async def test_a_discovered_100000_character_name_makes_a_capped_entity(
    host: Host, mosquitto: Mosquitto, peer: Peer
) -> None:
    from gatehouse.core.entity_registry import MAX_NAME_LENGTH
    from gatehouse.core.states import MAX_ENTITY_ID_LENGTH

    entry = await add_entry(host, "mqtt", entry_data(mosquitto.port))
    assert loaded(entry), entry.reason
    for suffix in ("a", "b"):
        peer.publish(
            f"homeassistant/sensor/long_{suffix}/config",
            json.dumps({"name": "N" * 100_000 + suffix, "uniq_id": f"long_{suffix}",
                        "stat_t": f"long/{suffix}"}),
            qos=1,
        )
    made = await wait_until(
        lambda: len(entry.runtime_data.parts["discovery"].entities) == 2 and [
            e.entity_id for _, e in entry.runtime_data.parts["discovery"].entities.values()
        ]
    )
    assert all(len(entity_id) <= MAX_ENTITY_ID_LENGTH for entity_id in made), made
    assert len(set(made)) == 2
    for entity_id in made:
        friendly = attributes(host, entity_id)["friendly_name"]
        assert len(friendly) == MAX_NAME_LENGTH
    peer.publish("long/a", "5", qos=1)
    await wait_until(lambda: "5" in [state_of(host, e) for e in made])
