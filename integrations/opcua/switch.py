"""OPC UA switches: a node written true/false (converted to its DataType).

The server reports the node back (subscription or poll), so the state is not assumed;
a write it accepted still shows at once, and the next reading confirms it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gatehouse.core import SwitchEntity

from .entity import NodeDescription, OpcuaEntity, as_bool, shared_fields


@dataclass(frozen=True, kw_only=True)
class OpcuaSwitchDescription(NodeDescription):
    """One switch node as data: the shared fields say it all."""


class OpcuaSwitch(OpcuaEntity, SwitchEntity):
    entity_description: OpcuaSwitchDescription

    def _set_value(self, value: Any) -> None:
        self._attr_is_on = as_bool(value)

    async def switch_to(self, on: bool) -> None:
        await self._write(on)


def describe(node: Mapping[str, Any]) -> OpcuaSwitchDescription:
    """The description of one validated ``nodes:`` item with ``platform: switch``."""
    return OpcuaSwitchDescription(**shared_fields(node))
