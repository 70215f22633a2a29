"""The hub on its own: connect delay, reconnect backoff, error translation and counters."""

from __future__ import annotations

import time

import pytest
from modbus_peers import ModbusPeer

from gatehouse.core.testing import free_port
from gatehouse.integrations.modbus.client import HubParams, ModbusHub
from gatehouse.integrations.modbus.const import HubType, RegisterType
from gatehouse.integrations.modbus.errors import (
    ModbusConnectionError,
    ModbusDeviceError,
    ModbusTimeoutError,
    ModbusValueError,
)

pytestmark = pytest.mark.anyio


def params(port: int, **extra: object) -> HubParams:
    return HubParams(name="Test", hub_type=HubType.TCP, port=port, timeout=0.3,
                     **extra)  # type: ignore[arg-type]


def test_reconnect_backoff_doubles_up_to_the_cap() -> None:
    p = HubParams(name="x", reconnect_delay=0.5, reconnect_delay_max=3)
    assert [p.reconnect_backoff.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3, 3]
    assert HubParams(name="x", timeout=2, slave_timeouts={4: 0.1}).timeout_for(4) == 0.1


async def test_reads_writes_and_device_errors(peer: ModbusPeer) -> None:
    peer.set_registers(1, 0, [1, 2, 3], table="i")
    hub = ModbusHub(params(peer.port))
    try:
        await hub.connect()
        assert await hub.read(1, RegisterType.INPUT, 0, 3) == [1, 2, 3]
        await hub.write_coils(1, 0, [True, False, True])
        assert await hub.read(1, RegisterType.COIL, 0, 3) == [True, False, True]
        with pytest.raises(ModbusDeviceError) as caught:
            await hub.read(1, RegisterType.HOLDING, 510, 5)
        assert caught.value.code_name == "IllegalDataAddress"
        assert caught.value.slave == 1 and caught.value.request == "read holding 510..514"
        with pytest.raises(ModbusValueError, match=r"0\.\.65535"):
            await hub.write_registers(1, 0, [70000])
        stats = hub.stats_for(1)
        assert (stats.requests, stats.responses, stats.exception_responses, stats.errors) == (
            4, 4, 1, 1
        )
    finally:
        await hub.close()
    with pytest.raises(ModbusConnectionError, match="closed"):
        await hub.read(1, RegisterType.INPUT, 0, 1)


async def test_delay_after_connect(peer: ModbusPeer) -> None:
    hub = ModbusHub(params(peer.port, delay=0.3))
    started = time.monotonic()
    try:
        await hub.connect()
        assert time.monotonic() - started >= 0.3
    finally:
        await hub.close()


async def test_connect_failures_back_off_and_fail_fast_meanwhile() -> None:
    hub = ModbusHub(params(free_port(), reconnect_delay=5))
    try:
        with pytest.raises(ModbusConnectionError, match=r"cannot connect to 127\.0\.0\.1"):
            await hub.connect()
        started = time.monotonic()
        with pytest.raises(ModbusConnectionError, match=r"next attempt in [45]\.\d s"):
            await hub.read(1, RegisterType.HOLDING, 0, 1)
        assert time.monotonic() - started < 0.1  # no connection attempt was made
        assert hub.stats_for(1).connection_errors == 1
    finally:
        await hub.close()


async def test_silence_is_a_timeout_and_retries_are_counted(peer: ModbusPeer) -> None:
    peer.dead.add(2)
    hub = ModbusHub(params(peer.port, retries=2, slave_timeouts={2: 0.05}))
    try:
        await hub.connect()
        started = time.monotonic()
        with pytest.raises(ModbusTimeoutError, match=r"did not answer .* within 0\.05 s"):
            await hub.read(2, RegisterType.HOLDING, 0, 1)
        assert time.monotonic() - started < 0.5  # 3 attempts x the slave's own 0.05 s
        assert hub.stats_for(2).timeouts == 3
        assert await hub.read(1, RegisterType.HOLDING, 0, 1) == [0]  # the line is fine
    finally:
        await hub.close()
