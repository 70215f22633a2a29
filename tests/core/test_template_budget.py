"""Every template render runs on a budget: steps, time, value size and output size.

Regression tests for issue 9 finding 3 (a discovery-created value template nesting two
``range(6000)`` loops blocked the event loop for 1.8 s per message). Each limit is hit by
a template that, without the budget, runs for seconds or allocates gigabytes; the
refusal must come as a ``TemplateBudgetError`` naming the template and the limit.
"""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from gatehouse.core import Host
from gatehouse.core.helpers import configure_templates, template_engine
from gatehouse.core.template import (
    DEFAULT_LIMITS,
    TemplateBudgetError,
    TemplateEngine,
    TemplateError,
    TemplateLimits,
)
from gatehouse.core.testing import make_host


@pytest.fixture
def idle_host(config_dir: Path) -> Host:
    """A host that is not started: enough for a template engine."""
    return make_host(config_dir)


@pytest.fixture
def engine(idle_host: Host) -> TemplateEngine:
    # A generous clock: each test names the limit that must stop it (steps, output,
    # size), and on a loaded machine the default 50 ms could trip first.
    return TemplateEngine(idle_host, limits=TemplateLimits(seconds=30))


def refused(engine: TemplateEngine, source: str, limit: str, **variables: object) -> str:
    """Render ``source``; it must be refused for ``limit``. Returns the message."""
    with pytest.raises(TemplateBudgetError) as info:
        engine.render(source, variables, name="attack")
    assert info.value.limit == limit, str(info.value)
    assert info.value.template == "attack"
    message = str(info.value)
    assert "attack" in message
    return message


# -- steps and time ------------------------------------------------------------------


NESTED = "{% for i in range(6000) %}{% for j in range(6000) %}{{ '' }}{% endfor %}{% endfor %}"


def test_nested_loops_stop_at_the_step_limit(engine: TemplateEngine) -> None:
    message = refused(engine, NESTED, "steps")
    assert f"more than {DEFAULT_LIMITS.steps} steps" in message


def test_calls_count_as_steps(engine: TemplateEngine) -> None:
    # A recursive macro: no loop at all, only calls.
    source = (
        "{% macro f(n) %}{{ f(n) }}{{ f(n) }}{% endmacro %}{{ f(1) }}"
    )
    with pytest.raises(TemplateBudgetError) as info:
        engine.render(source, name="attack")
    assert info.value.limit in ("steps", "depth")


def test_a_recursive_loop_counts_its_inner_iterations(engine: TemplateEngine) -> None:
    # loop(...) recurses without a visible {% for %} per level.
    source = (
        "{% for x in items recursive %}{{ loop(items) }}{% endfor %}"
    )
    with pytest.raises(TemplateBudgetError):
        engine.render(source, {"items": list(range(100))}, name="attack")


def test_slow_steps_stop_at_the_time_limit(idle_host: Host) -> None:
    # Steps practically unlimited: only the clock can stop this one.
    engine = TemplateEngine(idle_host, limits=TemplateLimits(steps=10**12, seconds=0.02))
    started = time.perf_counter()
    message = refused(
        engine,
        "{% for i in range(100000) %}{% for j in range(100000) %}{{ 'x'.upper() }}"
        "{% endfor %}{% endfor %}",
        "time",
    )
    assert "20 ms" in message
    # Generous (other tests share the machine): the point is "stopped", not "instant".
    assert time.perf_counter() - started < 2.0


def test_a_few_heavy_filters_stop_at_the_time_limit(idle_host: Host) -> None:
    # ~120 steps in all, each filter bounded on its own (jinja's range is at most
    # 100,000 items): only the clock, read at every filter, stops the sum of them.
    engine = TemplateEngine(idle_host)  # the default 50 ms
    heavy = " + ".join(["(range(100000) | sort | list | length)"] * 60)
    # The limit named is the proof; wall time is not asserted (a loaded CI box).
    refused(engine, "{{ " + heavy + " }}", "time")


def test_filters_count_as_steps(idle_host: Host) -> None:
    engine = TemplateEngine(idle_host, limits=TemplateLimits(steps=1000))
    assert engine.render("{{ range(900) | map('string') | list | length }}") == "900"
    with pytest.raises(TemplateBudgetError, match="more than 1000 steps"):
        engine.render("{{ range(2000) | map('string') | list | length }}")


def test_limits_are_per_host_and_change_an_existing_engine(idle_host: Host) -> None:
    engine = template_engine(idle_host)
    assert engine.render("{% for i in range(50) %}.{% endfor %}") == "." * 50
    configure_templates(idle_host, TemplateLimits(steps=20))
    assert template_engine(idle_host) is engine
    with pytest.raises(TemplateBudgetError, match="more than 20 steps"):
        engine.render("{% for i in range(50) %}.{% endfor %}")


