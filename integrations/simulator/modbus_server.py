"""The plant (``ProcessModel``) as a Modbus TCP server, plus a block of typed test data.

Register map of every slave (unit ids ``1..slaves``), protocol addresses 0-based::

    input registers   0-1   tank level      float32 %, big-endian (ABCD)
                      2-3   temperature     float32 °C
                      4-5   model steps     uint32 (counts up while the model runs)
                      100.. EXTRA block     100 registers of mixed types (below)
    holding registers 0     valve setpoint  uint16 in tenths of % (425 = 42.5 %), 0..1000
                      100.. EXTRA block     same layout as the input copy, writable
    coils             0     pump on
                      1     heater on
    discrete inputs   0     high level alarm (tank >= 90 %)

The EXTRA block repeats five times a group of 20 registers: int16, uint16, int32,
uint32, float32, int64, float64 and an 8-character string, with values that depend on
the slave and the group (``extra_points``), so tests and benchmarks can check every
decoded value exactly.

How the model and the registers meet: pymodbus' ``SimDevice`` calls an ``action`` on
every access (its public hook). On reads the action copies the model's current values
into the registers being read; on writes it applies the new values to the model, and
refuses a valve setpoint above 100 % with ``IllegalDataValue`` like a real device
would. The model is the single source of truth; the registers are its view.
"""

from __future__ import annotations

import logging
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from pymodbus.constants import ExcCodes
from pymodbus.framer import FramerType
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from .process import ProcessModel

_LOGGER = logging.getLogger(__name__)

# -- the map -------------------------------------------------------------------------------

IR_TANK_LEVEL: Final = 0
IR_TEMPERATURE: Final = 2
IR_STEPS: Final = 4
HR_VALVE_SETPOINT: Final = 0
COIL_PUMP: Final = 0
COIL_HEATER: Final = 1
DI_HIGH_LEVEL: Final = 0
VALVE_SCALE: Final = 10  # register units per %

EXTRA_START: Final = 100
EXTRA_GROUPS: Final = 5
EXTRA_GROUP_SIZE: Final = 20
EXTRA_SIZE: Final = EXTRA_GROUPS * EXTRA_GROUP_SIZE
TABLE_SIZE: Final = EXTRA_START + EXTRA_SIZE
BIT_TABLE_SIZE: Final = 16

#: Function codes by table, as the pymodbus action reports them.
_READ_INPUT, _READ_HOLDING, _READ_COILS, _READ_DISCRETE = 4, 3, 1, 2
_WRITE_COILS = (5, 15)
_WRITE_HOLDING = (6, 16, 22, 23)

#: (data type, struct format, registers) of the members of one EXTRA group, in order.
_GROUP_LAYOUT: Final[tuple[tuple[str, str, int], ...]] = (
    ("int16", "h", 1),
    ("uint16", "H", 1),
    ("int32", "i", 2),
    ("uint32", "I", 2),
    ("float32", "f", 2),
    ("int64", "q", 4),
    ("float64", "d", 4),
    ("string", "8s", 4),
)


@dataclass(frozen=True, slots=True)
class ExtraPoint:
    """One value of the EXTRA block: where it is, its type, its registers and value."""

    name: str
    address: int  # relative to EXTRA_START
    data_type: str
    count: int  # registers
    value: int | float | str
    registers: tuple[int, ...]


def _group_values(slave: int, group: int) -> tuple[int | float | str, ...]:
    return (
        -100 * (group + 1) - slave,
        1000 + 10 * group + slave,
        -100_000 * (group + 1) - slave,
        3_000_000_000 + group * 1000 + slave,
        0.25 * (group + 1) + slave,  # exact in float32
        -(2**40) - 1000 * group - slave,
        math.pi * (group + 1) + slave,
        f"S{slave:02d}G{group}OK",
    )


def extra_points(slave: int) -> list[ExtraPoint]:
    """The EXTRA block of ``slave``: 40 points, 100 registers, every type once per group."""
    points: list[ExtraPoint] = []
    for group in range(EXTRA_GROUPS):
        address = group * EXTRA_GROUP_SIZE
        for (data_type, fmt, count), value in zip(
            _GROUP_LAYOUT, _group_values(slave, group), strict=True
        ):
            packed = struct.pack(f">{fmt}", value.encode() if isinstance(value, str) else value)
            registers = tuple(
                int.from_bytes(packed[i : i + 2], "big") for i in range(0, len(packed), 2)
            )
            points.append(
                ExtraPoint(f"g{group}_{data_type}", address, data_type, count, value, registers)
            )
            address += count
    return points


def extra_registers(slave: int) -> list[int]:
    return [r for p in extra_points(slave) for r in p.registers]


