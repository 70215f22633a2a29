"""The appliance default: an empty config dir gets http + recorder + onboarding, no demo,
no simulator; scripts/run keeps the demo; integrations not configured are not imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml
from appliancetools import ROOT

from gatehouse.core.default_config import APPLIANCE_CONFIG, write_appliance_config
from gatehouse.core.testing import free_port

GATEHOUSE = str(Path(sys.executable).parent / "gatehouse")

#: Run in a child: the appliance host, then which heavy libraries got imported.
CHILD = """
import json, sys, anyio
from gatehouse.core.host import Host

async def main():
    host = Host(sys.argv[1])
    async with host.running():
        loaded = sorted(host.plugins.loaded())
    heavy = ("pymodbus", "asyncua", "paho", "nats", "jsonschema_rs", "google.protobuf",
             "gatehouse.integrations.demo", "gatehouse.integrations.simulator",
             "gatehouse.integrations.modbus", "gatehouse.integrations.opcua")
    print(json.dumps({"loaded": loaded, "imported": [m for m in heavy if m in sys.modules]}))

anyio.run(main)
"""


def _started_until_config(config: Path, env: dict[str, str]) -> str:
    """The configuration.yaml ``gatehouse run`` writes into a dir that has none.

    ``.storage`` is made a plain file, so the host fails right after writing the file,
    before it listens anywhere (the demo config would start a simulator on fixed ports).
    """
    config.mkdir()
    (config / ".storage").write_text("")
    done = subprocess.run([GATEHOUSE, "run", "--config", str(config)], capture_output=True,
                          text=True, env=env, timeout=120, check=False)
    assert done.returncode == 1, done.stderr[-2000:]
    return (config / "configuration.yaml").read_text()


def test_empty_config_dir_gets_the_appliance_config(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "GATEHOUSE_DEFAULT_CONFIG"}
    text = _started_until_config(tmp_path / "box", env)
    assert text == APPLIANCE_CONFIG.read_text()
    assert set(yaml.safe_load(text)) == {"gatehouse", "http", "recorder"}
    demo = _started_until_config(tmp_path / "dev", {**env, "GATEHOUSE_DEFAULT_CONFIG": "demo"})
    assert {"demo", "simulator"} <= set(yaml.safe_load(demo))
    assert 'GATEHOUSE_DEFAULT_CONFIG="${GATEHOUSE_DEFAULT_CONFIG:-demo}"' in (
        ROOT / "scripts" / "run").read_text()


def test_existing_config_is_never_replaced(tmp_path: Path) -> None:
    (tmp_path / "configuration.yaml").write_text("gatehouse:\n")
    assert write_appliance_config(tmp_path) is False
    assert (tmp_path / "configuration.yaml").read_text() == "gatehouse:\n"


def test_appliance_config_loads_only_what_it_names(tmp_path: Path) -> None:
    config = tmp_path / "config"
    assert write_appliance_config(config)
    text = (config / "configuration.yaml").read_text()
    (config / "configuration.yaml").write_text(
        text.replace("server_port: 8123", f"server_port: {free_port()}\n  server_host: 127.0.0.1"))
    check = subprocess.run([GATEHOUSE, "check-config", str(config)], capture_output=True,
                           text=True, check=False)
    assert check.returncode == 0, check.stderr
    out = subprocess.run([sys.executable, "-c", CHILD, str(config)], capture_output=True,
                         text=True, check=True, timeout=120)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert "recorder" in result["loaded"]
    assert result["imported"] == []
