"""Sandboxed jinja2 templates with state access and plugin globals."""

from __future__ import annotations

from pathlib import Path

import pytest

from gatehouse.core import Host
from gatehouse.core.template import TemplateEngine, TemplateError
from gatehouse.core.testing import make_host

pytestmark = pytest.mark.anyio


async def test_render_with_states_and_variables(host: Host) -> None:
    host.states.set("sensor.t", "21.5", {"unit_of_measurement": "°C"})
    engine = TemplateEngine(host)
    out = engine.render(
        "{{ states('sensor.t') | float + 1 }} {{ state_attr('sensor.t', 'unit_of_measurement') }}"
        " {{ is_state('sensor.t', '21.5') }} {{ states('sensor.missing') }} {{ value_json.v }}",
        {"value_json": {"v": 3}},
    )
    assert out == "22.5 °C True unknown 3"


async def test_errors_are_clear_not_crashes(host: Host) -> None:
    engine = TemplateEngine(host)
    with pytest.raises(TemplateError, match="line 1"):
        engine.render("{{ oops(")
    with pytest.raises(TemplateError, match="undefined"):
        engine.render("{{ nothing_here }}")
    with pytest.raises(TemplateError):
        engine.render("{{ ''.__class__.__mro__ }}")  # the sandbox refuses
    with pytest.raises(TemplateError):
        engine.render("{{ x.append(1) }}", {"x": []})  # immutable sandbox


async def test_plugin_globals_hook(config_dir: Path) -> None:
    (config_dir / "configuration.yaml").write_text("echo:\n  prefix: '>'\n", encoding="utf-8")
    host = make_host(config_dir)
    async with host.running():
        engine = TemplateEngine(host)
        assert engine.render("{{ echo_shout('hi') }}") == "HI"


async def test_diagnostics_hook_collected_per_plugin(config_dir: Path) -> None:
    from gatehouse.core.control import collect_diagnostics

    (config_dir / "configuration.yaml").write_text("echo: {}\n", encoding="utf-8")
    host = make_host(config_dir)
    async with host.running():
        diag = collect_diagnostics(host)
    assert diag["plugins"]["echo"] == {"echo": {"loaded_entries": 1}}
    assert "echo" in diag["host"]["integrations"]
    assert diag["host"]["services"] > 0
