"""Home Assistant's template functions that read the host: states and registries.

``is_state``, ``state_attr``, ``is_state_attr``, ``has_value`` and ``expand`` read the
state machine through ``AllStates.lookup``, so they record what they read (see
``states.py``). The ``area_*``/``device_*`` functions read the registries: entities and
devices carry an ``area_id``; there is no area registry, so an area's name is its id
and the areas are the ids in use. Registries are not tracked (Home Assistant does not
either): a template re-renders when a state it read changes.

Every function takes one budget step per item it walks (the registries and groups can
be large), on top of the step of the call itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Final

from ..const import STATE_UNAVAILABLE, STATE_UNKNOWN
from ..device_registry import DeviceEntry
from ..states import State, valid_entity_id
from .budget import TemplateError, active_budget
from .states import AllStates, TemplateState, collect_entity, state_of

if TYPE_CHECKING:
    from ..host import Host

_DEVICE_FIELDS: Final = frozenset(f.name for f in dataclasses.fields(DeviceEntry))


class HomeFunctions:
    """The host-reading functions of one engine (module docstring)."""

    def __init__(self, host: Host, states: AllStates) -> None:
        self._host = host
        self._states = states

    def globals(self) -> dict[str, Callable[..., Any]]:
        return {
            "is_state": self.is_state,
            "state_attr": self.state_attr,
            "is_state_attr": self.is_state_attr,
            "has_value": self.has_value,
            "expand": self.expand,
            "areas": self.areas,
            "area_id": self.area_id,
            "area_name": self.area_name,
            "area_entities": self.area_entities,
            "area_devices": self.area_devices,
            "device_id": self.device_id,
            "device_attr": self.device_attr,
            "is_device_attr": self.is_device_attr,
            "device_entities": self.device_entities,
            "integration_entities": self.integration_entities,
        }

    #: Globals that are also filters (as in Home Assistant).
    FILTERS: Final = (
        "state_attr", "has_value", "expand", "area_id", "area_name", "area_entities",
        "area_devices", "device_id", "device_attr", "device_entities",
        "integration_entities",
    )
    #: Globals that are also tests.
    TESTS: Final = ("is_state", "is_state_attr", "has_value", "is_device_attr")

    # -- states ------------------------------------------------------------------------

    def _state(self, entity: Any) -> State | None:
        if isinstance(entity, TemplateState | State):
            return state_of(entity)
        template_state = self._states.lookup(str(entity))
        return None if template_state is None else state_of(template_state)

    def is_state(self, entity_id: Any, state: Any) -> bool:
        current = self._state(entity_id)
        if current is None:
            return False
        if isinstance(state, str):
            return current.state == state
        return isinstance(state, Iterable) and current.state in state

    def state_attr(self, entity_id: Any, name: str) -> Any:
        current = self._state(entity_id)
        return None if current is None else current.attributes.get(name)

    def is_state_attr(self, entity_id: Any, name: str, value: Any) -> bool:
        attr = self.state_attr(entity_id, name)
        return attr is not None and attr == value

    def has_value(self, entity_id: Any) -> bool:
        current = self._state(entity_id)
        return current is not None and current.state not in (STATE_UNAVAILABLE, STATE_UNKNOWN)

    def expand(self, *args: Any) -> list[TemplateState]:
        """Entities, states and lists of them, groups (an ``entity_id`` list attribute
        on a ``group.*`` state) replaced by their members; sorted, each once."""
        budget = active_budget()
        search: list[Any] = list(args)
        found: dict[str, State] = {}
        seen_groups: set[str] = set()
        while search:
            budget.step()
            item = search.pop()
            if isinstance(item, str):
                if not valid_entity_id(item):
                    continue
                state = self._state(item)
            elif isinstance(item, TemplateState | State):
                state = state_of(item)
            elif isinstance(item, Iterable):
                search.extend(item)
                continue
            else:
                continue
            if state is None:
                continue
            members = state.attributes.get("entity_id")
            if state.domain == "group" and members is not None:
                collect_entity(state.entity_id)
                if state.entity_id not in seen_groups:
                    seen_groups.add(state.entity_id)
                    search.extend([members] if isinstance(members, str) else members)
                continue
            collect_entity(state.entity_id)
            found[state.entity_id] = state
        return [TemplateState(found[key], collect=False) for key in sorted(found)]

    # -- registries --------------------------------------------------------------------

    def _entries(self) -> list[Any]:
        return self._host.entity_registry.entities()

    def _devices(self) -> list[DeviceEntry]:
        return self._host.device_registry.devices()

    def areas(self) -> list[str]:
        """The area ids in use (by devices or entities), sorted."""
        budget = active_budget()
        found: set[str] = set()
        for device in self._devices():
            budget.step()
            if device.area_id:
                found.add(device.area_id)
        for entry in self._entries():
            budget.step()
            if entry.area_id:
                found.add(entry.area_id)
        return sorted(found)

    def _entity_area(self, entity_id: str) -> str | None:
        entry = self._host.entity_registry.get(entity_id)
        if entry is None:
            return None
        if entry.area_id:
            return str(entry.area_id)
        if entry.device_id:
            device = self._host.device_registry.get(entry.device_id)
            if device is not None and device.area_id:
                return device.area_id
        return None

    def area_id(self, lookup: Any) -> str | None:
        """The area of an area id/name, an entity or a device; None if none."""
        if not isinstance(lookup, str):
            return None
        if lookup in self.areas():
            return lookup
        if valid_entity_id(lookup):
            area = self._entity_area(lookup)
            if area is not None:
                return area
        device = self._host.device_registry.get(lookup)
        return device.area_id if device is not None else None

    def area_name(self, lookup: Any) -> str | None:
        return self.area_id(lookup)

    def area_entities(self, area: Any) -> list[str]:
        """Entities placed in ``area``, then those of its devices that name no area."""
        area_id = self.area_id(area)
        if area_id is None:
            return []
        budget = active_budget()
        entries = self._entries()
        found = []
        for entry in entries:
            budget.step()
            if entry.area_id == area_id:
                found.append(entry.entity_id)
        devices = set(self.area_devices(area_id))
        for entry in entries:
            budget.step()
            if entry.area_id is None and entry.device_id in devices:
                found.append(entry.entity_id)
        return found

    def area_devices(self, area: Any) -> list[str]:
        area_id = self.area_id(area)
        if area_id is None:
            return []
        budget = active_budget()
        found = []
        for device in self._devices():
            budget.step()
            if device.area_id == area_id:
                found.append(device.id)
        return found

    def device_id(self, lookup: Any) -> str | None:
        """The device of an entity, or the device of that name."""
        if not isinstance(lookup, str):
            return None
        if valid_entity_id(lookup):
            entry = self._host.entity_registry.get(lookup)
            if entry is not None:
                return entry.device_id
        budget = active_budget()
        for device in self._devices():
            budget.step()
            if lookup in (device.name_by_user, device.name):
                return device.id
        return None

    def _device(self, device_or_entity_id: Any) -> DeviceEntry | None:
        if not isinstance(device_or_entity_id, str):
            return None
        device_id: str | None = device_or_entity_id
        if valid_entity_id(device_or_entity_id):
            entry = self._host.entity_registry.get(device_or_entity_id)
            device_id = entry.device_id if entry is not None else None
        return self._host.device_registry.get(device_id) if device_id else None

    def device_attr(self, device_or_entity_id: Any, attr_name: str) -> Any:
        if attr_name not in _DEVICE_FIELDS:
            raise TemplateError(f"Invalid device attribute {attr_name!r}")
        device = self._device(device_or_entity_id)
        return None if device is None else getattr(device, attr_name)

    def is_device_attr(self, device_or_entity_id: Any, attr_name: str, value: Any) -> bool:
        return bool(self.device_attr(device_or_entity_id, attr_name) == value)

    def device_entities(self, device_id: Any) -> list[str]:
        budget = active_budget()
        found = []
        for entry in self._entries():
            budget.step()
            if entry.device_id == device_id:
                found.append(entry.entity_id)
        return found

    def integration_entities(self, integration: Any) -> list[str]:
        budget = active_budget()
        found = []
        for entry in self._entries():
            budget.step()
            if entry.platform == integration:
                found.append(entry.entity_id)
        return found
