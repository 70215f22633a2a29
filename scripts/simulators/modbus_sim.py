"""Run the Modbus process simulator on its own (no Gatehouse host needed).

Run: .venv/bin/python scripts/simulators/modbus_sim.py [--host 127.0.0.1] [--port 5020]
     [--slaves 1] [--step 0.5]

Serves the same plant and register map as the ``simulator`` integration (see
``gatehouse.integrations.simulator.modbus_server``), so a Gatehouse on another machine,
or any Modbus tool, can be pointed at it. Stop with Ctrl-C.
"""

from __future__ import annotations

import argparse
import signal
import time

import anyio

from gatehouse.integrations.simulator.modbus_server import (
    COIL_HEATER,
    COIL_PUMP,
    DI_HIGH_LEVEL,
    EXTRA_START,
    HR_VALVE_SETPOINT,
    IR_STEPS,
    IR_TANK_LEVEL,
    IR_TEMPERATURE,
    ProcessModbusServer,
)
from gatehouse.integrations.simulator.process import ProcessModel


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=5020, help="TCP port (default 5020)")
    parser.add_argument("--slaves", type=int, default=1, help="unit ids 1..N (default 1)")
    parser.add_argument("--step", type=float, default=0.5, help="model step in seconds")
    parser.add_argument("--quiet", action="store_true", help="do not print the process state")
    return parser.parse_args()


def describe_map() -> str:
    return "\n".join(
        [
            f"  input    {IR_TANK_LEVEL}-{IR_TANK_LEVEL + 1}  tank level  float32 %",
            f"  input    {IR_TEMPERATURE}-{IR_TEMPERATURE + 1}  temperature float32 degC",
            f"  input    {IR_STEPS}-{IR_STEPS + 1}  model steps uint32",
            f"  holding  {HR_VALVE_SETPOINT}    valve setpoint uint16, tenths of % (0..1000)",
            f"  coil     {COIL_PUMP}    pump on;  coil {COIL_HEATER}: heater on",
            f"  discrete {DI_HIGH_LEVEL}    high level alarm",
            f"  input/holding {EXTRA_START}..{EXTRA_START + 99}  mixed-type test block",
        ]
    )


async def main(args: argparse.Namespace) -> None:
    process = ProcessModel()
    server = ProcessModbusServer(process, args.host, args.port, slaves=args.slaves)
    await server.start()
    print(f"Modbus simulator on {args.host}:{args.port}, slaves 1..{args.slaves}")
    print(describe_map())
    try:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with anyio.create_task_group() as tg:

                async def stop_on_signal() -> None:
                    async for _ in signals:
                        tg.cancel_scope.cancel()
                        return

                tg.start_soon(stop_on_signal)
                last = time.monotonic()
                printed = 0.0
                while True:
                    await anyio.sleep(args.step)
                    now = time.monotonic()
                    process.step(now - last)
                    last = now
                    if not args.quiet and now - printed >= 5:
                        printed = now
                        print(process.snapshot(), f"requests={server.requests}", flush=True)
    finally:
        with anyio.CancelScope(shield=True):
            await server.stop()
        print("stopped")


if __name__ == "__main__":
    anyio.run(main, parse_args())
