"""OPC UA binary sensors: a node read as on/off (booleans, numbers, "true"/"on"...)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gatehouse.core import BinarySensorEntity

from .entity import NodeDescription, OpcuaEntity, as_bool, shared_fields


@dataclass(frozen=True, kw_only=True)
class OpcuaBinarySensorDescription(NodeDescription):
    """One binary sensor node as data: the shared fields say it all."""


class OpcuaBinarySensor(OpcuaEntity, BinarySensorEntity):
    entity_description: OpcuaBinarySensorDescription

    def _set_value(self, value: Any) -> None:
        self._attr_is_on = as_bool(value)


def describe(node: Mapping[str, Any]) -> OpcuaBinarySensorDescription:
    """The description of one validated ``nodes:`` item with ``platform: binary_sensor``."""
    return OpcuaBinarySensorDescription(**shared_fields(node))
