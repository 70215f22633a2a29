"""One host per config directory: an advisory lock on ``<config>/.gatehouse.lock``.

Two hosts on one config dir would overwrite each other's registries and entries and
deliver the same outbox twice. ``fcntl.flock`` is released by the kernel when the
process dies, even by ``kill -9``, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from .exceptions import GatehouseError

LOCK_NAME = ".gatehouse.lock"


class ConfigDirLocked(GatehouseError):
    """Another host already runs on this config directory."""


class ConfigDirLock:
    """An exclusive lock held for the life of a running host."""

    def __init__(self, config_dir: Path) -> None:
        self.path = config_dir / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ConfigDirLocked(
                f"another Gatehouse host is running on {self.path.parent}"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
