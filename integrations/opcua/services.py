"""The domain's services: ``opcua.write``, ``opcua.read`` and ``opcua.browse``.

They act on any node of a loaded server, not only configured ones (``browse`` is what a
node picker will use). With one server configured ``entry_id`` may be left out; with
several it picks the server, or a targeted entity of the server does (``entity_id``).
A value that does not fit the node's type, or a bad node id, is the caller's mistake
(``ServiceValidationError``); a server that is down or refuses is an ``OpcuaError``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import voluptuous as vol

from gatehouse.core import (
    Host,
    LoadedEntries,
    ServiceCall,
    ServiceValidationError,
    SupportsResponse,
)

from .browse import browse
from .config import node_id
from .const import DOMAIN
from .errors import OpcuaNodeError, OpcuaValueError
from .nodeid import parse_node
from .runtime import OpcuaRuntime
from .variants import to_json_value

ENTRY_ID = vol.Optional("entry_id")
SCALAR = vol.Any(bool, int, float, str)

#: Or an entity of the server (HA's target): its entry is the server to use.
TARGET = LoadedEntries.TARGET_FIELDS

WRITE_SCHEMA = vol.Schema({vol.Required("node"): node_id, vol.Required("value"): SCALAR,
                           ENTRY_ID: str, **TARGET})
READ_SCHEMA = vol.Schema({vol.Required("node"): node_id, ENTRY_ID: str, **TARGET})
BROWSE_SCHEMA = vol.Schema(
    {
        vol.Optional("node"): node_id,
        vol.Optional("depth", default=1): vol.All(int, vol.Range(min=1, max=5)),
        vol.Optional("limit", default=500): vol.All(int, vol.Range(min=1, max=5000)),
        ENTRY_ID: str,
        **TARGET,
    }
)


def _register_services(host: Host) -> list[Callable[[], None]]:
    """Registered with the first loaded entry, removed with the last (``LOADED``).

    All three are admin-only: they reach any node of the server, past the entities a
    user's policy names (read and browse would show what the policy hides).
    """
    return [
        host.services.register(
            DOMAIN, "write", _handler(host, _write), WRITE_SCHEMA, admin_only=True
        ),
        host.services.register(
            DOMAIN, "read", _handler(host, _read), READ_SCHEMA,
            supports_response=SupportsResponse.ONLY, admin_only=True,
        ),
        host.services.register(
            DOMAIN, "browse", _handler(host, _browse), BROWSE_SCHEMA,
            supports_response=SupportsResponse.ONLY, admin_only=True,
        ),
    ]


#: Loaded opcua entries by entry id; the services act on them.
LOADED: LoadedEntries[OpcuaRuntime] = LoadedEntries(DOMAIN, _register_services)


Action = Callable[[OpcuaRuntime, ServiceCall], Any]


def _handler(host: Host, action: Action) -> Callable[[ServiceCall], Any]:
    async def handle(call: ServiceCall) -> Any:
        runtime = _pick(host, call)
        try:
            return await action(runtime, call)
        except (OpcuaValueError, OpcuaNodeError) as err:
            raise ServiceValidationError(DOMAIN, call.service, str(err)) from err

    return handle


def _pick(host: Host, call: ServiceCall) -> OpcuaRuntime:
    return LOADED.pick(host, call, call.data.get("entry_id"))


async def _write(runtime: OpcuaRuntime, call: ServiceCall) -> None:
    await runtime.write(parse_node(call.data["node"]), call.data["value"])


async def _read(runtime: OpcuaRuntime, call: ServiceCall) -> dict[str, Any]:
    ref = parse_node(call.data["node"])
    reading, data_type = await runtime.connected_client().read(ref)
    return {
        "node": str(ref),
        "value": to_json_value(reading.value),
        "status": reading.status,
        "quality": reading.quality,
        "data_type": data_type,
        "source_timestamp": _iso(reading.source_timestamp),
        "server_timestamp": _iso(reading.server_timestamp),
    }


async def _browse(runtime: OpcuaRuntime, call: ServiceCall) -> dict[str, Any]:
    node = call.data.get("node")
    ref = parse_node(node) if node is not None else None
    return await browse(runtime.connected_client(), ref, call.data["depth"], call.data["limit"])


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
