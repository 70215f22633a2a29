"""What a loaded modbus entry holds: its hub (the line) and the coordinator polling it."""

from __future__ import annotations

from dataclasses import dataclass

from .client import ModbusHub
from .coordinator import HubCoordinator


@dataclass(frozen=True, slots=True)
class ModbusRuntime:
    """A loaded hub (``entry.runtime_data``); the services find it by ``hub.name``."""

    hub: ModbusHub
    coordinator: HubCoordinator

    @property
    def name(self) -> str:
        return self.hub.name
