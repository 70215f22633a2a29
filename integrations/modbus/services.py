"""``modbus.write_register`` and ``modbus.write_coil``: raw writes for automations.

The registry validates the data against the schemas below before a handler runs, so a
bad address or value is refused with the field named. Device refusals come back as
``ModbusDeviceError`` whose message names the exception code the way device manuals do
(``IllegalDataAddress``), plus slave, hub and address.

The services exist while at least one hub is loaded: the first hub registers them,
the last one to unload removes them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import voluptuous as vol

from gatehouse.core import (
    ConfigEntry,
    ConfigEntryError,
    Host,
    LoadedEntries,
    ServiceCall,
    ServiceValidationError,
)
from gatehouse.core.helpers import slugify

from .client import ModbusHub
from .const import DOMAIN, MAX_ADDRESS, MAX_WRITE_BITS, MAX_WRITE_REGISTERS
from .entity import ModbusEntity
from .runtime import ModbusRuntime

SERVICE_WRITE_REGISTER: Final = "write_register"
SERVICE_WRITE_COIL: Final = "write_coil"

ATTR_HUB: Final = "hub"
ATTR_SLAVE: Final = "slave"
ATTR_ADDRESS: Final = "address"
ATTR_VALUE: Final = "value"
ATTR_STATE: Final = "state"


def _register_value(value: Any) -> int:
    """A raw register: 0..65535, or -32768..-1 written as its two's complement."""
    if isinstance(value, bool):
        raise vol.Invalid("expected a register value, got a boolean")
    number = vol.Coerce(int)(value)
    if not -0x8000 <= number <= 0xFFFF:
        raise vol.Invalid(f"register value {number} is outside -32768..65535")
    return int(number) & 0xFFFF


_COMMON: dict[Any, Any] = {
    vol.Optional(ATTR_HUB): vol.All(str, vol.Length(min=1)),
    # Or an entity of the hub (HA's target): no hub name to know.
    **LoadedEntries.TARGET_FIELDS,
    # No default here: left out, it is the targeted entity's slave, else 1 (``_slave``).
    vol.Optional(ATTR_SLAVE): vol.All(vol.Coerce(int), vol.Range(min=0, max=255)),
    vol.Required(ATTR_ADDRESS): vol.All(vol.Coerce(int), vol.Range(min=0, max=MAX_ADDRESS)),
}

def _one_or_many(item: Any, most: int) -> Any:
    """One value, or a list of 1..``most`` of them (errors name the bad item)."""
    many = vol.Schema(vol.All([item], vol.Length(min=1, max=most)))
    one = vol.Schema(item)

    def validate(value: Any) -> Any:
        return many(value) if isinstance(value, list) else one(value)

    return validate


WRITE_REGISTER_SCHEMA = vol.Schema(
    {**_COMMON, vol.Required(ATTR_VALUE): _one_or_many(_register_value, MAX_WRITE_REGISTERS)}
)

WRITE_COIL_SCHEMA = vol.Schema(
    {**_COMMON, vol.Required(ATTR_STATE): _one_or_many(vol.Boolean(), MAX_WRITE_BITS)}
)


def _register_services(host: Host) -> list[Callable[[], None]]:
    """Registered with the first loaded hub, removed with the last (``LOADED``).

    Both are admin-only: they write any register of any slave, past the entities a user's
    policy names.
    """
    return [
        host.services.register(
            DOMAIN, SERVICE_WRITE_REGISTER, _handler(host, _write_register), WRITE_REGISTER_SCHEMA,
            admin_only=True,
        ),
        host.services.register(
            DOMAIN, SERVICE_WRITE_COIL, _handler(host, _write_coil), WRITE_COIL_SCHEMA,
            admin_only=True,
        ),
    ]


#: Loaded hubs by entry id; the services find them by hub name.
LOADED: LoadedEntries[ModbusRuntime] = LoadedEntries(DOMAIN, _register_services)


def attach_hub(host: Host, entry: ConfigEntry[ModbusRuntime], runtime: ModbusRuntime) -> None:
    """Make the entry's hub reachable by the services until the entry unloads."""
    if any(loaded.name == runtime.name for loaded in LOADED.runtimes(host).values()):
        raise ConfigEntryError(f"a modbus hub named {runtime.name!r} is loaded already")
    LOADED.add(host, entry, runtime)


def _named(runtime: ModbusRuntime, wanted: str) -> bool:
    return wanted in (runtime.name, slugify(runtime.name))


def _find_hub(host: Host, call: ServiceCall) -> ModbusHub:
    """The hub named by ``hub`` (name or slug), else the targeted entity's, else the only one."""
    wanted = call.data.get(ATTR_HUB)
    loaded = LOADED.runtimes(host).values()
    if wanted is not None and not any(_named(runtime, wanted) for runtime in loaded):
        names = ", ".join(sorted(runtime.name for runtime in loaded))
        raise ServiceValidationError(
            DOMAIN, call.service, f"no modbus hub named {wanted!r}; loaded hubs: {names or 'none'}"
        )
    runtime = LOADED.pick(
        host, call, wanted, lambda _entry_id, runtime, name: _named(runtime, name), param="hub"
    )
    return runtime.hub


def _slave(host: Host, call: ServiceCall) -> int:
    """``slave`` as given, else the slave of the targeted entities, else 1.

    Someone who picked an entity of slave 3 means slave 3: writing to slave 1 because the
    field was left empty would hit another device.
    """
    if ATTR_SLAVE in call.data:
        return int(call.data[ATTR_SLAVE])
    slaves = sorted({
        entity.point.slave
        for entity_id in LOADED.target_entity_ids(call)
        if isinstance(entity := host.entities.get(entity_id), ModbusEntity)
    })
    if len(slaves) > 1:
        raise ServiceValidationError(
            DOMAIN, call.service,
            f"the target entities are on slaves {', '.join(map(str, slaves))}; pass slave",
        )
    return slaves[0] if slaves else 1


def _handler(host: Host, action: Callable[[ModbusHub, ServiceCall, int], Any]) -> Any:
    async def handle(call: ServiceCall) -> None:
        await action(_find_hub(host, call), call, _slave(host, call))

    return handle


async def _write_register(hub: ModbusHub, call: ServiceCall, slave: int) -> None:
    value = call.data[ATTR_VALUE]
    values = value if isinstance(value, list) else [value]
    await hub.write_registers(slave, call.data[ATTR_ADDRESS], values)


async def _write_coil(hub: ModbusHub, call: ServiceCall, slave: int) -> None:
    state = call.data[ATTR_STATE]
    states = state if isinstance(state, list) else [state]
    await hub.write_coils(slave, call.data[ATTR_ADDRESS], states)
