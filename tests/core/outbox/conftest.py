"""Shared fixtures for the outbox tests.

The helper modules next to this file (the TCP peer, the scripted senders) are also run
by the kill -9 child process as plain imports, so this directory is put on ``sys.path``
here instead of turning the tests into a package.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


@pytest.fixture
def anyio_backend() -> str:
    """The outbox is backend-neutral, but the host runs on asyncio: test that."""
    return "asyncio"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where the host would put it: a file under the config directory."""
    return tmp_path / "config" / ".storage" / "outbox.db"
