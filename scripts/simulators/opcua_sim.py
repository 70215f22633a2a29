"""Run the OPC UA process simulator on its own (no Gatehouse host needed).

Run: .venv/bin/python scripts/simulators/opcua_sim.py [--host 127.0.0.1] [--port 4840]
     [--security --certs DIR] [--user NAME:PASSWORD ...] [--extra-vars N] [--rate HZ]

Serves the same plant as the Modbus simulator (``gatehouse.integrations.simulator``)
in namespace ``urn:gatehouse:sim``: nodes ``nsu=urn:gatehouse:sim;s=Tank.Level`` and so
on, listed at start. With ``--security`` only Basic256Sha256 / Aes128Sha256RsaOaep
endpoints are offered and the server certificate is created in ``--certs``: copy
``server_cert.der`` into Gatehouse's ``<config>/opcua/trusted/``. Stop with Ctrl-C.
"""

from __future__ import annotations

import argparse
import signal
from pathlib import Path

import anyio

from gatehouse.integrations.simulator.opcua_server import (
    MODEL_VARS,
    SIM_NAMESPACE,
    TYPED_VARS,
    OpcuaSimulator,
    bench_var_name,
)
from gatehouse.integrations.simulator.process import ProcessModel


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=4840, help="TCP port (default 4840)")
    parser.add_argument("--security", action="store_true", help="secure endpoints only")
    parser.add_argument(
        "--certs", type=Path, default=Path("opcua-sim-certs"),
        help="folder for the server certificate (with --security)",
    )
    parser.add_argument(
        "--user", action="append", default=[], metavar="NAME:PASSWORD",
        help="require this user (repeatable); anonymous access is then refused",
    )
    parser.add_argument("--step", type=float, default=0.1, help="model step in seconds")
    parser.add_argument("--extra-vars", type=int, default=0, help="Bench.Vnnnn Doubles")
    parser.add_argument("--rate", type=float, default=10.0, help="Bench.* updates per second")
    parser.add_argument("--quiet", action="store_true", help="do not print the process state")
    return parser.parse_args()


def users_of(specs: list[str]) -> dict[str, str] | None:
    if not specs:
        return None
    users: dict[str, str] = {}
    for spec in specs:
        name, sep, password = spec.partition(":")
        if not sep or not name:
            raise SystemExit(f"--user wants NAME:PASSWORD, got {spec!r}")
        users[name] = password
    return users


def describe(extra_vars: int) -> str:
    lines = [f"  nsu={SIM_NAMESPACE};s={var.name}"
             f"  {var.vtype.name}{' (writable)' if var.apply else ''}" for var in MODEL_VARS]
    lines += [f"  nsu={SIM_NAMESPACE};s={name}  {vtype.name} (writable)"
              for name, (vtype, _) in TYPED_VARS.items()]
    if extra_vars:
        lines.append(
            f"  nsu={SIM_NAMESPACE};s={bench_var_name(0)} .. {bench_var_name(extra_vars - 1)}"
            "  Double"
        )
    return "\n".join(lines)


async def main(args: argparse.Namespace) -> None:
    process = ProcessModel()
    simulator = OpcuaSimulator(
        process,
        certs_dir=args.certs if args.security else None,
        security=args.security,
        users=users_of(args.user),
        extra_vars=args.extra_vars,
        extra_rate=args.rate,
        update_interval=args.step,
    )
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with anyio.create_task_group() as tg:

            async def stop_on_signal() -> None:
                async for _ in signals:
                    tg.cancel_scope.cancel()
                    return

            tg.start_soon(stop_on_signal)
            await tg.start(simulator.serve, args.host, args.port)
            print(f"OPC UA simulator on opc.tcp://{args.host}:{args.port}/")
            if args.security:
                print(f"server certificate: {args.certs / 'server_cert.der'}")
            print(describe(args.extra_vars), flush=True)
            while not args.quiet:
                await anyio.sleep(5)
                print(process.snapshot(), flush=True)
    print("stopped")


if __name__ == "__main__":
    anyio.run(main, parse_args())
