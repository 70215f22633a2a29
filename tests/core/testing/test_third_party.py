"""The test kit works for an outside author: the echo plugin's own tests pass.

``tests/plugin_pkg`` is a third-party package (installed by scripts/test through its
entry point) with its own ``tests/`` folder and pytest configuration, using only
``gatehouse.core`` and ``gatehouse.core.testing``. It runs here as a separate pytest
session, exactly as its author would run it, so nothing of this suite's conftest or
``pythonpath`` can help it along.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PLUGIN = Path(__file__).resolve().parents[2] / "plugin_pkg"


def test_the_plugins_own_suite_passes_with_only_the_kit() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "tests"],
        cwd=PLUGIN, env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "4 passed" in proc.stdout
