"""Every shipped integration has the one layout (the check is Gatehouse's hassfest).

``gatehouse.core.testing.check_integration`` is what a third-party author runs too; here
it runs over every folder of ``integrations/`` and over a deliberately broken fixture,
to show that each rule catches what it is meant to.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gatehouse.core.testing import check_integration

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SHIPPED = sorted(p.parent.name for p in (ROOT / "integrations").glob("*/manifest.json"))


def test_every_folder_with_a_manifest_is_checked() -> None:
    assert {"demo", "mqtt", "nats", "modbus", "opcua", "simulator"} <= set(SHIPPED)


@pytest.mark.parametrize("domain", SHIPPED)
def test_shipped_integration_has_the_one_layout(domain: str) -> None:
    assert check_integration(f"gatehouse.integrations.{domain}", readme=README) == []


def test_a_broken_integration_is_named_flaw_by_flaw() -> None:
    problems = check_integration("plugin_fixtures.badlayout", readme=README)
    assert sorted(problems) == sorted(
        [
            "manifest.json: documentation anchor #no-such-anchor is not in " + str(README),
            "entities.py: an old shape: see the layout in the README",
            "const.py: missing",
            "runtime.py: missing",
            "sensor.py: no module docstring",
            "__init__.py: class Runtime belongs in another module",
            "__init__.py: no INTEGRATION = BadlayoutIntegration()",
            "__init__.py: setup_entry's entry is ConfigEntry[Any], "
            "not ConfigEntry[BadlayoutRuntime]",
            "entities.py: entity class Heater belongs in switch.py",
            "entities.py: entity class Thermometer belongs in sensor.py",
            "entities.py: exception ProbeFailed belongs in errors.py",
            "sensor.py: Door is a binary_sensor entity",
            "__init__.py: registers a service: only services.py does",
            "services.yaml: calibrate is described but never registered",
        ]
    )


def test_an_anchor_link_needs_the_readme_it_points_into() -> None:
    # A third party checking its plugin without a README gets URLs accepted, and a
    # README anchor refused rather than silently unchecked.
    problems = check_integration("plugin_fixtures.badlayout")
    assert "manifest.json: documentation 'README.md#no-such-anchor' is not README.md#anchor" \
        in problems
