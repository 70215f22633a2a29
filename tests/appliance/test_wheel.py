"""The built wheel on its own: installed into a venv outside the repository from an
offline wheelhouse, it serves the UI, ships blueprints and unit, and runs the CLI."""

from __future__ import annotations

import json
import subprocess
import urllib.request
import zipfile
from pathlib import Path

import pytest
from appliancetools import ROOT, build_wheelhouse, get, install_venv, running_host

from gatehouse.core.testing import free_port

pytestmark = pytest.mark.slow

CONFIG = """\
gatehouse:
  name: Wheel test
http:
  server_host: 127.0.0.1
  server_port: @PORT@
demo:
  name: Demo
  update_interval: 1
automation:
script:
"""


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("wheel")
    assert ROOT not in base.parents
    return build_wheelhouse(base / "wheelhouse")


@pytest.fixture(scope="module")
def installed(wheelhouse: Path) -> Path:
    return install_venv(wheelhouse, wheelhouse.parent / "venv")


def test_wheel_carries_ui_blueprints_unit_and_integration_data(wheelhouse: Path) -> None:
    (wheel,) = wheelhouse.glob("gatehouse-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("gatehouse/frontend/index.html", "gatehouse/frontend/login.html",
                 "gatehouse/frontend/public/style.css",
                 "gatehouse/blueprints/automation/gatehouse/threshold_alarm.yaml",
                 "gatehouse/packaging/gatehouse.service",
                 "gatehouse/core/default_config/configuration.yaml"):
        assert name in names, name
    for manifest in ROOT.glob("integrations/*/manifest.json"):
        folder = manifest.parent.name
        if not (manifest.parent / "__init__.py").exists():
            continue  # an integration still being written
        assert f"gatehouse/integrations/{folder}/manifest.json" in names
        if (manifest.parent / "services.yaml").exists():
            assert f"gatehouse/integrations/{folder}/services.yaml" in names
    frontend = {p.relative_to(ROOT).as_posix() for p in (ROOT / "frontend").rglob("*")
                if p.is_file()}
    assert {f"gatehouse/{p}" for p in frontend} <= names


def test_installed_wheel_serves_ui_and_runs_cli(installed: Path, tmp_path: Path) -> None:
    gatehouse = installed / "bin" / "gatehouse"
    python = installed / "bin" / "python"
    where = subprocess.run(
        [str(python), "-c", "import gatehouse.core, gatehouse.frontend; "
         "print(gatehouse.core.__file__)"],
        capture_output=True, text=True, check=True, cwd=tmp_path,
    ).stdout.strip()
    assert where.startswith(str(installed)), where

    version = subprocess.run([str(gatehouse), "version"], capture_output=True, text=True,
                             check=True, cwd=tmp_path)
    assert version.stdout.startswith("gatehouse ")
    config = tmp_path / "config"
    config.mkdir()
    port = free_port()
    (config / "configuration.yaml").write_text(CONFIG.replace("@PORT@", str(port)))
    checked = subprocess.run([str(gatehouse), "check-config", str(config)],
                             capture_output=True, text=True, check=False, cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr

    with running_host(gatehouse, config, cwd=tmp_path, port=port):
        status, url, body = get(f"http://127.0.0.1:{port}/")
        assert status == 200 and "/login.html" in url, url
        assert "<html" in body.lower()
        status, _url, body = get(f"http://127.0.0.1:{port}/public/style.css")
        assert status == 200 and body
        # The owner (onboarding) gets the UI's index page itself, from the installed package.
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        browser.open(urllib.request.Request(
            f"http://127.0.0.1:{port}/api/onboarding/users", headers={
                "Content-Type": "application/json"},
            data=json.dumps({"username": "owner", "password": "wheel-pass"}).encode()),
            timeout=10).close()
        with browser.open(f"http://127.0.0.1:{port}/", timeout=10) as page:
            assert page.status == 200 and page.url == f"http://127.0.0.1:{port}/"
            installed_index = next(installed.glob("lib/python*/site-packages/gatehouse/"
                                                  "frontend/index.html"))
            assert page.read() == installed_index.read_bytes()
        states = subprocess.run([str(gatehouse), "states", "--config", str(config), "--json"],
                                capture_output=True, text=True, check=True, cwd=tmp_path)
        assert "sensor.demo" in states.stdout
        services = subprocess.run([str(gatehouse), "services", "list", "--config", str(config)],
                                  capture_output=True, text=True, check=True, cwd=tmp_path)
        assert "automation.trigger" in services.stdout.split()
    # The shipped blueprints were copied from the installed package into the config dir.
    assert (config / "blueprints/automation/gatehouse/threshold_alarm.yaml").is_file()

    unit = subprocess.run([str(gatehouse), "install-service", "--output", "-"],
                          capture_output=True, text=True, check=True, cwd=tmp_path)
    assert f"ExecStart={gatehouse} run --config /etc/gatehouse" in unit.stdout
