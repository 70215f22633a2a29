"""Gatehouse core: the public surface for integration authors.

Integrations import from here only (``from gatehouse.core import Host, hookimpl``);
everything else in ``gatehouse.core`` is internal and may change. A test keeps
``__all__`` honest.
"""

from .bus import MATCH_ALL, Event, EventBus, EventType, Unsubscribe
from .config_entries import (
    ConfigEntries,
    ConfigEntry,
    ConfigEntryState,
    Source,
)
from .config_flow import (
    ConfigFlow,
    EntityListOptionsFlow,
    FlowResult,
    MenuOptionsFlow,
    OptionsFlow,
)
from .const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE, STATE_UNKNOWN, __version__
from .context import Context
from .device_registry import (
    EVENT_DEVICE_REGISTRY_UPDATED,
    DeviceEntry,
    DeviceInfo,
    DeviceRegistry,
)
from .entity import Entity, EntityDescription
from .entity_registry import EVENT_ENTITY_REGISTRY_UPDATED, EntityRegistry, RegistryEntry
from .exceptions import (
    AbortFlow,
    ConfigEntryAuthFailed,
    ConfigEntryError,
    ConfigEntryNotReady,
    GatehouseError,
    ServiceNotFound,
    ServiceValidationError,
    StoreTooNewError,
)
from .hookspecs import hookimpl
from .host import Host, HostState
from .integration import Integration, YamlEntry, entries_by_name
from .keys import HostKey
from .loaded_entries import LoadedEntries
from .platforms import (
    BinarySensorEntity,
    ButtonEntity,
    NumberEntity,
    SensorEntity,
    SensorEntityDescription,
    SwitchEntity,
    ToggleEntity,
)
from .services import ServiceCall, ServiceRegistry, SupportsResponse
from .states import EVENT_STATE_CHANGED, State, StateChangedData, StateMachine

__all__ = [
    "EVENT_DEVICE_REGISTRY_UPDATED",
    "EVENT_ENTITY_REGISTRY_UPDATED",
    "EVENT_STATE_CHANGED",
    "MATCH_ALL",
    "STATE_OFF",
    "STATE_ON",
    "STATE_UNAVAILABLE",
    "STATE_UNKNOWN",
    "AbortFlow",
    "BinarySensorEntity",
    "ButtonEntity",
    "ConfigEntries",
    "ConfigEntry",
    "ConfigEntryAuthFailed",
    "ConfigEntryError",
    "ConfigEntryNotReady",
    "ConfigEntryState",
    "ConfigFlow",
    "Context",
    "DeviceEntry",
    "DeviceInfo",
    "DeviceRegistry",
    "Entity",
    "EntityDescription",
    "EntityListOptionsFlow",
    "EntityRegistry",
    "Event",
    "EventBus",
    "EventType",
    "FlowResult",
    "GatehouseError",
    "Host",
    "HostKey",
    "HostState",
    "Integration",
    "LoadedEntries",
    "MenuOptionsFlow",
    "NumberEntity",
    "OptionsFlow",
    "RegistryEntry",
    "SensorEntity",
    "SensorEntityDescription",
    "ServiceCall",
    "ServiceNotFound",
    "ServiceRegistry",
    "ServiceValidationError",
    "Source",
    "State",
    "StateChangedData",
    "StateMachine",
    "StoreTooNewError",
    "SupportsResponse",
    "SwitchEntity",
    "ToggleEntity",
    "Unsubscribe",
    "YamlEntry",
    "__version__",
    "entries_by_name",
    "hookimpl",
]
