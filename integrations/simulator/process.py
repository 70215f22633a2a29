"""A small simulated process: a tank filled through a valve, emptied by a pump, heated.

Shared by the Modbus and OPC UA simulators so that both show the same plant. Pure and
deterministic for a given sequence of ``step`` calls (tests step it by hand); the
simulators step it on a timer.

Physics, deliberately simple:
* inflow  (%/s) = valve_setpoint / 100 * INFLOW_MAX
* outflow (%/s) = PUMP_RATE if pump_on and tank_level > 0
* temperature relaxes toward a set point that rises with the heater and falls with inflow
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

INFLOW_MAX = 2.0  # % of tank per second with the valve fully open
PUMP_RATE = 1.5  # % of tank per second while the pump runs
AMBIENT = 15.0  # °C
HEATER_TARGET = 60.0  # °C


@dataclass
class ProcessModel:
    """State of the plant. Writable inputs: ``pump_on``, ``valve_setpoint``, ``heater_on``."""

    tank_level: float = 50.0  # % 0..100
    temperature: float = 20.0  # °C
    pump_on: bool = False
    heater_on: bool = True
    valve_setpoint: float = 30.0  # % 0..100
    high_level_alarm: bool = False
    elapsed: float = 0.0
    steps: int = 0
    listeners: list[object] = field(default_factory=list, repr=False)

    def step(self, dt: float) -> None:
        """Advance the process by ``dt`` seconds."""
        valve = min(100.0, max(0.0, self.valve_setpoint))
        inflow = valve / 100.0 * INFLOW_MAX
        outflow = PUMP_RATE if self.pump_on and self.tank_level > 0 else 0.0
        self.tank_level = min(100.0, max(0.0, self.tank_level + (inflow - outflow) * dt))
        target = (HEATER_TARGET if self.heater_on else AMBIENT) - inflow * 5.0
        # First-order lag with a 30 s time constant, plus a small ripple so it looks alive.
        self.temperature += (target - self.temperature) * (1 - math.exp(-dt / 30.0))
        self.temperature += 0.05 * math.sin(self.elapsed / 7.0) * dt
        self.high_level_alarm = self.tank_level >= 90.0
        self.elapsed += dt
        self.steps += 1

    def snapshot(self) -> dict[str, float | bool]:
        return {
            "tank_level": round(self.tank_level, 3),
            "temperature": round(self.temperature, 3),
            "pump_on": self.pump_on,
            "heater_on": self.heater_on,
            "valve_setpoint": round(self.valve_setpoint, 3),
            "high_level_alarm": self.high_level_alarm,
        }
