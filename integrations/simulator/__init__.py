"""The simulator integration: a small plant to point the Modbus and OPC UA clients at.

Each entry owns one ``ProcessModel`` and serves it:

* over **Modbus TCP** (``modbus_server.ProcessModbusServer``, always), and
* over **OPC UA** when the entry has an ``opcua`` block (``opcua_server.serve_opcua``,
  imported lazily: asyncua is an optional extra, and without it the entry still serves
  Modbus and logs why OPC UA is missing).

Modules: ``const.py``/``config.py`` (names, the ``simulator:`` schema), ``process.py``
(the plant's physics), ``runtime.py`` (``SimulatorRuntime``: stepping the model,
starting OPC UA), ``modbus_server.py`` and ``opcua_server.py`` (the two faces of the
plant; also run standalone by ``scripts/simulators/``).

The model is stepped on a timer in the entry's own task (``entry.spawn``), and the
servers are stopped by the entry's undos, so reloading a simulator never leaves a
listening socket behind.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gatehouse.core import (
    ConfigEntry,
    ConfigEntryNotReady,
    Host,
    YamlEntry,
    entries_by_name,
    hookimpl,
)

from .config import CONFIG_SCHEMA, ENTRY_SCHEMA
from .const import (
    CONF_HOST,
    CONF_NAME,
    CONF_OPCUA,
    CONF_PORT,
    CONF_SLAVES,
    CONF_STEP_INTERVAL,
    DEFAULT_OPCUA_PORT,
    DOMAIN,
)
from .modbus_server import ProcessModbusServer
from .process import ProcessModel
from .runtime import SimulatorRuntime


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
        entry.spawn(runtime.step_forever(conf[CONF_STEP_INTERVAL]), f"simulator {entry.title}")
        if CONF_OPCUA in conf:
            opcua = conf[CONF_OPCUA] or {}
            await runtime.start_opcua(
                entry, opcua.get(CONF_HOST, conf[CONF_HOST]),
                opcua.get(CONF_PORT, DEFAULT_OPCUA_PORT),
            )

    async def unload_entry(self, host: Host, entry: ConfigEntry[SimulatorRuntime]) -> None:
        """Nothing to do: the step task is cancelled and the servers stopped by undos."""


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
