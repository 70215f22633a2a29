"""Adding entities to the host, finding them again, and following registry changes.

``await host.entities.add(entry, [entity, ...])`` is the one way an integration makes
entities live: it resolves the entity_id through the entity registry (stable across
restarts), creates the device, skips disabled entities, writes the first state, and
registers the undo that removes the state when the entry unloads. Entity services
(``switch.turn_on``...) find entity objects here by entity_id. Ids and names are capped
in length on the way (see ``entity_registry``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .bus import Event
from .entity import Entity
from .entity_registry import (
    DISABLED_INTEGRATION,
    EVENT_ENTITY_REGISTRY_UPDATED,
    cap_name,
)
from .exceptions import GatehouseError

if TYPE_CHECKING:
    from .config_entries import ConfigEntry
    from .host import Host

_LOGGER = logging.getLogger(__name__)


class EntityManager:
    """Live entity objects by entity_id."""

    def __init__(self, host: Host) -> None:
        self._host = host
        self._entities: dict[str, Entity] = {}
        self._unsub = host.bus.listen(EVENT_ENTITY_REGISTRY_UPDATED, self._registry_updated)

    def get(self, entity_id: str) -> Entity | None:
        return self._entities.get(entity_id)

    def __len__(self) -> int:
        return len(self._entities)

    def __contains__(self, entity_id: object) -> bool:
        return entity_id in self._entities

    def of_entry(self, entry_id: str) -> list[Entity]:
        return [
            e
            for e in self._entities.values()
            if e.entry is not None and e.entry.entry_id == entry_id
        ]

    async def add(self, entry: ConfigEntry[Any], entities: Iterable[Entity]) -> list[Entity]:
        """Make ``entities`` live for ``entry``; returns those added (not disabled)."""
        host = self._host
        added: list[Entity] = []
        for entity in entities:
            domain = entity.platform_domain
            if not domain:
                raise GatehouseError(f"{type(entity).__name__} is not a platform entity")
            device_id = None
            if entity.device_info:
                device_id = host.device_registry.get_or_create(
                    entry.entry_id, entity.device_info
                ).id
            suggested = entity.name or (entity.unique_id or "unnamed")
            if entity.unique_id is not None:
                description = entity.entity_description
                reg = host.entity_registry.get_or_create(
                    domain,
                    entry.domain,
                    entity.unique_id,
                    suggested_object_id=f"{_device_prefix(entity)}{suggested}",
                    config_entry_id=entry.entry_id,
                    device_id=device_id,
                    original_name=cap_name(entity.name),
                    disabled_by=(
                        DISABLED_INTEGRATION
                        if description is not None and not description.enabled_by_default
                        else None
                    ),
                )
                if reg.disabled:
                    continue
                entity.registry_entry = reg
                entity_id = reg.entity_id
            else:
                entity_id = host.entity_registry.free_entity_id(domain, suggested)
            if entity_id in self._entities:
                _LOGGER.error(
                    "%s: entity %s exists already (duplicate unique_id?); skipping",
                    entry.domain, entity_id,
                )
                continue
            entity.host, entity.entry, entity.entity_id = host, entry, entity_id
            self._entities[entity_id] = entity
            entry.on_unload(_Remover(self, entity))
            await entity.added_to_host()
            entity.write_state()
            added.append(entity)
        return added

    async def remove(self, entity: Entity) -> None:
        """Take an entity out of the host (its state disappears)."""
        entity_id = entity.entity_id
        if entity_id is None or self._entities.get(entity_id) is not entity:
            return
        try:
            await entity.will_remove_from_host()
        finally:
            del self._entities[entity_id]
            self._host.states.remove(entity_id)
            entity.host = None
            entity.entity_id = None

    def _registry_updated(self, event: Event[Any]) -> None:
        data = event.data
        if data.get("action") != "update":
            return
        old_id = data["old_entity_id"]
        entity = self._entities.get(old_id)
        if entity is None:
            return
        reg = self._host.entity_registry.get(data["entity_id"])
        if reg is None:
            return
        entity.registry_entry = reg
        if reg.disabled:
            self._host.spawn(self.remove(entity), f"disable {old_id}")
            return
        if reg.entity_id != old_id:
            del self._entities[old_id]
            self._host.states.remove(old_id)
            entity.entity_id = reg.entity_id
            self._entities[reg.entity_id] = entity
        entity.write_state()


class _Remover:
    """The undo an entry runs for each of its entities (a class for a readable repr)."""

    def __init__(self, manager: EntityManager, entity: Entity) -> None:
        self._manager = manager
        self._entity = entity

    async def __call__(self) -> None:
        await self._manager.remove(self._entity)

    def __repr__(self) -> str:
        return f"<remove {self._entity!r}>"


def _device_prefix(entity: Entity) -> str:
    """Entity ids read ``sensor.<device>_<name>`` when the entity belongs to a device."""
    info = entity.device_info
    if info and info.get("name") and entity.name and not entity.name.startswith(info["name"]):
        return f"{info['name']} "
    return ""
