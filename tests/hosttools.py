"""Helpers for tests that build hosts themselves (importable: ``from hosttools import ...``).

Kept out of ``conftest.py`` because several conftest modules exist in the tree and
``from conftest import`` would pick whichever pytest imported first.
"""

from __future__ import annotations

from pathlib import Path

from gatehouse.core import Host
from gatehouse.core.helpers import Backoff


def make_host(config_dir: Path) -> Host:
    """A host tuned for tests: quick retries, short stop timeout."""
    host = Host(config_dir, stop_timeout=5)
    host.config_entries.retry_policy = Backoff(initial=0.01, maximum=0.05, jitter=0)
    return host
