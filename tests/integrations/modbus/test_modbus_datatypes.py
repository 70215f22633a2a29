"""Register codecs: every type in every byte/word order, scale/offset/precision, errors."""

from __future__ import annotations

import itertools
import math

import pytest

from gatehouse.integrations.modbus.datatypes import (
    Codec,
    DataType,
    Order,
    get_bit,
    set_bit,
)
from gatehouse.integrations.modbus.errors import ModbusValueError

ORDERS = list(itertools.product(Order, Order))

#: Values at and near each type's edges (floats exactly representable in the type).
SAMPLES: list[tuple[DataType, int | float]] = [
    (DataType.INT16, -32768), (DataType.INT16, -1), (DataType.INT16, 32767),
    (DataType.UINT16, 0), (DataType.UINT16, 65535), (DataType.UINT16, 0x1234),
    (DataType.INT32, -(2**31)), (DataType.INT32, 2**31 - 1), (DataType.INT32, -123456),
    (DataType.UINT32, 0), (DataType.UINT32, 2**32 - 1), (DataType.UINT32, 0x01020304),
    (DataType.INT64, -(2**63)), (DataType.INT64, 2**63 - 1), (DataType.INT64, -(2**40) - 7),
    (DataType.UINT64, 0), (DataType.UINT64, 2**64 - 1), (DataType.UINT64, 0x0102030405060708),
    (DataType.FLOAT16, 1.5), (DataType.FLOAT16, -65504.0), (DataType.FLOAT16, 0.0),
    (DataType.FLOAT32, 0.15625), (DataType.FLOAT32, -float(2**127)), (DataType.FLOAT32, 12.5),
    (DataType.FLOAT64, math.pi), (DataType.FLOAT64, -1e300), (DataType.FLOAT64, 5e-324),
]


@pytest.mark.parametrize(("byte_order", "word_order"), ORDERS)
@pytest.mark.parametrize(("data_type", "value"), SAMPLES)
def test_round_trip(
    data_type: DataType, value: float, byte_order: Order, word_order: Order
) -> None:
    codec = Codec(data_type=data_type, byte_order=byte_order, word_order=word_order)
    registers = codec.encode(value)
    assert len(registers) == codec.register_count
    assert all(0 <= r <= 0xFFFF for r in registers)
    assert codec.decode(registers) == value


@pytest.mark.parametrize(
    ("byte_order", "word_order", "registers"),
    [
        (Order.BIG, Order.BIG, [0x0102, 0x0304]),  # ABCD, the Modbus default
        (Order.BIG, Order.LITTLE, [0x0304, 0x0102]),  # CDAB, "word swap"
        (Order.LITTLE, Order.BIG, [0x0201, 0x0403]),  # BADC, "byte swap"
        (Order.LITTLE, Order.LITTLE, [0x0403, 0x0201]),  # DCBA
    ],
)
def test_known_layouts_of_the_four_orders(
    byte_order: Order, word_order: Order, registers: list[int]
) -> None:
    codec = Codec(data_type=DataType.UINT32, byte_order=byte_order, word_order=word_order)
    assert codec.decode(registers) == 0x01020304
    assert codec.encode(0x01020304) == registers


def test_float32_one_is_3f80_0000() -> None:
    assert Codec(data_type=DataType.FLOAT32).encode(1.0) == [0x3F80, 0x0000]


@pytest.mark.parametrize("byte_order", list(Order))
def test_string_round_trip_pads_and_strips(byte_order: Order) -> None:
    codec = Codec(data_type=DataType.STRING, count=4, byte_order=byte_order)
    registers = codec.encode("PUMP-7")
    assert len(registers) == 4
    assert codec.decode(registers) == "PUMP-7"


def test_string_byte_order_swaps_characters_in_each_register() -> None:
    big = Codec(data_type=DataType.STRING, count=1).encode("AB")
    little = Codec(data_type=DataType.STRING, count=1, byte_order=Order.LITTLE).encode("AB")
    assert big == [0x4142]
    assert little == [0x4241]


def test_string_too_long_is_refused() -> None:
    with pytest.raises(ModbusValueError, match="longer than 4 bytes"):
        Codec(data_type=DataType.STRING, count=2).encode("TOO LONG")


def test_string_needs_a_count() -> None:
    with pytest.raises(ModbusValueError, match="register count"):
        Codec(data_type=DataType.STRING)


def test_bits_in_a_register() -> None:
    assert get_bit(0b1010, 1) and not get_bit(0b1010, 2)
    assert set_bit(0, 15, True) == 0x8000
    assert set_bit(0xFFFF, 0, False) == 0xFFFE
    codec = Codec(bit=3)
    assert codec.register_count == 1
    assert codec.decode([0b1000]) is True
    assert codec.decode([0b0111]) is False
    # the byte order applies before the bit is picked
    assert Codec(bit=8, byte_order=Order.LITTLE).decode([0x0001]) is True
    with pytest.raises(ModbusValueError, match="set_bit"):
        codec.encode(1)


def test_scale_offset_precision() -> None:
    codec = Codec(data_type=DataType.INT16, scale=0.1, offset=-10, precision=1)
    assert codec.decode([1234]) == 113.4
    assert codec.encode(113.4) == [1234]
    assert codec.decode(Codec(data_type=DataType.INT16).encode(-5)) == -10.5
    rounded = Codec(data_type=DataType.UINT16, scale=0.5, precision=0)
    assert rounded.decode([5]) == 2 and isinstance(rounded.decode([5]), int)
    plain = Codec(data_type=DataType.UINT16)
    assert plain.decode([7]) == 7 and isinstance(plain.decode([7]), int)


def test_encode_range_errors_name_the_type() -> None:
    with pytest.raises(ModbusValueError, match=r"int16 \(-32768\.\.32767"):
        Codec(data_type=DataType.INT16).encode(40000)
    with pytest.raises(ModbusValueError, match=r"before scale 0\.1"):
        Codec(data_type=DataType.UINT16, scale=0.1).encode(7000)
    with pytest.raises(ModbusValueError, match="out of range for float16"):
        Codec(data_type=DataType.FLOAT16).encode(1e6)
    with pytest.raises(ModbusValueError, match="needs a number"):
        Codec(data_type=DataType.INT32).encode("12")


def test_non_finite_floats_read_as_no_value() -> None:
    codec = Codec(data_type=DataType.FLOAT32)
    assert codec.decode([0x7FC0, 0x0000]) is None  # NaN
    assert codec.decode([0x7F80, 0x0000]) is None  # +inf


def test_wrong_register_count_is_an_error() -> None:
    with pytest.raises(ModbusValueError, match="needs 2 registers, got 1"):
        Codec(data_type=DataType.FLOAT32).decode([1])
