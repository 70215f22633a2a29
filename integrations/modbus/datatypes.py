"""Turning registers into values and back: types, byte and word order, scale and offset.

Modbus only knows 16-bit registers; everything wider is a convention of the device
maker. Two orders are in play and devices use all four combinations:

* **byte order** — the order of the two bytes *inside* each register;
* **word order** — the order of the registers of a multi-register value.

With value bytes ``A B C D`` (most significant first) a device sends registers
``AB CD`` (big/big, the Modbus default), ``CD AB`` (word little: "word swap"), ``BA DC``
(byte little: "byte swap") or ``DC BA`` (both little). Strings are character pairs and
only honour the byte order: reversing their registers would reverse the text.

Pure functions and a frozen ``Codec`` only (no I/O), so every conversion is tested
without a device.
"""

from __future__ import annotations

import enum
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from .errors import ModbusValueError

Value = int | float | str | bool


class DataType(enum.StrEnum):
    INT16 = "int16"
    UINT16 = "uint16"
    INT32 = "int32"
    UINT32 = "uint32"
    INT64 = "int64"
    UINT64 = "uint64"
    FLOAT16 = "float16"
    FLOAT32 = "float32"
    FLOAT64 = "float64"
    STRING = "string"

    @property
    def is_float(self) -> bool:
        return self in (DataType.FLOAT16, DataType.FLOAT32, DataType.FLOAT64)

    @property
    def is_integer(self) -> bool:
        return not self.is_float and self is not DataType.STRING


class Order(enum.StrEnum):
    BIG = "big"
    LITTLE = "little"


#: struct format character and register count of each fixed-size type.
_LAYOUT: Final[dict[DataType, tuple[str, int]]] = {
    DataType.INT16: ("h", 1),
    DataType.UINT16: ("H", 1),
    DataType.INT32: ("i", 2),
    DataType.UINT32: ("I", 2),
    DataType.INT64: ("q", 4),
    DataType.UINT64: ("Q", 4),
    DataType.FLOAT16: ("e", 1),
    DataType.FLOAT32: ("f", 2),
    DataType.FLOAT64: ("d", 4),
}


def _int_range(data_type: DataType) -> tuple[int, int]:
    bits = 16 * _LAYOUT[data_type][1]
    if data_type.value.startswith("u"):
        return 0, 2**bits - 1
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def register_count(data_type: DataType, count: int | None = None) -> int:
    """Registers one value of ``data_type`` occupies (``count`` for strings)."""
    if data_type is DataType.STRING:
        if count is None or count < 1:
            raise ModbusValueError("a string needs a register count of at least 1")
        return count
    return _LAYOUT[data_type][1]


def registers_to_bytes(
    registers: Sequence[int], byte_order: Order = Order.BIG, word_order: Order = Order.BIG
) -> bytes:
    """The value's bytes, most significant first, from registers as the device sent them."""
    regs = list(registers)
    if word_order is Order.LITTLE:
        regs.reverse()
    endian: Literal["big", "little"] = "big" if byte_order is Order.BIG else "little"
    try:
        return b"".join(int(r).to_bytes(2, endian) for r in regs)
    except OverflowError as err:
        raise ModbusValueError(f"register values must be 0..65535, got {regs}") from err


def bytes_to_registers(
    data: bytes, byte_order: Order = Order.BIG, word_order: Order = Order.BIG
) -> list[int]:
    """The inverse of ``registers_to_bytes``: registers to send for the value's bytes."""
    if len(data) % 2:
        raise ModbusValueError("register data must have an even number of bytes")
    endian: Literal["big", "little"] = "big" if byte_order is Order.BIG else "little"
    regs = [int.from_bytes(data[i : i + 2], endian) for i in range(0, len(data), 2)]
    if word_order is Order.LITTLE:
        regs.reverse()
    return regs


def get_bit(register: int, bit: int) -> bool:
    """Bit ``bit`` (0 = least significant) of a 16-bit register."""
    return bool((register >> bit) & 1)


def set_bit(register: int, bit: int, on: bool) -> int:
    """``register`` with bit ``bit`` set or cleared (read-modify-write of a flag word)."""
    return register | (1 << bit) if on else register & ~(1 << bit) & 0xFFFF


