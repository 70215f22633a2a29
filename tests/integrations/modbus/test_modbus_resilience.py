"""Dead slaves, stopped servers, bad frames, start-up retries and reload leaks."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import anyio
import pytest
from mbtools import attrs, entry_of, running_host
from modbus_peers import FaultProxy, ModbusPeer

from gatehouse.core import ConfigEntryState
from gatehouse.core.testing import free_port, state_of, wait_until

pytestmark = pytest.mark.anyio

FAST = """
    retries: 1
    scan_interval: 0.05
    reconnect_delay: 0.05
    reconnect_delay_max: 0.2
"""


def three_slaves(
    name: str, port: int, extra: str = "", hub_extra: str = "", timeout: float = 0.2
) -> str:
    return f"""
  - name: {name}
    host: 127.0.0.1
    port: {port}
    timeout: {timeout}
{FAST}{hub_extra}
    sensors:
      - name: One
        slave: 1
        address: 0
      - name: Two
        slave: 2
        address: 0
      - name: Three
        slave: 3
        address: 0
{extra}"""

#: Two more points on slave 2, far apart: a full cycle of slave 2 is three requests.
SPREAD = """
      - name: Two far
        slave: 2
        address: 200
      - name: Two farther
        slave: 2
        address: 400
"""


async def test_dead_slave_goes_unavailable_others_keep_updating_and_it_returns(
    config_dir: Path, peer: ModbusPeer
) -> None:
    for slave in (1, 2, 3):
        peer.set_registers(slave, 0, [slave])
    # a generous timeout for the live slaves (no flakes on a busy machine), a short one
    # for the slave that will die (its own timeout bounds what it costs the others)
    per_slave = "    slave_timeouts:\n      2: 0.1\n"
    yaml = "modbus:" + three_slaves("Plant", peer.port, SPREAD, per_slave, timeout=1.0)
    async with running_host(config_dir, yaml) as host:
        await wait_until(lambda: state_of(host, "sensor.plant_2_two") == "2")
        assert attrs(host, "sensor.plant_2_diagnostics")["last_cycle_requests"] == 3
        peer.dead.add(2)
        await wait_until(lambda: state_of(host, "sensor.plant_2_two") == "unavailable")
        assert attrs(host, "sensor.plant_2_diagnostics")["available"] is False
        assert state_of(host, "sensor.plant_2_two_farther") == "unavailable"
        # while it is gone, slave 2 is only probed: one request per cycle, no retries
        cycles = attrs(host, "sensor.plant_2_diagnostics")["cycles"]
        await wait_until(lambda: attrs(host, "sensor.plant_2_diagnostics")["cycles"] > cycles)
        assert attrs(host, "sensor.plant_2_diagnostics")["last_cycle_requests"] == 1
        assert "within 0.1 s" in attrs(host, "sensor.plant_2_diagnostics")["last_error"]
        # the live slaves keep being polled at their rate while slave 2 is silent
        for value in (10, 11, 12):
            peer.set_registers(1, 0, [value])
            peer.set_registers(3, 0, [value + 100])
            started = time.monotonic()
            want_one, want_three = str(value), str(value + 100)
            await wait_until(
                lambda: state_of(host, "sensor.plant_1_one") == want_one  # noqa: B023
                and state_of(host, "sensor.plant_3_three") == want_three  # noqa: B023
            )
            assert time.monotonic() - started < 1.0
        assert state_of(host, "sensor.plant_2_two") == "unavailable"
        peer.set_registers(2, 0, [222])
        peer.dead.clear()
        await wait_until(lambda: state_of(host, "sensor.plant_2_two") == "222", timeout=5)
        two = attrs(host, "sensor.plant_2_diagnostics")
        one = attrs(host, "sensor.plant_1_diagnostics")
        assert two["available"] is True
        assert two["timeouts"] > 0 and two["errors"] >= two["timeouts"]
        assert one["timeouts"] == 0 and one["errors"] == 0, one


async def test_stopped_server_goes_unavailable_and_comes_back_other_hub_unaffected(
    config_dir: Path, peer: ModbusPeer
) -> None:
    other = ModbusPeer((1, 2, 3))
    await other.start()
    try:
        yaml = "modbus:" + three_slaves("Alpha", peer.port) + three_slaves("Beta", other.port)
        async with running_host(config_dir, yaml) as host:
            await wait_until(lambda: state_of(host, "sensor.beta_1_one") == "0")
            await other.stop()
            await wait_until(lambda: all(
                state_of(host, f"sensor.beta_{s}_{n}") == "unavailable"
                for s, n in ((1, "one"), (2, "two"), (3, "three"))
            ))
            peer.set_registers(1, 0, [5])
            await wait_until(lambda: state_of(host, "sensor.alpha_1_one") == "5")
            assert attrs(host, "sensor.beta_1_diagnostics")["connection_errors"] > 0
            # the same server comes back on the same port: the hub reconnects by itself
            other = ModbusPeer((1, 2, 3), port=other.port)
            other.set_registers(1, 0, [42])
            await other.start()
            await wait_until(lambda: state_of(host, "sensor.beta_1_one") == "42", timeout=5)
            assert entry_of(host, title="Beta").state is ConfigEntryState.LOADED
    finally:
        await other.stop()


@pytest.mark.parametrize("mode", ["short", "tid"])
async def test_bad_frames_are_counted_per_slave(
    config_dir: Path, peer: ModbusPeer, mode: str
) -> None:
    proxy = FaultProxy(peer.port, mode=mode)
    await proxy.start()
    proxy.spoil.add(2)
    try:
        yaml = f"""