def _float32(value: float) -> list[int]:
    packed = struct.pack(">f", value)
    return [int.from_bytes(packed[0:2], "big"), int.from_bytes(packed[2:4], "big")]


# -- the server ------------------------------------------------------------------------------


class ProcessModbusServer:
    """A pymodbus TCP server whose slaves all show ``process`` (see the module docstring)."""

    def __init__(
        self,
        process: ProcessModel,
        host: str = "127.0.0.1",
        port: int = 5020,
        *,
        slaves: int = 1,
        framer: FramerType = FramerType.SOCKET,
    ) -> None:
        self.process = process
        self.host = host
        self.port = port
        self.slaves = slaves
        self.framer = framer
        self.requests = 0
        self._server: ModbusTcpServer | None = None

    def _device(self, slave: int) -> SimDevice:
        words = [0] * EXTRA_START + extra_registers(slave)

        def bits() -> list[SimData]:
            return [SimData(0, count=BIT_TABLE_SIZE, values=False, datatype=DataType.BITS)]

        return SimDevice(
            id=slave,
            simdata=(
                bits(),
                bits(),
                [SimData(0, values=list(words), datatype=DataType.REGISTERS)],
                [SimData(0, values=list(words), datatype=DataType.REGISTERS)],
            ),
            action=self._action,
        )

    async def _action(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        """Sync the model and the registers on every access (pymodbus' SimDevice hook)."""
        self.requests += 1
        if set_values is not None:
            return self._apply_write(function_code, address, set_values)
        p = self.process
        if function_code == _READ_INPUT:
            _put(registers, start_address, IR_TANK_LEVEL, _float32(p.tank_level))
            _put(registers, start_address, IR_TEMPERATURE, _float32(p.temperature))
            steps = p.steps & 0xFFFFFFFF
            _put(registers, start_address, IR_STEPS, [steps >> 16, steps & 0xFFFF])
        elif function_code == _READ_HOLDING:
            valve = round(min(100.0, max(0.0, p.valve_setpoint)) * VALVE_SCALE)
            _put(registers, start_address, HR_VALVE_SETPOINT, [valve])
        elif function_code == _READ_COILS:
            _put_bit(registers, start_address, COIL_PUMP, p.pump_on)
            _put_bit(registers, start_address, COIL_HEATER, p.heater_on)
        elif function_code == _READ_DISCRETE:
            _put_bit(registers, start_address, DI_HIGH_LEVEL, p.high_level_alarm)
        return None

    def _apply_write(
        self, function_code: int, address: int, values: Sequence[int | bool]
    ) -> ExcCodes | None:
        p = self.process
        if function_code in _WRITE_COILS:
            for offset, value in enumerate(values):
                if address + offset == COIL_PUMP:
                    p.pump_on = bool(value)
                elif address + offset == COIL_HEATER:
                    p.heater_on = bool(value)
        elif function_code in _WRITE_HOLDING:
            offset = HR_VALVE_SETPOINT - address
            if 0 <= offset < len(values):
                raw = int(values[offset])
                if raw > 100 * VALVE_SCALE:
                    return ExcCodes.ILLEGAL_VALUE
                p.valve_setpoint = raw / VALVE_SCALE
        return None

    async def start(self) -> None:
        """Listen; raises ``OSError`` when the address cannot be bound."""
        server = ModbusTcpServer(
            [self._device(s) for s in range(1, self.slaves + 1)],
            framer=self.framer,
            address=(self.host, self.port),
        )
        try:
            await server.serve_forever(background=True)
        except RuntimeError as err:  # pymodbus' way of saying "could not listen"
            await server.shutdown()  # type: ignore[no-untyped-call]
            raise OSError(f"cannot listen on {self.host}:{self.port}") from err
        self._server = server
        _LOGGER.info(
            "Modbus simulator listening on %s:%s (%d slave(s))", self.host, self.port, self.slaves
        )

    async def stop(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            await server.shutdown()  # type: ignore[no-untyped-call]


def _put(registers: list[int], start: int, address: int, values: Sequence[int]) -> None:
    """Write ``values`` at protocol ``address`` into a block that begins at ``start``."""
    for offset, value in enumerate(values):
        index = address + offset - start
        if 0 <= index < len(registers):
            registers[index] = value


def _put_bit(registers: list[int], start: int, address: int, on: bool) -> None:
    """Set one bit of a bit table (pymodbus packs 16 bits per register, bit 0 first)."""
    reg, bit = divmod(address, 16)
    index = reg - start
    if 0 <= index < len(registers):
        registers[index] = registers[index] | (1 << bit) if on else registers[index] & ~(1 << bit)