@dataclass(frozen=True, slots=True, kw_only=True)
class Codec:
    """How one point's registers become a value: type, orders, scale/offset, precision.

    ``value = raw * scale + offset``, rounded to ``precision`` decimals (``precision 0``
    gives an int). With ``bit`` set the point is one flag of a 16-bit register.
    """

    data_type: DataType = DataType.UINT16
    byte_order: Order = Order.BIG
    word_order: Order = Order.BIG
    scale: float = 1.0
    offset: float = 0.0
    precision: int | None = None
    count: int | None = None
    bit: int | None = None

    def __post_init__(self) -> None:
        register_count(self.data_type, self.count)  # validates strings' count
        if self.bit is not None and not 0 <= self.bit <= 15:
            raise ModbusValueError(f"bit must be 0..15, got {self.bit}")
        if self.scale == 0:
            raise ModbusValueError("scale must not be 0")

    @property
    def register_count(self) -> int:
        if self.bit is not None:
            return 1
        return register_count(self.data_type, self.count)

    @property
    def is_plain(self) -> bool:
        """True when no scale, offset or rounding changes the raw value."""
        return self.scale == 1 and self.offset == 0 and self.precision is None

    # -- decoding --------------------------------------------------------------------

    def raw(self, registers: Sequence[int]) -> int | float | str:
        """The unscaled value of ``registers`` (exactly ``register_count`` of them)."""
        if len(registers) != self.register_count:
            raise ModbusValueError(
                f"{self.data_type} needs {self.register_count} registers, got {len(registers)}"
            )
        if self.data_type is DataType.STRING:
            data = registers_to_bytes(registers, self.byte_order, Order.BIG)
            return data.rstrip(b"\x00 ").decode("utf-8", errors="replace")
        data = registers_to_bytes(registers, self.byte_order, self.word_order)
        fmt, _ = _LAYOUT[self.data_type]
        value: int | float = struct.unpack(f">{fmt}", data)[0]
        return value

    def decode(self, registers: Sequence[int]) -> Value | None:
        """The point's value; ``None`` for a float that is NaN or infinite (no reading)."""
        if self.bit is not None:
            word = registers_to_bytes(registers[:1], self.byte_order)
            return get_bit(int.from_bytes(word, "big"), self.bit)
        raw = self.raw(registers)
        if isinstance(raw, str):
            return raw
        if isinstance(raw, float) and not math.isfinite(raw):
            return None
        if self.is_plain:
            return raw
        value = raw * self.scale + self.offset
        if self.precision is None:
            return value
        if self.precision == 0:
            return round(value)
        return round(value, self.precision)

    # -- encoding --------------------------------------------------------------------

    def encode(self, value: Value) -> list[int]:
        """Registers that make the device hold ``value`` (the inverse of ``decode``).

        Raises ``ModbusValueError`` naming the type's range when the value does not fit.
        Bit points cannot be encoded alone (the other 15 bits are needed): use
        ``set_bit`` on the register read back from the device.
        """
        if self.bit is not None:
            raise ModbusValueError("a bit point is written with set_bit on the current register")
        if self.data_type is DataType.STRING:
            return self._encode_string(value)
        if isinstance(value, str) or not isinstance(value, (int, float)):
            raise ModbusValueError(f"{self.data_type} needs a number, got {value!r}")
        raw: float = (value - self.offset) / self.scale if not self.is_plain else value
        fmt, _ = _LAYOUT[self.data_type]
        if self.data_type.is_integer:
            as_int = round(raw)
            low, high = _int_range(self.data_type)
            if not low <= as_int <= high:
                raise ModbusValueError(
                    f"{value} is out of range for {self.data_type} ({low}..{high}"
                    f"{self._scaled_hint()})"
                )
            data = struct.pack(f">{fmt}", as_int)
        else:
            try:
                data = struct.pack(f">{fmt}", float(raw))
            except (OverflowError, struct.error) as err:
                raise ModbusValueError(
                    f"{value} is out of range for {self.data_type}{self._scaled_hint()}"
                ) from err
        return bytes_to_registers(data, self.byte_order, self.word_order)

    def _encode_string(self, value: Value) -> list[int]:
        if not isinstance(value, str):
            raise ModbusValueError(f"string needs text, got {value!r}")
        data = value.encode("utf-8")
        size = 2 * self.register_count
        if len(data) > size:
            raise ModbusValueError(f"{value!r} is longer than {size} bytes")
        return bytes_to_registers(data.ljust(size, b"\x00"), self.byte_order, Order.BIG)

    def _scaled_hint(self) -> str:
        if self.is_plain:
            return ""
        return f" before scale {self.scale:g} and offset {self.offset:g}"
