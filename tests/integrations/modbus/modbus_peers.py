"""Real Modbus peers for the tests: pymodbus servers on loopback, and a fault proxy.

Never a mock: the integration talks to a pymodbus server over a real socket (or a
real pty for serial). The server's slaves are pymodbus ``SimDevice``s whose ``action``
hook (the public way to touch a simulated device) gives the test three controls:

* ``set_registers``/``set_bits``: values the test wants the slave to hold; they are
  copied into the device's memory on its next access (input registers and discrete
  inputs cannot be written over the protocol);
* ``dead``: slaves that stop answering (the action raises ``NoSuchIdException`` and the
  server is told to ignore missing devices, so nothing is sent back: a real silence);
* ``writes``: every write request the slave received, for asserting what was sent.

``FaultProxy`` sits between client and server and spoils the replies of chosen slaves
(truncated or with a wrong transaction id), which is how bad frames are produced.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pymodbus.exceptions import NoSuchIdException
from pymodbus.framer import FramerType
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from gatehouse.core.testing import LOOPBACK, free_port

#: Function code -> table letter, as pymodbus' simulator names them.
_TABLE = {1: "c", 5: "c", 15: "c", 2: "d", 3: "h", 6: "h", 16: "h", 22: "h", 23: "h", 4: "i"}

#: Size of each table of every test slave (addresses 0..SIZE-1 are valid).
SIZE = 512


@dataclass
class SlaveImage:
    """What the test wants one slave to hold, and what was written to it."""

    pending: dict[str, dict[int, int | bool]] = field(
        default_factory=lambda: {"c": {}, "d": {}, "h": {}, "i": {}}
    )
    writes: list[tuple[int, int, list[Any]]] = field(default_factory=list)
    accesses: int = 0


class ModbusPeer:
    """A pymodbus TCP (or RTU-over-TCP, or serial RTU) server with test controls."""

    def __init__(
        self,
        slaves: Sequence[int] = (1,),
        *,
        framer: FramerType = FramerType.SOCKET,
        port: int | None = None,
        serial_port: str | None = None,
    ) -> None:
        self.slaves = {s: SlaveImage() for s in slaves}
        self.dead: set[int] = set()
        self.framer = framer
        self.host = LOOPBACK
        self.port = port if port is not None else free_port()
        self.serial_port = serial_port
        self._server: ModbusTcpServer | ModbusSerialServer | None = None

    # -- controls --------------------------------------------------------------------

    def set_registers(self, slave: int, address: int, values: Sequence[int], *,
                      table: str = "h") -> None:
        for offset, value in enumerate(values):
            self.slaves[slave].pending[table][address + offset] = int(value)

    def set_bits(self, slave: int, address: int, values: Sequence[bool], *,
                 table: str = "c") -> None:
        for offset, value in enumerate(values):
            self.slaves[slave].pending[table][address + offset] = bool(value)

    # -- lifecycle -------------------------------------------------------------------

    def _device(self, slave: int) -> SimDevice:
        def bits() -> list[SimData]:
            return [SimData(0, count=SIZE, values=False, datatype=DataType.BITS)]

        def words() -> list[SimData]:
            return [SimData(0, count=SIZE, values=0, datatype=DataType.REGISTERS)]

        return SimDevice(
            id=slave,
            simdata=(bits(), bits(), words(), words()),  # coils, inputs, holding, input regs
            action=self._action_for(slave),
        )

    def _action_for(self, slave: int) -> Any:
        image = self.slaves[slave]

        async def action(
            function_code: int,
            start_address: int,
            address: int,
            count: int,
            registers: list[int],
            set_values: list[int] | list[bool] | None,
        ) -> None:
            if slave in self.dead:
                raise NoSuchIdException(f"slave {slave} is dead for this test")
            image.accesses += 1
            table = _TABLE[function_code]
            pending = image.pending[table]
            for addr, value in list(pending.items()):
                if table in "cd":  # bit tables: 16 bits per register, bit 0 first
                    reg, bit = divmod(addr, 16)
                    index = reg - start_address
                    mask = 1 << bit
                    registers[index] = (registers[index] | mask) if value else (
                        registers[index] & ~mask)
                else:
                    registers[addr - start_address] = int(value)
            pending.clear()
            if set_values is not None:
                image.writes.append((function_code, address, list(set_values)))

        return action

    async def start(self) -> None:
        devices = [self._device(s) for s in self.slaves]
        if self.serial_port is not None:
            self._server = ModbusSerialServer(
                devices, framer=FramerType.RTU, port=self.serial_port, baudrate=115200,
                ignore_missing_devices=True,
            )
        else:
            self._server = ModbusTcpServer(
                devices, framer=self.framer, address=(self.host, self.port),
                ignore_missing_devices=True,
            )
        await self._server.serve_forever(background=True)

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.shutdown()  # type: ignore[no-untyped-call]
            self._server = None
            await asyncio.sleep(0)  # let the transports finish closing


class FaultProxy:
    """A TCP proxy (MBAP framing) that spoils replies for the slaves in ``spoil``.

    ``mode`` ``"short"`` keeps the frame well formed but drops the last register of
    every read reply (the client must notice the count); ``"tid"`` changes the
    transaction id, so the client's framer discards the reply and the request ends in
    silence although bytes arrived.
    """

    def __init__(self, target_port: int, *, mode: str = "short") -> None:
        self.target_port = target_port
        self.port = free_port()
        self.mode = mode
        self.spoil: set[int] = set()
        self.spoiled = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, LOOPBACK, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            for task in list(self._tasks):
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        up_reader, up_writer = await asyncio.open_connection(LOOPBACK, self.target_port)
        try:
            while True:
                request = await _read_mbap(reader)
                if request is None:
                    return
                up_writer.write(request)
                reply = await _read_mbap(up_reader)
                if reply is None:
                    return
                if reply[6] in self.spoil:
                    reply = self._spoiled(reply)
                writer.write(reply)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self._tasks.discard(task)
            for w in (writer, up_writer):
                w.close()

    def _spoiled(self, reply: bytes) -> bytes:
        self.spoiled += 1
        if self.mode == "tid":
            tid = (int.from_bytes(reply[0:2], "big") + 1000) & 0xFFFF
            return tid.to_bytes(2, "big") + reply[2:]
        function_code, byte_count = reply[7], reply[8] if len(reply) > 8 else 0
        if function_code in (3, 4) and byte_count >= 4:
            pdu = bytes([function_code, byte_count - 2]) + reply[9 : 9 + byte_count - 2]
            return reply[0:4] + (len(pdu) + 1).to_bytes(2, "big") + reply[6:7] + pdu
        return reply


async def _read_mbap(reader: asyncio.StreamReader) -> bytes | None:
    try:
        header = await reader.readexactly(7)
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    length = int.from_bytes(header[4:6], "big")
    body = await reader.readexactly(length - 1)
    return header + body
