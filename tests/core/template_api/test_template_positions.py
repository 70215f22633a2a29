"""Template errors name the template and the line where it failed."""

from __future__ import annotations

import pytest

from gatehouse.core import Host
from gatehouse.core.helpers import (
    TemplateBudgetError,
    TemplateError,
    render_info,
    render_template,
    template_engine,
)

pytestmark = pytest.mark.anyio


async def test_a_syntax_error_names_the_template_and_line(host: Host) -> None:
    with pytest.raises(TemplateError) as info:
        render_template(host, "{{ 1 }}\n{{ 2 }}\n{% if %}", name="sensor.x state")
    err = info.value
    assert err.line == 3
    assert "line 3" in str(err)
    assert "syntax error" in str(err)
    # the source's start names it (compiled once, whoever renders it)
    assert "{{ 1 }}" in str(err)


async def test_a_render_error_names_the_given_name_and_line(host: Host) -> None:
    with pytest.raises(TemplateError) as info:
        render_template(host, "first\nsecond {{ 1 }}\n\n{{ 'abc' | float }}",
                        name="sensor.x state")
    err = info.value
    assert err.template == "sensor.x state"
    assert err.line == 4
    assert str(err).startswith("template 'sensor.x state', line 4: ")


async def test_an_error_from_a_function_names_template_and_line(host: Host) -> None:
    with pytest.raises(TemplateError) as info:
        render_template(host, "{% set x = 1 %}\n{{ states('No Such Id') }}", name="t1")
    assert info.value.line == 2
    assert str(info.value) == "template 't1', line 2: Invalid entity ID 'No Such Id'"


async def test_an_error_inside_a_macro_names_the_macro_line(host: Host) -> None:
    source = "{% macro f(v) %}\n{{ v | int }}\n{% endmacro %}\n{{ f('x') }}"
    with pytest.raises(TemplateError) as info:
        render_template(host, source, name="m")
    assert info.value.line == 2


async def test_an_undefined_error_in_a_strict_render_names_the_line(host: Host) -> None:
    with pytest.raises(TemplateError) as info:
        template_engine(host).render("a\n{{ missing }}", name="strict one")
    assert info.value.line == 2
    assert "'missing' is undefined" in str(info.value)
    assert "strict one" in str(info.value)


async def test_a_budget_error_names_the_template_limit_and_line(host: Host) -> None:
    source = "ok\n{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}" \
             "{% endfor %}"
    with pytest.raises(TemplateBudgetError) as info:
        render_template(host, source, name="loop")
    assert info.value.template == "loop"
    assert info.value.limit in ("steps", "time")
    assert info.value.line == 2
    assert "(line 2)" in str(info.value)


async def test_render_info_carries_the_positioned_error(host: Host) -> None:
    info = render_info(host, "\n\n{{ 1 / 0 }}", name="div")
    assert info.error is not None
    assert info.error.line == 3
    assert "ZeroDivisionError" in str(info.error)
