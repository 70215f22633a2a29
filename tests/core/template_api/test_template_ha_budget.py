"""Home Assistant's template functions stay inside the render budget.

A filter is one call, so ``states | selectattr(...)`` over 10,000 states would be one
step if iterating the states were not counted: iteration takes a step per state, and
so do ``expand`` and the registry walks.
"""

from __future__ import annotations

import time

import pytest

from gatehouse.core import Host
from gatehouse.core.helpers import (
    TemplateBudgetError,
    TemplateLimits,
    configure_templates,
    render_info,
    render_template,
    template_engine,
)
from gatehouse.core.template import DEFAULT_LIMITS

pytestmark = pytest.mark.anyio


def fill(host: Host, count: int) -> None:
    for index in range(count):
        host.states.set(f"sensor.s{index}", "on" if index % 2 else "off")


async def test_ten_thousand_states_fit_the_default_budget(host: Host) -> None:
    fill(host, 10_000)
    # Steps are what this is about; the clock is a machine's (2 cores, 8 test runs).
    configure_templates(host, TemplateLimits(seconds=5.0))
    result = render_template(
        host, "{{ states.sensor | selectattr('state', 'eq', 'on') | list | count }}"
    )
    assert result == 5000
    budget = template_engine(host).measure("{{ states | map(attribute='state') | list "
                                            "| count }}")
    assert 10_000 <= budget.steps < DEFAULT_LIMITS.steps  # each state counted, and fits


async def test_a_filter_over_all_states_is_stopped_by_the_step_limit(host: Host) -> None:
    fill(host, 2_000)
    configure_templates(host, TemplateLimits(steps=1_000, seconds=5.0))
    with pytest.raises(TemplateBudgetError) as info:
        render_template(host, "{{ states | selectattr('state', 'eq', 'on') | list }}",
                        name="all on")
    assert info.value.limit == "steps"
    assert "all on" in str(info.value)


async def test_nested_loops_over_states_stop_within_the_time_budget(host: Host) -> None:
    fill(host, 3_000)
    configure_templates(host, TemplateLimits(steps=100_000_000, seconds=0.05))
    started = time.perf_counter()
    with pytest.raises(TemplateBudgetError) as info:
        render_template(host, "{% for a in states %}{% for b in states.sensor %}"
                              "{{ a.state == b.state }}{% endfor %}{% endfor %}")
    elapsed = time.perf_counter() - started
    assert info.value.limit in ("time", "output")
    # the limit plus one operation (here a sort of 3,000 states); very loose: a loaded
    # CI box stretches wall time, the named limit above is the proof
    assert elapsed < 10.0


async def test_expand_of_a_huge_self_referencing_group_is_bounded(host: Host) -> None:
    members = [f"sensor.s{i}" for i in range(500)] + ["group.big"]
    fill(host, 500)
    host.states.set("group.big", "on", {"entity_id": members})
    configure_templates(host, TemplateLimits(seconds=30))  # steps are the point here
    assert render_template(host, "{{ expand('group.big') | count }}") == 500
    configure_templates(host, TemplateLimits(steps=200, seconds=30))
    with pytest.raises(TemplateBudgetError):
        render_template(host, "{{ expand('group.big') | count }}")


async def test_iterating_states_records_the_domain_not_each_entity(host: Host) -> None:
    fill(host, 1_000)
    info = render_info(host, "{{ states.sensor | selectattr('state', 'eq', 'on') "
                             "| list | count }}")
    assert info.result == 500
    assert info.domains == {"sensor"}
    assert info.entities == frozenset()


async def test_a_huge_round_precision_is_refused_not_computed(host: Host) -> None:
    started = time.perf_counter()
    info = render_info(host, "{{ 1.5 | round(10 ** 9) }}")
    assert info.error is not None and "precision" in str(info.error)
    assert time.perf_counter() - started < 10.0  # refused up front, not computed
