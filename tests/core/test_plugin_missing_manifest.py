"""A plugin installed without its manifest.json is named as such (issue 16, "Also").

A wheel built without package data installs the ``.py`` files only; the loader then
reported "unknown integration 'lumen' (did you mean 'http'?)", as if nothing were
installed. The test lays the package out as pip installs such a wheel (the package
folder without manifest.json, a dist-info with the entry point) on ``sys.path``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from gatehouse.core.exceptions import IntegrationNotFound
from gatehouse.core.plugins import IntegrationUnusable, PluginManager
from gatehouse.core.testing import make_host

pytestmark = pytest.mark.anyio

GROUP = "gatehouse.integrations"

INIT = '''\
from gatehouse.core import hookimpl


class LumenIntegration:
    domain = "lumen"

    async def setup_entry(self, host, entry):
        pass

    async def unload_entry(self, host, entry):
        pass


INTEGRATION = LumenIntegration()


@hookimpl
def gatehouse_integration():
    return INTEGRATION
'''


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def installed_without_manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """site-packages as pip leaves it after installing a wheel built without package data."""
    site = tmp_path / "site"
    package = site / "gh_lumen_plugin" / "lumen"
    package.mkdir(parents=True)
    (site / "gh_lumen_plugin" / "__init__.py").write_text("")
    (package / "__init__.py").write_text(INIT)
    dist = site / "gh_lumen_plugin-0.1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: gh-lumen-plugin\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text(f"[{GROUP}]\nlumen = gh_lumen_plugin.lumen\n")
    monkeypatch.syspath_prepend(str(site))
    return package


def test_loader_says_the_manifest_is_missing_from_the_package(
    installed_without_manifest: Path,
) -> None:
    plugins = PluginManager(group=GROUP)
    assert "lumen" not in plugins.available()
    reason = plugins.broken()["lumen"]
    assert "manifest.json is missing from the installed package" in reason
    assert str(installed_without_manifest) in reason
    assert "package data" in reason
    with pytest.raises(IntegrationUnusable) as caught:
        plugins.load("lumen")
    assert isinstance(caught.value, IntegrationNotFound)  # callers catching it still do
    message = str(caught.value)
    assert "installed but unusable" in message
    assert "did you mean" not in message


async def test_yaml_section_of_such_a_plugin_names_the_missing_manifest(
    installed_without_manifest: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "configuration.yaml").write_text(
        "gatehouse:\n  control_socket: false\nlumen:\n  brightness: 3\n"
    )
    caplog.set_level(logging.ERROR)
    host = make_host(config_dir)
    async with host.running():
        pass
    assert "manifest.json is missing from the installed package" in caplog.text
    assert "unknown integration 'lumen'" not in caplog.text
