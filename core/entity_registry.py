"""The entity registry: stable entity ids, user names and disabled flags across restarts.

An entity with a ``unique_id`` gets an entry here the first time it is added; from then
on the same (platform, unique_id) always gets the same entity_id, even if the device's
name changes, so dashboards and automations keep working. Users rename entities and
disable them here; the change is announced on the bus so loaded entities follow it.

Lengths are capped where ids and names are made, because names come from devices (an
MQTT discovery config named with 100,000 characters made a 100,016-character entity id,
stored, logged and sent to every client): object ids made from names are at most
``MAX_OBJECT_ID_LENGTH`` (200) characters, cut deterministically with a hash of the
whole slug (``object_id_for``) so two long names that differ only at the end stay
apart and the same name always gives the same id; entity ids at most
``states.MAX_ENTITY_ID_LENGTH`` (255, with room for a ``_2`` suffix); names (an entity's
own, the registry's ``original_name``) are cut to ``MAX_NAME_LENGTH`` (255,
``cap_name``), and a user name longer than that is refused. Entries stored before the
caps existed with an id that is no longer valid are dropped at load (the entity gets
a capped id when it is added again).
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, Final

from .bus import EventType
from .exceptions import GatehouseError, InvalidEntityId
from .states import MAX_ENTITY_ID_LENGTH, split_entity_id, valid_entity_id
from .storage import Store
from .util import UNSET, Unset, slugify

if TYPE_CHECKING:
    from .host import Host

STORAGE_KEY: Final = "core.entity_registry"
STORAGE_VERSION: Final = 1

EVENT_ENTITY_REGISTRY_UPDATED: Final[EventType[dict[str, Any]]] = EventType(
    "entity_registry_updated"
)

DISABLED_USER: Final = "user"
DISABLED_INTEGRATION: Final = "integration"

#: Longest object id made from a name (the part after ``domain.``).
MAX_OBJECT_ID_LENGTH: Final = 200
#: Longest entity name (an integration's is cut, a user's refused).
MAX_NAME_LENGTH: Final = 255
#: Room kept for the ``_2``, ``_3``... that tells equal names apart.
_SUFFIX_ROOM: Final = 8

_LOGGER = logging.getLogger(__name__)


def object_id_for(text: str, domain: str = "") -> str:
    """The object id for a name: its slug, cut to ``MAX_OBJECT_ID_LENGTH`` characters
    (less for a domain so long that ``domain.object_id_N`` would not fit) with the first
    eight hex digits of the whole slug's SHA-256 at the end."""
    slug = slugify(text)
    limit = min(MAX_OBJECT_ID_LENGTH, MAX_ENTITY_ID_LENGTH - len(domain) - 1 - _SUFFIX_ROOM)
    if len(slug) <= limit:
        return slug
    digest = hashlib.sha256(slug.encode("ascii")).hexdigest()[:8]
    return f"{slug[: limit - 9].rstrip('_')}_{digest}"


def cap_name(name: str | None) -> str | None:
    """``name`` cut to ``MAX_NAME_LENGTH`` characters (the last one an ellipsis)."""
    if name is None or len(name) <= MAX_NAME_LENGTH:
        return name
    return name[: MAX_NAME_LENGTH - 1] + "…"


