"""Fixtures for the whole suite: a fresh host per test, and the real peers (harness)."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from gatehouse.core import Host
from hosttools import make_host

pytest_plugins = ["harness.fixtures"]

__all__ = ["make_host"]  # re-exported for older imports; prefer hosttools


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A config directory with an empty configuration.yaml."""
    path = tmp_path / "config"
    path.mkdir()
    (path / "configuration.yaml").write_text("# empty\n", encoding="utf-8")
    return path


@pytest.fixture
def write_config(config_dir: Path) -> Callable[[str], Path]:
    """Write ``configuration.yaml`` (dedented) into the test's config dir."""

    def write(text: str, name: str = "configuration.yaml") -> Path:
        target = config_dir / name
        target.write_text(textwrap.dedent(text), encoding="utf-8")
        return target

    return write


@pytest.fixture
async def host(config_dir: Path) -> AsyncIterator[Host]:
    """A running host on the test's config dir, stopped after the test."""
    h = make_host(config_dir)
    async with h.running():
        yield h
