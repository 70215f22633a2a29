"""Entities: an integration's objects that each own one entity_id and write its state.

An entity describes itself through ``_attr_*`` fields or an ``EntityDescription`` (a
frozen dataclass: one entity class serves every register of a Modbus device, say), and
calls ``write_state()`` when its value changes. The platform subclasses in
``gatehouse.core.platforms`` (sensor, binary_sensor, switch, number, button) define what
"the state" is for each kind of entity and which services act on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from .const import (
    ATTR_DEVICE_CLASS,
    ATTR_FRIENDLY_NAME,
    ATTR_ICON,
    ATTR_UNIT_OF_MEASUREMENT,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
)
from .device_registry import DeviceInfo
from .entity_registry import cap_name
from .exceptions import GatehouseError

if TYPE_CHECKING:
    from .config_entries import ConfigEntry
    from .context import Context
    from .entity_registry import RegistryEntry
    from .host import Host


@dataclass(frozen=True, kw_only=True)
class EntityDescription:
    """Static description of an entity; subclass it to add e.g. a ``value_fn``."""

    key: str
    name: str | None = None
    icon: str | None = None
    device_class: str | None = None
    unit_of_measurement: str | None = None
    entity_category: str | None = None
    enabled_by_default: bool = True


class Entity:
    """Base of all entities. Use a platform subclass, e.g. ``SensorEntity``."""

    #: The entity domain this class makes ("sensor"); set by each platform class.
    platform_domain: ClassVar[str] = ""

    entity_description: EntityDescription | None = None
    _attr_unique_id: str | None = None
    _attr_name: str | None = None
    _attr_available: bool = True
    _attr_device_info: DeviceInfo | None = None
    _attr_icon: str | None = None
    _attr_device_class: str | None = None
    _attr_extra_state_attributes: Mapping[str, Any] | None = None
    _attr_force_update: bool = False
    #: The context of the service call acting on this entity right now, if any.
    _call_context: Context | None = None

    #: Set when the entity is added to a host.
    host: Host | None = None
    entry: ConfigEntry[Any] | None = None
    entity_id: str | None = None
    registry_entry: RegistryEntry | None = None

    # -- description ---------------------------------------------------------------

    @property
    def unique_id(self) -> str | None:
        return self._attr_unique_id

    @property
    def name(self) -> str | None:
        if self._attr_name is not None:
            return self._attr_name
        if self.entity_description is not None:
            return self.entity_description.name or self.entity_description.key
        return None

    @property
    def available(self) -> bool:
        return self._attr_available

    @property
    def device_info(self) -> DeviceInfo | None:
        return self._attr_device_info

    @property
    def icon(self) -> str | None:
        if self._attr_icon is not None:
            return self._attr_icon
        return self.entity_description.icon if self.entity_description else None

    @property
    def device_class(self) -> str | None:
        if self._attr_device_class is not None:
            return self._attr_device_class
        return self.entity_description.device_class if self.entity_description else None

    @property
    def unit_of_measurement(self) -> str | None:
        return self.entity_description.unit_of_measurement if self.entity_description else None

    @property
    def extra_state_attributes(self) -> Mapping[str, Any] | None:
        return self._attr_extra_state_attributes

    @property
    def state(self) -> Any:
        """The state value; platforms override this."""
        return STATE_UNKNOWN

    def state_attributes(self) -> Mapping[str, Any] | None:
        """Platform-specific attributes (min/max of a number...)."""
        return None

    # -- lifecycle -----------------------------------------------------------------

    async def added_to_host(self) -> None:
        """Called after the entity got its entity_id, before its first state write.

        Subscribe to things here and register undos with ``self.on_remove``.
        """

    async def will_remove_from_host(self) -> None:
        """Called before the entity is removed (entry unload, disable)."""

    def on_remove(self, undo: Any) -> None:
        """Run ``undo`` when this entity is removed (or its entry unloads)."""
        if self.entry is None:
            raise GatehouseError("entity is not added to a host")
        self.entry.on_unload(undo)

    # -- writing -------------------------------------------------------------------

    def write_state(self, *, context: Context | None = None) -> None:
        """Compute state and attributes and hand them to the state machine."""
        host, entity_id = self.host, self.entity_id
        if host is None or entity_id is None:
            raise GatehouseError(f"{self!r} is not added to a host yet")
        attrs: dict[str, Any] = {}
        if not self.available:
            state: Any = STATE_UNAVAILABLE
        else:
            state = self.state
            if state is None:
                state = STATE_UNKNOWN
            platform_attrs = self.state_attributes()
            if platform_attrs:
                attrs.update(platform_attrs)
            extra = self.extra_state_attributes
            if extra:
                attrs.update(extra)
        unit = self.unit_of_measurement
        if unit is not None:
            attrs[ATTR_UNIT_OF_MEASUREMENT] = unit
        device_class = self.device_class
        if device_class is not None:
            attrs[ATTR_DEVICE_CLASS] = device_class
        icon = self.icon
        if icon is not None:
            attrs[ATTR_ICON] = icon
        friendly = self.friendly_name()
        if friendly:
            attrs[ATTR_FRIENDLY_NAME] = friendly
        host.states.set(
            entity_id,
            state,
            attrs,
            force_update=self._attr_force_update,
            context=context if context is not None else self._call_context,
        )

    def friendly_name(self) -> str | None:
        """The user's name from the registry, else the entity's own name (cut to
        ``MAX_NAME_LENGTH``: names come from devices)."""
        if self.registry_entry is not None and self.registry_entry.name:
            return self.registry_entry.name
        return cap_name(self.name)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.entity_id or self.unique_id or self.name}>"