modbus:
  - name: Plant
    host: 127.0.0.1
    port: {proxy.port}
    timeout: 1.0
    slave_timeouts:
      2: 0.2
{FAST}
    sensors:
      - name: Good
        slave: 1
        address: 0
        data_type: float32
      - name: Noisy
        slave: 2
        address: 0
        data_type: float32
"""
        async with running_host(config_dir, yaml) as host:
            await wait_until(lambda: attrs(host, "sensor.plant_2_diagnostics")["bad_frames"] >= 2)
            noisy, good = (attrs(host, "sensor.plant_2_diagnostics"),
                           attrs(host, "sensor.plant_1_diagnostics"))
            assert noisy["timeouts"] == 0  # bytes came back: not a timeout
            assert "unusable reply" in noisy["last_error"] or "values instead of 2" in (
                noisy["last_error"])
            assert state_of(host, "sensor.plant_2_noisy") == "unavailable"
            assert good["bad_frames"] == good["errors"] == 0
            assert state_of(host, "sensor.plant_1_good") == "0.0"
    finally:
        await proxy.stop()


async def test_unreachable_hub_retries_setup_until_the_server_appears(config_dir: Path) -> None:
    port = free_port()
    yaml = f"""
modbus:
  - name: Late
    host: 127.0.0.1
    port: {port}
    timeout: 0.2
    scan_interval: 0.05
    sensors:
      - name: Value
        address: 0
"""
    async with running_host(config_dir, yaml) as host:
        entry = entry_of(host)
        assert str(entry.state) == "setup_retry"
        assert f"cannot connect to 127.0.0.1:{port}" in entry.reason
        late = ModbusPeer((1,), port=port)
        late.set_registers(1, 0, [9])
        await late.start()
        try:
            await wait_until(lambda: state_of(host, "sensor.late_value") == "9", timeout=10)
            assert entry.state is ConfigEntryState.LOADED
        finally:
            await late.stop()


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def quiet_counts() -> tuple[int, int]:
    """(fds, tasks) at their lowest over a few samples.

    The peer server runs in this process and spawns a short task per request, so one
    sample may catch a request in flight; a leak shows up in every sample.
    """
    samples = []
    for _ in range(10):
        await anyio.sleep(0.01)
        samples.append((open_fds(), len(asyncio.all_tasks())))
    return min(f for f, _ in samples), min(t for _, t in samples)


def modbus_tasks() -> list[str]:
    return sorted(t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("modbus"))


async def test_reloading_twenty_times_leaks_no_tasks_or_sockets(
    config_dir: Path, peer: ModbusPeer
) -> None:
    async with running_host(config_dir, "modbus:" + three_slaves("Plant", peer.port)) as host:
        entry = entry_of(host)
        await wait_until(lambda: state_of(host, "sensor.plant_1_one") == "0")
        assert await host.config_entries.reload(entry.entry_id)
        fds, tasks = await quiet_counts()
        undos = entry.undo_count
        ours = modbus_tasks()
        assert ours == ["modbus Plant polling", *(f"modbus Plant slave {s}" for s in (1, 2, 3))]
        for round_ in range(20):
            peer.set_registers(1, 0, [round_])
            assert await host.config_entries.reload(entry.entry_id)
            expected = str(round_)
            await wait_until(
                lambda: state_of(host, "sensor.plant_1_one") == expected  # noqa: B023
            )
        assert entry.state is ConfigEntryState.LOADED
        assert modbus_tasks() == ours
        fds_after, tasks_after = await quiet_counts()
        assert fds_after <= fds
        assert tasks_after <= tasks
        assert entry.undo_count == undos
        assert len(host.entities.of_entry(entry.entry_id)) == 6  # 3 sensors + 3 diagnostics