def test_limits_come_from_the_core_configuration_when_it_has_them(idle_host: Host) -> None:
    from gatehouse.core.helpers import TEMPLATE_LIMITS_SCHEMA

    idle_host.config = {"gatehouse": {"templates": TEMPLATE_LIMITS_SCHEMA({"steps": 500})}}
    engine = template_engine(idle_host)
    assert engine.limits == TemplateLimits(steps=500)
    with pytest.raises(TemplateBudgetError, match="more than 500 steps"):
        engine.render("{% for i in range(600) %}{% endfor %}")


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError):
        TemplateLimits(steps=0)
    with pytest.raises(ValueError):
        TemplateLimits(seconds=0)
    with pytest.raises(ValueError):
        TemplateLimits(size=10)


# -- output size -----------------------------------------------------------------------


def test_output_size_is_capped_as_it_grows(engine: TemplateEngine) -> None:
    message = refused(engine, "{% for i in range(90000) %}{{ 'x' * 100 }}{% endfor %}", "output")
    assert f"more than {DEFAULT_LIMITS.size} characters" in message


def test_output_written_into_macros_and_set_blocks_counts(engine: TemplateEngine) -> None:
    # A literal inside a loop inside a macro: written into a buffer, never yielded.
    literal = "y" * 1000
    source = (
        "{% macro m() %}{% for i in range(5000) %}" + literal + "{% endfor %}{% endmacro %}"
        "{% set x %}{{ m() }}{% endset %}{{ x | length }}"
    )
    refused(engine, source, "output")


# -- values built ----------------------------------------------------------------------


def refused_cheaply(engine: TemplateEngine, source: str) -> TemplateBudgetError:
    """Render ``source``, expect the budget to refuse it before 64 MiB were allocated."""
    tracemalloc.start()
    try:
        with pytest.raises(TemplateBudgetError) as info:
            engine.render(source, name="attack")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024 * 1024, f"{peak} bytes allocated before the refusal"
    return info.value


@pytest.mark.parametrize(
    "source",
    [
        "{{ 'a' * 1000000000 }}",
        "{{ ('a' * 1000) * 1000000 }}",
        "{{ 1000000000 * 'ab' }}",
        "{{ 'a'.ljust(1000000000) }}",
        "{{ 'a'.center(1000000000) }}",
        "{{ 'a'.zfill(1000000000) }}",
        "{{ ('\t' * 1000).expandtabs(1000000) }}",
        "{{ ('a' * 2000).replace('', 'b' * 1000) }}",
        "{{ 'a' | center(1000000000) }}",
        "{{ 'a' | indent(1000000000, true) }}",
        "{{ ('a' * 2000) | replace('', 'b' * 1000) }}",
        "{{ '%999999999d' % 1 }}",
        "{{ '%.999999999f' % 1.5 }}",
        "{{ '%*d' % (999999999, 1) }}",
        "{{ '%s' | format('a' * 1000) * 100000 }}",
        "{{ '%999999999s' | format('a') }}",
        "{{ '{:>999999999}'.format(1) }}",
        "{{ '{:.999999999f}'.format(1.5) }}",
        "{{ ('{0}' * 2000).format('a' * 1000) }}",
        "{{ ('%(a)s' * 2000) % {'a': 'a' * 1000} }}",
        "{{ ('a' * 1000) ~ ('b' * 1000) * 2000 }}",
        "{{ ','.join(['a' * 1000] * 2000) }}",
        "{{ (['a' * 1000] * 2000) | join(',') }}",
        "{{ 'abc'.translate({97: 'x' * 1000000}) * 2 }}",
        "{{ ('a' * 2000) | wordwrap(1, true, 'b' * 1000) }}",
    ],
)
def test_string_growth_is_refused(engine: TemplateEngine, source: str) -> None:
    error = refused_cheaply(engine, source)
    assert error.limit in ("size", "output"), str(error)


