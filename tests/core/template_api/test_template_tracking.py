"""track_template: re-rendered only when a state it read changes, through one listener.

Renders are counted (``TemplateTracker.renders``) so each test shows what did *not*
render as well as what did.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from gatehouse.core import Host
from gatehouse.core.helpers import (
    TemplateError,
    render_info,
    template_engine,
    track_template,
)
from gatehouse.core.testing import wait_until

pytestmark = pytest.mark.anyio


class Calls:
    """The (old, new) pairs an action received."""

    def __init__(self) -> None:
        self.seen: list[tuple[Any, Any]] = []

    def __call__(self, old: Any, new: Any) -> None:
        self.seen.append((old, new))


async def test_render_info_records_what_was_read(host: Host) -> None:
    host.states.set("sensor.a", "1")
    info = render_info(host, "{{ states('sensor.a') }} {{ states.light | count }} "
                             "{{ is_state('switch.missing', 'on') }}")
    assert info.result == "1 0 False"
    assert info.entities == {"sensor.a", "switch.missing"}
    assert info.domains == {"light"}
    assert not info.all_states and not info.has_time
    assert info.error is None
    assert render_info(host, "{{ states | count }}").all_states
    assert render_info(host, "{{ now() }}").has_time
    failed = render_info(host, "{{ 'x' | float }}")
    assert failed.result is None and isinstance(failed.error, TemplateError)


async def test_renders_only_when_a_referenced_state_changes(host: Host) -> None:
    host.states.set("sensor.a", "1")
    host.states.set("sensor.b", "2")
    calls = Calls()
    tracker = track_template(host, "{{ states('sensor.a') | int * 10 }}", None, calls)
    assert tracker.result == 10 and tracker.renders == 1 and calls.seen == []
    host.states.set("sensor.b", "3")
    host.states.set("light.x", "on")
    assert tracker.renders == 1  # nothing it read
    host.states.set("sensor.a", "5")
    assert tracker.renders == 2
    assert calls.seen == [(10, 50)]
    host.states.set("sensor.a", "5", {"unit": "x"})  # re-rendered, same result: no call
    assert tracker.renders == 3
    assert calls.seen == [(10, 50)]
    tracker()
    host.states.set("sensor.a", "6")
    assert tracker.renders == 3 and calls.seen == [(10, 50)]


async def test_subscriptions_follow_the_branch_taken(host: Host) -> None:
    host.states.set("switch.mode", "off")
    host.states.set("sensor.day", "d1")
    host.states.set("sensor.night", "n1")
    calls = Calls()
    tracker = track_template(
        host,
        "{% if is_state('switch.mode', 'on') %}{{ states('sensor.day') }}"
        "{% else %}{{ states('sensor.night') }}{% endif %}",
        None, calls,
    )
    assert tracker.result == "n1"
    host.states.set("sensor.day", "d2")
    assert tracker.renders == 1
    host.states.set("switch.mode", "on")
    assert tracker.result == "d2"
    host.states.set("sensor.night", "n2")
    assert tracker.renders == 2  # no longer read
    host.states.set("sensor.day", "d3")
    assert calls.seen == [("n1", "d2"), ("d2", "d3")]
    tracker()


async def test_a_missing_entity_is_tracked_until_it_appears(host: Host) -> None:
    calls = Calls()
    tracker = track_template(host, "{{ states('sensor.later') }}", None, calls)
    assert tracker.result == "unknown"
    host.states.set("sensor.later", "42")
    assert calls.seen == [("unknown", 42)]
    tracker()


async def test_one_state_listener_for_every_tracker(host: Host) -> None:
    before = host.bus.listener_count("state_changed")
    trackers = [
        track_template(host, f"{{{{ states('sensor.s{i}') }}}}", None, Calls())
        for i in range(50)
    ]
    assert host.bus.listener_count("state_changed") == before + 1
    host.states.set("sensor.s7", "x")
    assert [t.renders for t in trackers].count(2) == 1  # only the one that read s7
    for tracker in trackers:
        tracker()
    assert host.bus.listener_count("state_changed") == before


async def test_variables_reach_every_render(host: Host) -> None:
    host.states.set("sensor.a", "1")
    calls = Calls()
    tracker = track_template(host, "{{ states(entity) | int + offset }}",
                             {"entity": "sensor.a", "offset": 100}, calls)
    host.states.set("sensor.a", "2")
    assert calls.seen == [(101, 102)]
    tracker()


async def test_domain_and_all_states_get_home_assistants_rate_limits(host: Host) -> None:
    domain = track_template(host, "{{ states.sensor | count }}", None, Calls())
    everything = track_template(host, "{{ states | count }}", None, Calls())
    entity = track_template(host, "{{ states('sensor.a') }}", None, Calls())
    assert domain.rate_limit == 1.0
    assert everything.rate_limit == 60.0
    assert entity.rate_limit == 0.0
    assert track_template(host, "{{ states | count }}", None, Calls(), rate_limit=5).rate_limit \
        == 5
    for tracker in (domain, everything, entity):
        tracker()


async def test_a_rate_limited_template_renders_once_at_the_end_of_the_period(
    host: Host,
) -> None:
    calls = Calls()
    tracker = track_template(host, "{{ states.sensor | map(attribute='state') | join(',') }}",
                             None, calls, rate_limit=0.3)
    assert tracker.result == ""
    for value in range(20):
        host.states.set("sensor.a", str(value))
    # The burst came inside the period: no render yet, one scheduled.
    assert tracker.renders == 1
    await wait_until(lambda: tracker.renders == 2, timeout=5)
    assert calls.seen == [("", 19)]
    # Absence of a further render can only be watched for a while: longer than a period.
    await anyio.sleep(0.5)
    assert tracker.renders == 2  # one render for twenty changes
    tracker()


async def test_a_template_reading_its_own_output_does_not_recurse(host: Host) -> None:
    host.states.set("sensor.counter", "0")
    writes = 0

    def write(old: Any, new: Any) -> None:
        nonlocal writes
        writes += 1
        host.states.set("sensor.counter", str(new))

    tracker = track_template(host, "{{ states('sensor.counter') | int + 1 }}", None, write)
    host.states.set("sensor.counter", "10")  # from outside: renders 11 and writes it
    assert writes == 1
    assert host.states.get("sensor.counter").state == "11"  # type: ignore[union-attr]
    tracker()


async def test_a_cycle_between_two_templates_stops(host: Host) -> None:
    host.states.set("sensor.a", "0")
    host.states.set("sensor.b", "0")
    a = track_template(host, "{{ states('sensor.b') | int + 1 }}", None,
                       lambda old, new: host.states.set("sensor.a", str(new)))
    b = track_template(host, "{{ states('sensor.a') | int + 1 }}", None,
                       lambda old, new: host.states.set("sensor.b", str(new)))
    host.states.set("sensor.a", "100")
    assert a.renders + b.renders < 10
    a()
    b()


async def test_errors_reach_the_action_once_and_recovery_too(host: Host) -> None:
    host.states.set("sensor.a", "1")
    calls = Calls()
    tracker = track_template(host, "{{ states('sensor.a') | float }}", None, calls)
    host.states.set("sensor.a", "oops")
    host.states.set("sensor.a", "oops", {"again": True})  # the same error: no second call
    host.states.set("sensor.a", "2")
    assert len(calls.seen) == 2
    assert calls.seen[0][0] == 1.0 and isinstance(calls.seen[0][1], TemplateError)
    assert "float got invalid input 'oops'" in str(calls.seen[0][1])
    assert isinstance(calls.seen[1][0], TemplateError) and calls.seen[1][1] == 2.0
    tracker()


async def test_an_action_that_raises_does_not_stop_tracking(host: Host) -> None:
    host.states.set("sensor.a", "1")
    seen: list[Any] = []

    def broken(old: Any, new: Any) -> None:
        seen.append(new)
        raise RuntimeError("boom")

    tracker = track_template(host, "{{ states('sensor.a') }}", None, broken)
    host.states.set("sensor.a", "2")
    host.states.set("sensor.a", "3")
    assert seen == [2, 3]
    tracker()


async def test_refresh_renders_at_once(host: Host) -> None:
    calls = Calls()
    tracker = track_template(host, "{{ states | count }}", None, calls)
    host.states.set("sensor.new", "1")
    assert tracker.renders == 1  # rate-limited: a minute for all states
    tracker.refresh()
    assert calls.seen == [(0, 1)]
    tracker()


async def test_trackers_of_one_batch_are_flushed_once_per_change(host: Host) -> None:
    host.states.set("sensor.a", "1")
    flushes: list[tuple[Any, Any]] = []

    def flush() -> None:
        flushes.append((first.result, second.result))

    first = track_template(host, "{{ states('sensor.a') }}", None, Calls(), on_batch=flush)
    second = track_template(host, "{{ states('sensor.a') | int * 2 }}", None, Calls(),
                            on_batch=flush)
    host.states.set("sensor.a", "5")
    assert flushes == [(5, 10)]  # once, with both results already new
    first()
    second()


async def test_more_tracked_templates_than_the_cache_holds_are_not_recompiled(
    host: Host,
) -> None:
    # Regression: 1,000 tracked templates thrashed the 512-entry compile cache, every
    # re-render compiled again (494 µs instead of 53 per change in bench_templates).
    trackers = [track_template(host, f"{{{{ states('sensor.c{i}') }}}}", None, Calls())
                for i in range(600)]
    engine = template_engine(host)
    compiled = engine.compilations
    for index in range(600):
        host.states.set(f"sensor.c{index}", "1")
    assert sum(t.renders for t in trackers) == 1200
    assert engine.compilations == compiled
    for tracker in trackers:
        tracker()


async def test_a_template_reading_the_clock_re_renders_every_period(
    host: Host, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gatehouse.core.template import tracking

    monkeypatch.setattr(tracking, "CLOCK_PERIOD", 0.2)  # a minute, shortened
    calls = Calls()
    tracker = track_template(host, "{{ (now().timestamp() * 5) | int }}", None, calls)
    await wait_until(lambda: len(calls.seen) >= 2, timeout=5)
    assert tracker.renders >= 3
    tracker()
    renders = tracker.renders
    await anyio.sleep(0.5)  # absence: stopped, no more periods
    assert tracker.renders == renders


async def test_a_template_over_budget_is_paused_not_rendered_per_change(host: Host) -> None:
    from gatehouse.core.helpers import TemplateBudgetError, TemplateLimits, configure_templates

    configure_templates(host, TemplateLimits(steps=500, seconds=5.0))
    host.states.set("sensor.n", "100")
    calls = Calls()
    tracker = track_template(
        host, "{% for i in range(states('sensor.n') | int) %}{{ i }}{% endfor %}",
        None, calls)
    assert tracker.result == "".join(str(i) for i in range(100))  # within budget
    host.states.set("sensor.n", "100000")  # now each render runs over
    assert isinstance(tracker.result, TemplateBudgetError) and tracker.suspended
    for value in range(100_001, 100_051):
        host.states.set("sensor.n", str(value))
    assert tracker.renders == 2  # fifty changes in the pause: not one render
    host.states.set("sensor.n", "3")  # back to cheap: rendered when the pause ends
    await wait_until(lambda: tracker.result == "012", timeout=5)  # text: a leading 0
    assert tracker.renders == 3 and not tracker.suspended
    tracker()
