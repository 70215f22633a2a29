"""Acceptance against a real Home Assistant on the same Mosquitto (issue 16).

Runs ``scripts/ha-interop``, which finds the newest Python on this machine (PATH and
pyenv), asks the package index for the newest ``homeassistant`` release that installs on
it (here 3.13.0 -> 2025.4.4), builds that virtual env once with ``uv`` (the test extra;
``~/.cache/gatehouse-ha-interop/venv``, reused by later runs), starts Home Assistant and
Mosquitto, and checks both directions of MQTT discovery: entity ids, names, devices and
``via_device``, units, classes, display precision, no duplicates of our own
announcements, state updates, switch commands both ways, Home Assistant's documented
discovery example consumed alike by both, availability, and one ``offline`` on our stop.

Nothing is skipped: a machine without a usable Python, an index that does not answer, a
Home Assistant that does not start are failures whose reason the script prints (shown
here on failure). It runs in a subprocess so Home Assistant's process and ours can
never share state. Took 50-70 s here (15-35 s of it the venv, the first time).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "ha-interop"
#: Every check the script makes today; fewer PASS lines means one silently went away.
CHECKS = 28


@pytest.mark.timeout(900)
def test_real_home_assistant_interoperates_both_ways(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT)],
        capture_output=True, text=True, timeout=840, cwd=tmp_path, check=False,
    )
    output = result.stdout + result.stderr
    passed = [line for line in output.splitlines() if line.strip().startswith("PASS")]
    failed = [line for line in output.splitlines() if line.strip().startswith("FAIL")]
    assert result.returncode == 0 and not failed, output[-6000:]
    assert len(passed) >= CHECKS, output[-6000:]
    assert f"{len(passed)} passed, 0 failed" in output


def test_no_usable_python_is_a_failure_with_its_reason(tmp_path: Path) -> None:
    """Nothing skipped silently: a machine without a Python for Home Assistant fails."""
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--python", str(tmp_path / "no-such-python")],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False,
    )
    assert result.returncode != 0
    assert "FAIL  no Python found" in result.stdout + result.stderr