@pytest.mark.parametrize(
    "source",
    [
        "{{ ([1] * 100000000) | length }}",
        "{{ (['a' * 100000] * 100) | length }}",
        "{{ ([1, 2] + [3] * 10000000) | length }}",
        # doubling through a namespace: cheap per step, exponential in size
        "{% set ns = namespace(l=['x' * 1000]) %}{% for i in range(64) %}"
        "{% set ns.l = ns.l + ns.l %}{% endfor %}{{ ns.l | length }}",
        # doubling through literals that share their parts: a tiny list that would
        # render as 2**40 characters
        "{% set ns = namespace(l=['x']) %}{% for i in range(40) %}"
        "{% set ns.l = [ns.l, ns.l] %}{% endfor %}{{ ns.l | length }}",
        "{{ [1] | batch(1000000000, 0) | list | length }}",
        "{{ [1] | slice(1000000000, 0) | list | length }}",
        "{{ (['a' * 1000] * 2000) | sum(start=[]) | length }}",
    ],
)
def test_list_growth_is_refused(engine: TemplateEngine, source: str) -> None:
    error = refused_cheaply(engine, source)
    assert error.limit == "size", str(error)


@pytest.mark.parametrize(
    "source", ["{{ 2 ** 1000000000 }}", "{{ 10 ** (10 ** 10) }}",
               "{% set ns = namespace(n=10 ** 1000) %}{% for i in range(40) %}"
               "{% set ns.n = ns.n * ns.n %}{% endfor %}{{ 1 }}"],
)
def test_huge_integers_are_refused(engine: TemplateEngine, source: str) -> None:
    refused(engine, source, "size")


def test_deep_recursion_is_a_template_error(engine: TemplateEngine) -> None:
    with pytest.raises(TemplateError):
        engine.render("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}")


def test_a_template_rendered_directly_through_jinja_has_a_budget_too(
    engine: TemplateEngine,
) -> None:
    template = engine.compile(NESTED)
    with pytest.raises(TemplateBudgetError, match="steps"):
        template.render()


# -- normal templates stay well inside -------------------------------------------------

TYPICAL = [
    ("{{ value_json.temperature | float * 1.8 + 32 }}", {"value_json": {"temperature": 20}},
     "68.0"),
    ("{{ (value | float / 10) | round(1) }}", {"value": "215"}, "21.5"),
    ("{{ {'0': 'off', '1': 'on'}[value] }}", {"value": "1"}, "on"),
    ("{{ 'ON' if value_json.state == 1 else 'OFF' }}", {"value_json": {"state": 1}}, "ON"),
    ("{{ value_json.vals | map('float') | sum }}", {"value_json": {"vals": [1, 2, 3]}},
     "6.0"),
    ("{% for k, v in value_json | dictsort %}{{ k }}={{ v }};{% endfor %}",
     {"value_json": {"b": 2, "a": 1}}, "a=1;b=2;"),
    ("{{ '%.1f' % (value | float) }}", {"value": "3.14159"}, "3.1"),
    ("{{ '{:>5}|{}'.format(value, value_json.x) }}", {"value": "ab", "value_json": {"x": 1}},
     "   ab|1"),
    ("{{ value.split(',') | join('-') }}", {"value": "a,b,c"}, "a-b-c"),
    ("{{ ([value] * 3) | join }}", {"value": "ab"}, "ababab"),
    ("{% set ns = namespace(total=0) %}{% for x in value_json.xs %}"
     "{% set ns.total = ns.total + x %}{% endfor %}{{ ns.total }}",
     {"value_json": {"xs": list(range(100))}}, "4950"),
    ("{{ value | replace('-', '') | upper | center(9) }}", {"value": "a-b"}, "    AB   "),
    ("{{ [1, 2, value_json.n] | max }} {{ (2 ** 10) ~ 'x' }}", {"value_json": {"n": 7}},
     "7 1024x"),
]


@pytest.mark.parametrize(("source", "variables", "expected"), TYPICAL)
def test_typical_templates_render_as_before(
    engine: TemplateEngine, source: str, variables: dict[str, object], expected: str
) -> None:
    assert engine.render(source, variables) == expected


def test_typical_templates_use_a_tiny_part_of_the_budget(engine: TemplateEngine) -> None:
    """The measurement behind the defaults: typical templates take microseconds and a
    few dozen steps, thousands of times below the limits."""
    for source, variables, _ in TYPICAL:
        budget = engine.measure(source, variables)
        assert budget.steps < DEFAULT_LIMITS.steps // 100, (source, budget.steps)
        assert budget.output < DEFAULT_LIMITS.size // 1000, (source, budget.output)


@pytest.mark.anyio
async def test_the_core_configuration_accepts_a_templates_block(
    config_dir: Path, write_config: Any
) -> None:
    """``gatehouse: templates:`` is a documented option: the core schema takes it and the
    host's engine renders with it."""
    write_config("gatehouse:\n  templates:\n    steps: 500\n")
    async with make_host(config_dir).running() as host:
        assert template_engine(host).limits.steps == 500
