"""The device registry: physical or logical devices that group entities.

A device is found by its identifiers (``(domain, serial)`` pairs) so that two config
entries seeing the same device — a Modbus meter also visible over MQTT — share one
device. Persisted like the entity registry.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Final, TypedDict

from .bus import EventType
from .context import new_id
from .exceptions import GatehouseError
from .storage import Store
from .util import UNSET, Unset

if TYPE_CHECKING:
    from .host import Host

STORAGE_KEY: Final = "core.device_registry"
STORAGE_VERSION: Final = 1

#: Fired with ``{"action": "create" | "update" | "remove", "device_id": ...}``.
EVENT_DEVICE_REGISTRY_UPDATED: Final[EventType[dict[str, Any]]] = EventType(
    "device_registry_updated"
)


class DeviceInfo(TypedDict, total=False):
    """What an entity says about its device."""

    identifiers: set[tuple[str, str]]
    name: str
    manufacturer: str
    model: str
    sw_version: str
    hw_version: str
    via_device: tuple[str, str]


@dataclass(frozen=True, slots=True)
class DeviceEntry:
    id: str
    identifiers: frozenset[tuple[str, str]]
    config_entries: frozenset[str]
    name: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    sw_version: str | None = None
    hw_version: str | None = None
    via_device_id: str | None = None
    name_by_user: str | None = None
    disabled_by: str | None = None
    created_at: float = field(default_factory=time.time)
    #: Where the device is (a free-form id such as ``boiler_room``); its entities are
    #: there too unless they name their own area.
    area_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "identifiers": sorted([list(i) for i in self.identifiers]),
            "config_entries": sorted(self.config_entries),
            "name": self.name,
            "manufacturer": self.manufacturer,
            "model": self.model,
            "sw_version": self.sw_version,
            "hw_version": self.hw_version,
            "via_device_id": self.via_device_id,
            "name_by_user": self.name_by_user,
            "disabled_by": self.disabled_by,
            "created_at": self.created_at,
            "area_id": self.area_id,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> DeviceEntry:
        return cls(
            id=raw["id"],
            identifiers=frozenset((str(a), str(b)) for a, b in raw.get("identifiers", [])),
            config_entries=frozenset(raw.get("config_entries", [])),
            name=raw.get("name"),
            manufacturer=raw.get("manufacturer"),
            model=raw.get("model"),
            sw_version=raw.get("sw_version"),
            hw_version=raw.get("hw_version"),
            via_device_id=raw.get("via_device_id"),
            name_by_user=raw.get("name_by_user"),
            disabled_by=raw.get("disabled_by"),
            created_at=raw.get("created_at", time.time()),
            area_id=raw.get("area_id"),
        )


class DeviceRegistry:
    def __init__(self, host: Host) -> None:
        self._host = host
        self._devices: dict[str, DeviceEntry] = {}
        self._store: Store[dict[str, Any]] = Store(
            host.storage_dir, STORAGE_KEY, STORAGE_VERSION
        )

    async def load(self) -> None:
        raw = await self._store.load()
        for item in (raw or {}).get("devices", []):
            device = DeviceEntry.from_dict(item)
            self._devices[device.id] = device

    async def flush(self) -> None:
        await self._store.flush()

    def _save(self) -> None:
        self._store.delay_save(
            lambda: {"devices": [d.as_dict() for d in self._devices.values()]}, 1.0
        )

    def get(self, device_id: str) -> DeviceEntry | None:
        return self._devices.get(device_id)

    def find(self, identifiers: Iterable[tuple[str, str]]) -> DeviceEntry | None:
        wanted = set(identifiers)
        for device in self._devices.values():
            if device.identifiers & wanted:
                return device
        return None

    def devices(self, *, config_entry_id: str | None = None) -> list[DeviceEntry]:
        return [
            d
            for d in self._devices.values()
            if config_entry_id is None or config_entry_id in d.config_entries
        ]

    def get_or_create(self, config_entry_id: str, info: DeviceInfo) -> DeviceEntry:
        identifiers = frozenset(info.get("identifiers", set()))
        if not identifiers:
            raise GatehouseError("device info needs at least one identifier")
        via_id = None
        if "via_device" in info:
            via = self.find([info["via_device"]])
            via_id = via.id if via else None
        existing = self.find(identifiers)
        fields: dict[str, Any] = {
            "name": info.get("name"),
            "manufacturer": info.get("manufacturer"),
            "model": info.get("model"),
            "sw_version": info.get("sw_version"),
            "hw_version": info.get("hw_version"),
            "via_device_id": via_id,
        }
        if existing is None:
            device = DeviceEntry(
                id=new_id(),
                identifiers=identifiers,
                config_entries=frozenset({config_entry_id}),
                **fields,
            )
        else:
            device = replace(
                existing,
                identifiers=existing.identifiers | identifiers,
                config_entries=existing.config_entries | {config_entry_id},
                **fields,
            )
            if device == existing:
                return existing
        self._devices[device.id] = device
        self._save()
        self._fire("create" if existing is None else "update", device.id)
        return device

    def _fire(self, action: str, device_id: str) -> None:
        self._host.bus.fire(
            EVENT_DEVICE_REGISTRY_UPDATED, {"action": action, "device_id": device_id}
        )

    def update(
        self,
        device_id: str,
        *,
        name_by_user: str | Unset | None = UNSET,
        disabled_by: str | Unset | None = UNSET,
        area_id: str | Unset | None = UNSET,
    ) -> DeviceEntry:
        device = self._devices.get(device_id)
        if device is None:
            raise GatehouseError(f"no device {device_id}")
        changes: dict[str, Any] = {}
        if name_by_user is not UNSET:
            changes["name_by_user"] = name_by_user
        if disabled_by is not UNSET:
            changes["disabled_by"] = disabled_by
        if area_id is not UNSET:
            changes["area_id"] = area_id
        updated = replace(device, **changes)
        if updated == device:
            return device
        self._devices[device_id] = updated
        self._save()
        self._fire("update", device_id)
        return updated

    def remove_config_entry(self, config_entry_id: str) -> int:
        """Detach a removed entry; devices left with no entry are removed. Returns count."""
        removed = 0
        for device in list(self._devices.values()):
            if config_entry_id not in device.config_entries:
                continue
            remaining = device.config_entries - {config_entry_id}
            if remaining:
                self._devices[device.id] = replace(device, config_entries=remaining)
            else:
                del self._devices[device.id]
                removed += 1
                self._fire("remove", device.id)
        self._save()
        return removed
