"""``PkiRuntime``: the loaded entry's sensors, kept in step with the files.

One loop (the entry's task): every ``poll_interval`` stat the files; when one changed
(a certificate issued or revoked by ``gatehouse certs``, a watched file renewed), or
``refresh_interval`` passed (days left move by one a day), read them again and update
the sensors: new certificates get a sensor, revoked ones lose theirs. A refresh that
fails is logged and the loop goes on; the sensors keep their last values.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from gatehouse.core import ConfigEntry, Host

from .binary_sensor import ExpiringBinarySensor
from .const import (
    CONF_NAME,
    CONF_POLL_INTERVAL,
    CONF_REFRESH_INTERVAL,
    CONF_WARN_DAYS,
    CONF_WATCH,
    EVENT_AUDIT_SECURITY,
)
from .scan import ScanResult, Signature, scan, signature, watch_paths
from .sensor import CertificateExpirySensor

_LOGGER = logging.getLogger(__name__)


class PkiRuntime:
    """A loaded pki entry: its config, sensors by key, the problem sensor."""

    def __init__(self, host: Host, entry: ConfigEntry[Any], config: dict[str, Any]) -> None:
        self.host = host
        self.entry = entry
        self.config = config
        self.config_dir = Path(host.config_dir)
        self.watch = watch_paths(self.config_dir, list(config[CONF_WATCH]))
        self.name = str(config[CONF_NAME])
        self.sensors: dict[str, CertificateExpirySensor] = {}
        self.problem = ExpiringBinarySensor(entry.entry_id, self.name,
                                            int(config[CONF_WARN_DAYS]))
        self.refreshes = 0
        self._signature: Signature | None = None
        self._last_refresh = 0.0
        self._last_errors: list[str] = []
        self._index: dict[int, tuple[str, str, bool]] | None = None

    async def start(self) -> None:
        """First reading, before set-up returns: the sensors exist once the entry is loaded."""
        await self.host.entities.add(self.entry, [self.problem])
        await self.refresh()

    async def refresh(self) -> None:
        """Read the files now and bring the sensors in line."""
        self._signature = await anyio.to_thread.run_sync(signature, self.config_dir, self.watch)
        result: ScanResult = await anyio.to_thread.run_sync(scan, self.config_dir, self.watch)
        self._last_refresh = time.monotonic()
        now = dt.datetime.now(dt.UTC)
        wanted = {t.key: t for t in result.tracked}
        for key in [k for k in self.sensors if k not in wanted]:
            await self.host.entities.remove(self.sensors.pop(key))
        new: list[CertificateExpirySensor] = []
        for key, tracked in wanted.items():
            sensor = self.sensors.get(key)
            if sensor is None:
                sensor = CertificateExpirySensor(self.entry.entry_id, self.name, tracked)
                sensor.update(tracked, now)
                self.sensors[key] = sensor
                new.append(sensor)
            else:
                sensor.update(tracked, now)
                sensor.write_state()
        if new:
            await self.host.entities.add(self.entry, new)
        self.problem.update(result.tracked, result.errors, now)
        self.problem.write_state()
        self._announce(result.index)
        if result.errors != self._last_errors:
            for error in result.errors:
                _LOGGER.warning("Certificates: %s", error)
            self._last_errors = result.errors
        self.refreshes += 1

    def _announce(self, index: dict[int, tuple[str, str, bool]]) -> None:
        """Fire ``audit_security`` (``cert.operation``) for each certificate issued or
        revoked since the last reading, so a loaded audit log records it.

        ``gatehouse certs`` works on the files without a host, so the running host learns
        of an operation only here: what happened while it was down is not announced (the
        first reading sets the baseline), and the actor is unknown (a shell user).
        """
        before, self._index = self._index, dict(index)
        if before is None:
            return
        for serial, (kind, name, revoked) in index.items():
            old = before.get(serial)
            if old is None:
                operation = "revoked" if revoked else "issued"
            elif revoked and not old[2]:
                operation = "revoked"
            else:
                continue
            self.host.bus.fire(EVENT_AUDIT_SECURITY, {
                "action": "cert.operation", "result": "ok", "target": f"cert:{serial:X}",
                "details": {"operation": operation, "kind": kind, "common_name": name,
                            "seen_by": "pki"},
            })

    async def run(self) -> None:
        """Poll for changes, refresh when one is seen or the refresh interval passed."""
        poll = float(self.config[CONF_POLL_INTERVAL])
        every = float(self.config[CONF_REFRESH_INTERVAL])
        while True:
            await anyio.sleep(min(poll, every))
            try:
                current = await anyio.to_thread.run_sync(signature, self.config_dir, self.watch)
                if current != self._signature or time.monotonic() - self._last_refresh >= every:
                    await self.refresh()
            except Exception:  # a loop that must not die: log, keep the last values
                _LOGGER.exception("Certificates: refresh failed; trying again in %ss", poll)

    def diagnostics(self) -> dict[str, Any]:
        return {
            "watch": [str(p) for p in self.watch],
            "sensors": len(self.sensors),
            "refreshes": self.refreshes,
            "errors": list(self._last_errors),
        }
