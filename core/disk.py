"""Free space of the config dir's file system, as a problem entity and in /api/health.

Every store the host writes lives under the config dir (registries, outbox, recorder,
quarantine, audit log). When that file system fills, writes start failing one by one
in places the user cannot see; this watch says so in one place first:
``binary_sensor.gatehouse_disk_space`` (device class ``problem``: ``on`` while free space
is below the threshold) and ``problems`` of ``/api/health``. It reads ``statvfs`` only
(no write, so it keeps working on a full disk) and clears by itself when space returns.

Threshold and period: ``$GATEHOUSE_DISK_MIN_FREE_MB`` (default 64) and
``$GATEHOUSE_DISK_CHECK_INTERVAL`` seconds (default 30).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import anyio

from .keys import HostKey

if TYPE_CHECKING:
    from .host import Host

_LOGGER = logging.getLogger(__name__)

ENTITY_ID: Final = "binary_sensor.gatehouse_disk_space"
DEFAULT_MIN_FREE_MB: Final = 64.0
DEFAULT_INTERVAL: Final = 30.0
DISK_WATCH: Final[HostKey[DiskWatch]] = HostKey("disk_watch")


@dataclass(frozen=True)
class DiskStatus:
    path: str
    free: int
    total: int
    min_free: int

    @property
    def low(self) -> bool:
        return self.free < self.min_free

    def describe(self) -> str:
        return (f"disk space low: {self.free / 1e6:.1f} MB free of {self.total / 1e6:.0f} MB "
                f"on {self.path} (needs {self.min_free / 1e6:.0f} MB)")


def _env_float(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, ""))
    except ValueError:
        return default
    return value if value >= 0 else default


class DiskWatch:
    """Polls ``statvfs`` of the config dir; keeps the entity and ``status`` current."""

    def __init__(self, host: Host, *, min_free_mb: float | None = None,
                 interval: float | None = None) -> None:
        self.host = host
        self.min_free = int(1e6 * (min_free_mb if min_free_mb is not None
                                   else _env_float("GATEHOUSE_DISK_MIN_FREE_MB",
                                                   DEFAULT_MIN_FREE_MB)))
        self.interval = max(0.05, interval if interval is not None
                            else _env_float("GATEHOUSE_DISK_CHECK_INTERVAL", DEFAULT_INTERVAL))
        self.status: DiskStatus | None = None

    def start(self) -> None:
        self.host.data[DISK_WATCH] = self
        self.check()
        self.host.spawn(self._run(), name="disk space watch")

    def check(self) -> DiskStatus | None:
        path = str(self.host.config_dir)
        try:
            st = os.statvfs(path)
        except OSError as err:
            _LOGGER.warning("Cannot read the free space of %s: %s", path, err)
            return self.status
        status = DiskStatus(path, st.f_bavail * st.f_frsize, st.f_blocks * st.f_frsize,
                            self.min_free)
        was_low = self.status is not None and self.status.low
        if status.low and not was_low:
            _LOGGER.error("%s: stores may fail to write until space is freed",
                          status.describe())
        elif was_low and not status.low:
            _LOGGER.warning("Disk space on %s is back: %.1f MB free", path, status.free / 1e6)
        self.status = status
        self.host.states.set(ENTITY_ID, "on" if status.low else "off", {
            "device_class": "problem", "friendly_name": "Gatehouse disk space",
            "free_bytes": status.free, "total_bytes": status.total,
            "min_free_bytes": status.min_free, "path": path,
        })
        return status

    async def _run(self) -> None:
        while True:
            await anyio.sleep(self.interval)
            self.check()


def disk_problems(host: Host) -> list[str]:
    """What ``/api/health`` lists under ``problems`` (empty when all is well)."""
    watch = host.data.get(DISK_WATCH)
    status = watch.status if watch is not None else None
    return [status.describe()] if status is not None and status.low else []
