"""The devices an entry provisioned: what the broker cannot tell us, kept on disk.

The broker's dynamic security file is the authority on clients and roles; this file
adds what only Gatehouse knows: the device's site and type, whether it holds a password
or a certificate (and the certificate's serial, needed to revoke it), and when it was
provisioned or revoked. No secret is ever stored here: a password is shown once and
only its broker-side hash exists afterwards.

One JSON document per entry, ``.storage/mqtt/provisioning.<entry_id>.json``, written
whole (atomic replace, 0600) on every change: provisioning is rare, so simplicity wins.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import anyio.to_thread

from gatehouse.core.helpers import write_private_file

from .errors import ProvisioningError

_LOGGER = logging.getLogger(__name__)

VERSION = 1
AuthKind = Literal["password", "certificate"]
Status = Literal["active", "revoked"]


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    """One provisioned device."""

    name: str
    site: str
    type: str
    username: str
    auth: AuthKind
    role: str
    group: str
    topic_root: str
    created: float
    status: Status = "active"
    serial: int | None = None  # the certificate's, for revocation
    revoked: float | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def revoked_now(self, notes: list[str]) -> DeviceRecord:
        return replace(self, status="revoked", revoked=time.time(), notes=notes)


class DeviceRegistry:
    """Devices by name, loaded at set-up, saved after each change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._devices: dict[str, DeviceRecord] = {}
        self._lock = anyio.Lock()

    async def load(self) -> None:
        self._devices = await anyio.to_thread.run_sync(self._read)

    def _read(self) -> dict[str, DeviceRecord]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as err:
            raise ValueError(f"{self.path}: cannot read the provisioned devices: {err}") from err
        if not isinstance(raw, dict) or raw.get("version") != VERSION:
            raise ValueError(f"{self.path}: not a version {VERSION} device list")
        devices = {}
        for item in raw.get("devices", []):
            try:
                record = DeviceRecord(**item)
            except TypeError as err:
                raise ValueError(f"{self.path}: a device entry is malformed: {err}") from err
            devices[record.name] = record
        return devices

    def get(self, name: str) -> DeviceRecord | None:
        return self._devices.get(name)

    def all(self) -> list[DeviceRecord]:
        return sorted(self._devices.values(), key=lambda d: (d.site, d.type, d.name))

    def username_taken(self, username: str) -> bool:
        return any(d.username == username for d in self._devices.values())

    async def put(self, record: DeviceRecord) -> None:
        """Add or replace; if the file cannot be written, memory stays as before."""
        async with self._lock:
            before = dict(self._devices)
            self._devices[record.name] = record
            try:
                await self._save()
            except BaseException:
                self._devices = before
                raise

    async def remove(self, name: str) -> None:
        async with self._lock:
            before = dict(self._devices)
            if self._devices.pop(name, None) is not None:
                try:
                    await self._save()
                except BaseException:
                    self._devices = before
                    raise

    async def _save(self) -> None:
        data = json.dumps({"version": VERSION,
                           "devices": [d.as_dict() for d in self.all()]}, indent=1)
        try:
            await anyio.to_thread.run_sync(self._write, data.encode("utf-8"))
        except OSError as err:
            raise ProvisioningError(f"cannot save the device list {self.path}: {err}") from err

    def _write(self, data: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_private_file(self.path, data)
