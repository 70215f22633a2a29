"""The simulator integration: a small plant to point the Modbus and OPC UA clients at.

Each entry owns one ``ProcessModel`` and serves it:

* over **Modbus TCP** (``modbus_server.ProcessModbusServer``, always), and
* over **OPC UA** when the entry has an ``opcua`` block (``opcua_server.serve_opcua``,
  imported lazily: asyncua is an optional extra, and without it the entry still serves
  Modbus and logs why OPC UA is missing).

The model is stepped on a timer in the entry's own task (``entry.spawn``), and the
servers are stopped by the entry's undos, so reloading a simulator never leaves a
listening socket behind.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Mapping
from typing import Any

import anyio

from gatehouse.core import (
    ConfigEntry,
    ConfigEntryNotReady,
    Host,
    YamlEntry,
    entries_by_name,
    hookimpl,
)

from .config import (
    CONF_HOST,
    CONF_NAME,
    CONF_OPCUA,
    CONF_PORT,
    CONF_SLAVES,
    CONF_STEP_INTERVAL,
    CONFIG_SCHEMA,
    DEFAULT_OPCUA_PORT,
    DOMAIN,
    ENTRY_SCHEMA,
)
from .modbus_server import ProcessModbusServer
from .process import ProcessModel

_LOGGER = logging.getLogger(__name__)

#: Seconds an OPC UA server gets to start listening before the entry gives up on it.
OPCUA_START_TIMEOUT = 30.0


class SimulatorRuntime:
    """What a loaded simulator entry holds (``entry.runtime_data``)."""

    def __init__(self, process: ProcessModel, modbus: ProcessModbusServer) -> None:
        self.process = process
        self.modbus = modbus
        self.opcua_endpoint: str | None = None


class SimulatorIntegration:
    domain = DOMAIN
    config_schema = CONFIG_SCHEMA
    entry_version = 1

    def entries_from_yaml(self, config: Any) -> list[YamlEntry]:
        return entries_by_name(config, CONF_NAME)

    async def setup_entry(self, host: Host, entry: ConfigEntry[SimulatorRuntime]) -> None:
        conf = ENTRY_SCHEMA(dict(entry.data))
        process = ProcessModel()
        modbus = ProcessModbusServer(
            process, conf[CONF_HOST], conf[CONF_PORT], slaves=conf[CONF_SLAVES]
        )
        try:
            await modbus.start()
        except OSError as err:
            raise ConfigEntryNotReady(str(err)) from err
        entry.on_unload(modbus.stop)
        runtime = SimulatorRuntime(process, modbus)
        entry.runtime_data = runtime
        entry.spawn(_step_forever(process, conf[CONF_STEP_INTERVAL]), f"simulator {entry.title}")
        if CONF_OPCUA in conf:
            opcua = conf[CONF_OPCUA] or {}
            await _start_opcua(
                entry, runtime, opcua.get(CONF_HOST, conf[CONF_HOST]),
                opcua.get(CONF_PORT, DEFAULT_OPCUA_PORT),
            )

    async def unload_entry(self, host: Host, entry: ConfigEntry[SimulatorRuntime]) -> None:
        """Nothing to do: the step task is cancelled and the servers stopped by undos."""


async def _step_forever(process: ProcessModel, interval: float) -> None:
    """Advance the model by the time that really passed, so a late tick is not lost."""
    last = time.monotonic()
    while True:
        await anyio.sleep(interval)
        now = time.monotonic()
        process.step(now - last)
        last = now


class _StartedSignal:
    """A minimal anyio ``TaskStatus``: lets setup wait until the OPC UA server listens.

    ``ready`` is set when the server reports it is listening *or* when it ends before
    that; ``ok`` says which.
    """

    def __init__(self) -> None:
        self.ready = anyio.Event()
        self.ok = False

    def started(self, value: object = None) -> None:
        self.ok = True
        self.ready.set()


async def _start_opcua(
    entry: ConfigEntry[SimulatorRuntime], runtime: SimulatorRuntime, host: str, port: int
) -> None:
    """Serve the model over OPC UA in the entry's task group, if the module is there.

    An OPC UA failure never fails the entry: the Modbus side is still useful.
    """
    try:
        from .opcua_server import serve_opcua
    except ImportError as err:
        _LOGGER.warning(
            "Simulator %r: OPC UA not available (%s); serving Modbus only", entry.title, err
        )
        return
    signal = _StartedSignal()
    # This entry steps the model itself; an OPC UA server that also steps it would make
    # the plant run at double speed, so ask it not to (if it offers the choice).
    options: dict[str, Any] = (
        {"step": False} if "step" in inspect.signature(serve_opcua).parameters else {}
    )

    async def serve() -> None:
        try:
            await serve_opcua(runtime.process, host, port, task_status=signal, **options)
        except Exception:
            if signal.ok:
                _LOGGER.exception("Simulator %r: OPC UA server stopped", entry.title)
            else:
                _LOGGER.exception("Simulator %r: OPC UA server failed to start", entry.title)
        finally:
            signal.ready.set()

    entry.spawn(serve(), f"simulator {entry.title} opcua")
    with anyio.move_on_after(OPCUA_START_TIMEOUT):
        await signal.ready.wait()
    if signal.ok:
        runtime.opcua_endpoint = f"opc.tcp://{host}:{port}"
        _LOGGER.info("Simulator %r serves OPC UA at %s", entry.title, runtime.opcua_endpoint)
    elif not signal.ready.is_set():
        _LOGGER.error("Simulator %r: OPC UA server did not start within %.0f s",
                      entry.title, OPCUA_START_TIMEOUT)


INTEGRATION = SimulatorIntegration()


@hookimpl
def gatehouse_integration() -> SimulatorIntegration:
    return INTEGRATION


@hookimpl
def gatehouse_diagnostics(host: Host) -> Mapping[str, Any]:
    result: dict[str, Any] = {}
    for entry in host.config_entries.entries():
        runtime = getattr(entry, "runtime_data", None)
        if entry.domain == DOMAIN and isinstance(runtime, SimulatorRuntime):
            result[entry.title] = {
                "modbus": f"{runtime.modbus.host}:{runtime.modbus.port}",
                "modbus_requests": runtime.modbus.requests,
                "opcua": runtime.opcua_endpoint,
                "process": runtime.process.snapshot(),
            }
    return result
