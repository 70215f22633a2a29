"""The area registry: named places (rooms, halls, cabinets) devices and entities are in.

Devices and entities already carry a free-form ``area_id`` (the exporters' filters read
it); this registry gives those ids a name, so Home Assistant clients (``hass-cli area
list``, ``device assign``) and the UI can list, create, rename and delete areas.
Persisted like the other registries (``Store``, ``core.area_registry``).

Loaded on first use (``area_registry(host)``), not at start: a host whose users never
name an area pays nothing. An area's id is the slug of its first name (``Boiler room``
→ ``boiler_room``, ``_2``... when taken), so the ids that configurations already use for
``area_id`` become named areas by creating an area of that name. Deleting an area
clears it from every device and entity that was in it, as Home Assistant does.
Changes fire ``area_registry_updated`` ``{"action": "create" | "update" | "remove",
"area_id"}``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, Final

import anyio

from .bus import EventType
from .exceptions import GatehouseError
from .keys import HostKey
from .storage import Store
from .util import UNSET, Unset, slugify

if TYPE_CHECKING:
    from .host import Host

STORAGE_KEY: Final = "core.area_registry"
STORAGE_VERSION: Final = 1
#: Longest area name (names come from users; ids are made from them).
MAX_AREA_NAME: Final = 100
#: Most areas one host keeps (a bound on what a client can make it store).
MAX_AREAS: Final = 1000

EVENT_AREA_REGISTRY_UPDATED: Final[EventType[dict[str, Any]]] = EventType(
    "area_registry_updated"
)


class AreaError(GatehouseError):
    """An area change that cannot be made (a duplicate name, an unknown id...)."""


class UnknownArea(AreaError):
    """No area has that id."""


@dataclass(frozen=True, slots=True)
class AreaEntry:
    area_id: str
    name: str
    icon: str | None = None
    picture: str | None = None
    aliases: tuple[str, ...] = ()
    created_at: float = field(default_factory=time.time)
    modified_at: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        """Home Assistant's ``config/area_registry/list`` shape."""
        out = asdict(self)
        out["aliases"] = list(self.aliases)
        out["floor_id"] = None
        out["labels"] = []
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> AreaEntry:
        now = time.time()
        return cls(
            area_id=str(raw["area_id"]),
            name=str(raw["name"]),
            icon=raw.get("icon"),
            picture=raw.get("picture"),
            aliases=tuple(str(a) for a in raw.get("aliases") or ()),
            created_at=float(raw.get("created_at", now)),
            modified_at=float(raw.get("modified_at", now)),
        )


def _check_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise AreaError("an area needs a name")
    if len(name) > MAX_AREA_NAME:
        raise AreaError(f"an area name longer than {MAX_AREA_NAME} characters")
    if not slugify(name, fallback=""):
        raise AreaError(f"area name {name!r} has no letters or digits")
    return name


class AreaRegistry:
    def __init__(self, host: Host) -> None:
        self._host = host
        self._areas: dict[str, AreaEntry] = {}
        self._store: Store[dict[str, Any]] = Store(
            host.storage_dir, STORAGE_KEY, STORAGE_VERSION
        )

    async def load(self) -> None:
        raw = await self._store.load()
        for item in (raw or {}).get("areas", []):
            area = AreaEntry.from_dict(item)
            self._areas[area.area_id] = area

    async def flush(self) -> None:
        await self._store.flush()

    def _save(self) -> None:
        self._store.delay_save(
            lambda: {"areas": [a.as_dict() for a in self._areas.values()]}, 1.0
        )

    def _fire(self, action: str, area_id: str) -> None:
        self._host.bus.fire(EVENT_AREA_REGISTRY_UPDATED, {"action": action, "area_id": area_id})

    # -- queries -------------------------------------------------------------------

    def get(self, area_id: str) -> AreaEntry | None:
        return self._areas.get(area_id)

    def areas(self) -> list[AreaEntry]:
        return sorted(self._areas.values(), key=lambda a: a.name.casefold())

    def by_name(self, name: str) -> AreaEntry | None:
        wanted = name.strip().casefold()
        for area in self._areas.values():
            if area.name.casefold() == wanted:
                return area
        return None

    def __len__(self) -> int:
        return len(self._areas)

    # -- changes -------------------------------------------------------------------

    def create(
        self, name: str, *, icon: str | None = None, picture: str | None = None,
        aliases: list[str] | None = None,
    ) -> AreaEntry:
        name = _check_name(name)
        if self.by_name(name) is not None:
            raise AreaError(f"the name {name!r} is already in use")
        if len(self._areas) >= MAX_AREAS:
            raise AreaError(f"at most {MAX_AREAS} areas")
        base = slugify(name)
        area_id, n = base, 2
        while area_id in self._areas:
            area_id = f"{base}_{n}"
            n += 1
        area = AreaEntry(area_id, name, icon, picture, tuple(aliases or ()))
        self._areas[area_id] = area
        self._save()
        self._fire("create", area_id)
        return area

    def update(
        self, area_id: str, *, name: str | Unset = UNSET, icon: str | Unset | None = UNSET,
        picture: str | Unset | None = UNSET, aliases: list[str] | Unset = UNSET,
    ) -> AreaEntry:
        area = self._areas.get(area_id)
        if area is None:
            raise UnknownArea(f"no area {area_id!r}")
        changes: dict[str, Any] = {}
        if name is not UNSET:
            name = _check_name(name)
            other = self.by_name(name)
            if other is not None and other.area_id != area_id:
                raise AreaError(f"the name {name!r} is already in use")
            changes["name"] = name
        if icon is not UNSET:
            changes["icon"] = icon
        if picture is not UNSET:
            changes["picture"] = picture
        if aliases is not UNSET:
            changes["aliases"] = tuple(aliases)
        updated = replace(area, **changes)
        if updated == area:
            return area
        updated = replace(updated, modified_at=time.time())
        self._areas[area_id] = updated
        self._save()
        self._fire("update", area_id)
        return updated

    def delete(self, area_id: str) -> None:
        """Remove an area; devices and entities in it are left without one."""
        if self._areas.pop(area_id, None) is None:
            raise UnknownArea(f"no area {area_id!r}")
        host = self._host
        for device in host.device_registry.devices():
            if device.area_id == area_id:
                host.device_registry.update(device.id, area_id=None)
        for entry in host.entity_registry.entities():
            if entry.area_id == area_id:
                host.entity_registry.update(entry.entity_id, area_id=None)
        self._save()
        self._fire("remove", area_id)


_REGISTRY: Final[HostKey[AreaRegistry]] = HostKey("core.area_registry")
_LOADING: Final[HostKey[anyio.Lock]] = HostKey("core.area_registry.lock")


async def area_registry(host: Host) -> AreaRegistry:
    """The host's area registry, loaded on first use and flushed when the host stops."""
    registry = host.data.get(_REGISTRY)
    if registry is not None:
        return registry
    lock = host.data.get(_LOADING)
    if lock is None:
        lock = host.data[_LOADING] = anyio.Lock()
    async with lock:
        registry = host.data.get(_REGISTRY)
        if registry is None:
            registry = AreaRegistry(host)
            await registry.load()
            host.data[_REGISTRY] = registry
            host.on_shutdown(registry.flush)
    return registry
