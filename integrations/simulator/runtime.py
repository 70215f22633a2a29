"""What a loaded simulator entry holds, and the tasks that run its plant.

The model is stepped on a timer in the entry's own task, and the OPC UA server (when
configured) runs in the entry's task group too, so unloading the entry stops both and
reloading it never leaves a listening socket behind.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import anyio

from .const import OPCUA_START_TIMEOUT
from .modbus_server import ProcessModbusServer
from .process import ProcessModel

if TYPE_CHECKING:
    from gatehouse.core import ConfigEntry

_LOGGER = logging.getLogger(__name__)


class _StartedSignal:
    """A minimal anyio ``TaskStatus``: lets set-up wait until the OPC UA server listens.

    ``ready`` is set when the server reports it is listening *or* when it ends before
    that; ``ok`` says which.
    """

    def __init__(self) -> None:
        self.ready = anyio.Event()
        self.ok = False

    def started(self, value: object = None) -> None:
        self.ok = True
        self.ready.set()


class SimulatorRuntime:
    """A loaded simulator entry (``entry.runtime_data``): the plant and its servers."""

    def __init__(self, process: ProcessModel, modbus: ProcessModbusServer) -> None:
        self.process = process
        self.modbus = modbus
        self.opcua_endpoint: str | None = None

    async def step_forever(self, interval: float) -> None:
        """Advance the model by the time that really passed, so a late tick is not lost."""
        last = time.monotonic()
        while True:
            await anyio.sleep(interval)
            now = time.monotonic()
            self.process.step(now - last)
            last = now

    async def start_opcua(self, entry: ConfigEntry[Any], host: str, port: int) -> None:
        """Serve the model over OPC UA in the entry's task group, if asyncua is there.

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

        async def serve() -> None:
            try:
                # This entry steps the model itself (step_forever); a server stepping it
                # too would run the plant at double speed.
                await serve_opcua(self.process, host, port, task_status=signal, step=False)
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
            self.opcua_endpoint = f"opc.tcp://{host}:{port}"
            _LOGGER.info("Simulator %r serves OPC UA at %s", entry.title, self.opcua_endpoint)
        elif not signal.ready.is_set():
            _LOGGER.error("Simulator %r: OPC UA server did not start within %.0f s",
                          entry.title, OPCUA_START_TIMEOUT)