@dataclass(frozen=True, slots=True)
class RegistryEntry:
    entity_id: str
    unique_id: str
    platform: str
    config_entry_id: str | None = None
    device_id: str | None = None
    name: str | None = None
    original_name: str | None = None
    disabled_by: str | None = None
    created_at: float = field(default_factory=time.time)
    #: The entity's own area (a free-form id such as ``boiler_room``); when unset, the
    #: entity is in its device's area. Read by the exporters' entity filters.
    area_id: str | None = None

    @property
    def domain(self) -> str:
        return self.entity_id.partition(".")[0]

    @property
    def disabled(self) -> bool:
        return self.disabled_by is not None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class EntityRegistry:
    def __init__(self, host: Host) -> None:
        self._host = host
        self._entries: dict[str, RegistryEntry] = {}
        self._by_unique: dict[tuple[str, str, str], str] = {}
        self._store: Store[dict[str, Any]] = Store(
            host.storage_dir, STORAGE_KEY, STORAGE_VERSION
        )

    async def load(self) -> None:
        raw = await self._store.load()
        dropped = 0
        for item in (raw or {}).get("entities", []):
            entry = RegistryEntry(**item)
            if not valid_entity_id(entry.entity_id):
                dropped += 1  # stored before the length caps: made again when added
                continue
            if entry.name is not None and len(entry.name) > MAX_NAME_LENGTH:
                entry = replace(entry, name=cap_name(entry.name))
            self._index(entry)
        if dropped:
            _LOGGER.warning(
                "Dropped %d entity registry entries whose entity id is not valid (longer "
                "than %d characters?); their entities get new ids", dropped,
                MAX_ENTITY_ID_LENGTH,
            )
            self._save()

    async def flush(self) -> None:
        await self._store.flush()

    def _save(self) -> None:
        # Entries are frozen: the list is an immutable snapshot, taken in well under a
        # millisecond; the store turns them into JSON in slices (no asdict on the loop).
        self._store.delay_save(lambda: {"entities": list(self._entries.values())}, 1.0)

    def _index(self, entry: RegistryEntry) -> None:
        self._entries[entry.entity_id] = entry
        self._by_unique[(entry.domain, entry.platform, entry.unique_id)] = entry.entity_id

    # -- queries -------------------------------------------------------------------

    def get(self, entity_id: str) -> RegistryEntry | None:
        return self._entries.get(entity_id)

    def entity_id_for(self, domain: str, platform: str, unique_id: str) -> str | None:
        return self._by_unique.get((domain, platform, unique_id))

    def entities(self, *, config_entry_id: str | None = None) -> list[RegistryEntry]:
        return [
            e
            for e in self._entries.values()
            if config_entry_id is None or e.config_entry_id == config_entry_id
        ]

    def __len__(self) -> int:
        return len(self._entries)

    # -- changes -------------------------------------------------------------------

    def free_entity_id(self, domain: str, suggested_object_id: str) -> str:
        """``domain.slug`` (``object_id_for``: capped), with ``_2``, ``_3``... if taken by
        another entity."""
        base = f"{domain}.{object_id_for(suggested_object_id, domain)}"
        candidate, n = base, 2
        while candidate in self._entries or candidate in self._host.states:
            candidate = f"{base}_{n}"
            n += 1
        return candidate

    def get_or_create(
        self,
        domain: str,
        platform: str,
        unique_id: str,
        *,
        suggested_object_id: str,
        config_entry_id: str | None = None,
        device_id: str | None = None,
        original_name: str | None = None,
        disabled_by: str | None = None,
    ) -> RegistryEntry:
        """The registry entry for (domain, platform, unique_id), created if new.

        An existing entry keeps its entity_id, user name and disabled flag; what the
        integration reports (config entry, device, original name) is refreshed.
        """
        existing_id = self._by_unique.get((domain, platform, unique_id))
        if existing_id is not None:
            entry = self._entries[existing_id]
            updated = replace(
                entry,
                config_entry_id=config_entry_id,
                device_id=device_id,
                original_name=cap_name(original_name),
            )
            if updated != entry:
                self._index(updated)
                self._save()
            return updated
        entry = RegistryEntry(
            entity_id=self.free_entity_id(domain, suggested_object_id),
            unique_id=unique_id,
            platform=platform,
            config_entry_id=config_entry_id,
            device_id=device_id,
            original_name=cap_name(original_name),
            disabled_by=disabled_by,
        )
        self._index(entry)
        self._save()
        self._host.bus.fire(
            EVENT_ENTITY_REGISTRY_UPDATED, {"action": "create", "entity_id": entry.entity_id}
        )
        return entry

    def update(
        self,
        entity_id: str,
        *,
        new_entity_id: str | None = None,
        name: str | Unset | None = UNSET,
        disabled_by: str | Unset | None = UNSET,
        area_id: str | Unset | None = UNSET,
    ) -> RegistryEntry:
        """Rename (``name``, ``new_entity_id``), (dis)able an entity or set its area.

        ``name=None`` clears a user name, going back to the integration's name; an
        argument left out is unchanged.
        """
        entry = self._entries.get(entity_id)
        if entry is None:
            raise GatehouseError(f"entity {entity_id} is not in the registry")
        changes: dict[str, Any] = {}
        if name is not UNSET:
            if name is not None and len(name) > MAX_NAME_LENGTH:
                raise GatehouseError(f"an entity name longer than {MAX_NAME_LENGTH} characters")
            changes["name"] = name
        if disabled_by is not UNSET:
            changes["disabled_by"] = disabled_by
        if area_id is not UNSET:
            changes["area_id"] = area_id
        if new_entity_id is not None and new_entity_id != entity_id:
            if not valid_entity_id(new_entity_id):
                raise InvalidEntityId(new_entity_id)
            if split_entity_id(new_entity_id)[0] != entry.domain:
                raise GatehouseError("an entity id cannot change its domain")
            if new_entity_id in self._entries or new_entity_id in self._host.states:
                raise GatehouseError(f"entity id {new_entity_id} is already taken")
            changes["entity_id"] = new_entity_id
        updated = replace(entry, **changes)
        if updated == entry:
            return entry
        del self._entries[entity_id]
        self._index(updated)
        self._save()
        self._host.bus.fire(
            EVENT_ENTITY_REGISTRY_UPDATED,
            {
                "action": "update",
                "entity_id": updated.entity_id,
                "old_entity_id": entity_id,
                "changes": sorted(changes),
            },
        )
        return updated

    def remove(self, entity_id: str) -> bool:
        entry = self._entries.pop(entity_id, None)
        if entry is None:
            return False
        self._by_unique.pop((entry.domain, entry.platform, entry.unique_id), None)
        self._save()
        self._host.bus.fire(
            EVENT_ENTITY_REGISTRY_UPDATED, {"action": "remove", "entity_id": entity_id}
        )
        return True

    def remove_config_entry(self, config_entry_id: str) -> int:
        """Forget every entity of a removed config entry; returns how many."""
        gone = [e.entity_id for e in self._entries.values() if e.config_entry_id == config_entry_id]
        for entity_id in gone:
            self.remove(entity_id)
        return len(gone)
