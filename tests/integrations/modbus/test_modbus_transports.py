"""The other two line types: RTU framing over TCP, and serial RTU through a pty pair."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mbtools import attrs, running_host
from modbus_peers import ModbusPeer
from pymodbus.framer import FramerType

from gatehouse.core.testing import state_of, wait_until
from gatehouse.integrations.modbus.datatypes import Codec, DataType

pytestmark = pytest.mark.anyio

POINTS = """
    sensors:
      - name: Level
        address: 0
        data_type: float32
        precision: 1
      - name: Counter
        slave: 2
        address: 4
        data_type: uint32
    switches:
      - name: Pump
        address: 1
"""


def _values(peer: ModbusPeer) -> None:
    peer.set_registers(1, 0, Codec(data_type=DataType.FLOAT32).encode(47.25))
    peer.set_registers(2, 4, Codec(data_type=DataType.UINT32).encode(123_456_789))


async def test_rtu_framing_over_tcp(config_dir: Path) -> None:
    peer = ModbusPeer((1, 2), framer=FramerType.RTU)
    _values(peer)
    await peer.start()
    try:
        yaml = f"""
modbus:
  - name: Gateway
    type: rtuovertcp
    host: 127.0.0.1
    port: {peer.port}
    timeout: 2
    scan_interval: 0.05
{POINTS}"""
        async with running_host(config_dir, yaml) as host:
            await wait_until(lambda: state_of(host, "sensor.gateway_2_counter") == "123456789"
                             and state_of(host, "sensor.gateway_1_level") == "47.2")  # 1 decimal
            await host.services.call("switch", "turn_on", {"entity_id": "switch.gateway_1_pump"})
            assert state_of(host, "switch.gateway_1_pump") == "on"
            assert attrs(host, "sensor.gateway_1_diagnostics")["errors"] == 0
    finally:
        await peer.stop()


@pytest.fixture
def pty_pair() -> Iterator[tuple[str, str]]:
    """Two connected pseudo-terminals from socat (a null-modem cable in software)."""
    socat = shutil.which("socat")
    if socat is None:
        pytest.skip("socat is not installed")
    proc = subprocess.Popen(
        [socat, "-d", "-d", "pty,raw,echo=0", "pty,raw,echo=0"],
        stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stderr is not None
        ptys: list[str] = []
        deadline = time.monotonic() + 5
        while len(ptys) < 2 and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            found = re.search(r"PTY is (\S+)", line)
            if found:
                ptys.append(found.group(1))
        assert len(ptys) == 2, f"socat did not report two ptys (got {ptys})"
        yield ptys[0], ptys[1]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


async def test_serial_rtu_through_a_pty_pair(
    config_dir: Path, pty_pair: tuple[str, str]
) -> None:
    server_end, client_end = pty_pair
    peer = ModbusPeer((1, 2), serial_port=server_end)
    _values(peer)
    await peer.start()
    try:
        yaml = f"""
modbus:
  - name: Line
    type: serial
    port: {client_end}
    baudrate: 115200
    timeout: 2
    slave_timeouts:
      2: 0.2
    scan_interval: 0.05
{POINTS}"""
        async with running_host(config_dir, yaml) as host:
            await wait_until(lambda: state_of(host, "sensor.line_2_counter") == "123456789"
                             and state_of(host, "sensor.line_1_level") == "47.2", timeout=10)
            await host.services.call("switch", "turn_on", {"entity_id": "switch.line_1_pump"})
            assert state_of(host, "switch.line_1_pump") == "on"
            assert peer.slaves[1].writes[-1] == (5, 1, [True])
            # a silent slave on a serial line: unavailable, and the other slave goes on
            peer.dead.add(2)
            await wait_until(lambda: state_of(host, "sensor.line_2_counter") == "unavailable")
            peer.set_registers(1, 0, Codec(data_type=DataType.FLOAT32).encode(12.0))
            await wait_until(lambda: state_of(host, "sensor.line_1_level") == "12.0")
            assert attrs(host, "sensor.line_2_diagnostics")["timeouts"] > 0
            assert attrs(host, "sensor.line_1_diagnostics")["timeouts"] == 0
    finally:
        await peer.stop()
