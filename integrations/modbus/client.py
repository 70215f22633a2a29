"""The network side: one ``ModbusHub`` per line (a TCP endpoint or a serial port).

The hub wraps a pymodbus async client and owns every decision about the link, so the
rest of the integration only sees typed reads and writes and our own exceptions:

* **Timeouts are ours.** Each request runs under an anyio deadline (the slave's own
  timeout if configured, else the hub's); pymodbus' timeout is only a backstop. pymodbus
  retries and its "close the connection after N silent requests" rule are switched off,
  because on a gateway one dead slave must not take the connection of the live ones
  down. The hub reopens the link itself when *no* slave has answered for a while.
* **Reconnects are ours**, lazily and with exponential backoff (the house's ``Backoff``,
  without jitter: one hub, nothing to spread): a request finding the link down tries to
  connect unless the backoff says wait, in which case it fails at once. No background
  task exists, so unloading the entry leaves nothing behind.
* **Errors are classified** per slave: timeouts (nothing came back), bad frames (bytes
  came back but no usable answer: garbled, truncated, mismatched), device exception
  responses (by name) and connection errors. The counters feed diagnostics.
* **One request at a time** per hub (a lock), which is what a Modbus line allows, and
  which makes "did any byte arrive during *this* request" a well-defined question.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import anyio
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.framer import FramerType
from pymodbus.pdu import ModbusPDU

from gatehouse.core.helpers import Backoff

from .const import (
    CONF_BAUDRATE,
    CONF_BYTESIZE,
    CONF_DELAY,
    CONF_HOST,
    CONF_NAME,
    CONF_PARITY,
    CONF_PORT,
    CONF_RECONNECT_DELAY,
    CONF_RECONNECT_DELAY_MAX,
    CONF_RETRIES,
    CONF_SLAVE_TIMEOUTS,
    CONF_STOPBITS,
    CONF_TIMEOUT,
    CONF_TYPE,
    DEFAULT_BAUDRATE,
    DEFAULT_DELAY,
    DEFAULT_RECONNECT_DELAY,
    DEFAULT_RECONNECT_DELAY_MAX,
    DEFAULT_RETRIES,
    DEFAULT_TCP_PORT,
    DEFAULT_TIMEOUT,
    LINK_SILENCE_LIMIT,
    MAX_WRITE_BITS,
    MAX_WRITE_REGISTERS,
    HubType,
    RegisterType,
)
from .errors import (
    ModbusBadFrameError,
    ModbusConnectionError,
    ModbusDeviceError,
    ModbusRequestError,
    ModbusTimeoutError,
    ModbusValueError,
)

_LOGGER = logging.getLogger(__name__)

# pymodbus logs every unanswered request at ERROR. The hub counts and reports those
# itself (once per state change, not per request), so quiet the library unless the user
# configured its logger explicitly.
_PYMODBUS_LOGGER = logging.getLogger("pymodbus")
if _PYMODBUS_LOGGER.level == logging.NOTSET:
    _PYMODBUS_LOGGER.setLevel(logging.CRITICAL)

_READ_FUNCTION: dict[RegisterType, tuple[str, int]] = {
    RegisterType.COIL: ("read_coils", 1),
    RegisterType.DISCRETE_INPUT: ("read_discrete_inputs", 2),
    RegisterType.HOLDING: ("read_holding_registers", 3),
    RegisterType.INPUT: ("read_input_registers", 4),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class HubParams:
    """Everything needed to open and use one line."""

    name: str
    hub_type: HubType = HubType.TCP
    host: str = "127.0.0.1"
    port: int = DEFAULT_TCP_PORT
    serial_port: str = ""
    baudrate: int = DEFAULT_BAUDRATE
    bytesize: int = 8
    parity: str = "N"
    stopbits: int = 1
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    delay: float = DEFAULT_DELAY
    reconnect_delay: float = DEFAULT_RECONNECT_DELAY
    reconnect_delay_max: float = DEFAULT_RECONNECT_DELAY_MAX
    slave_timeouts: Mapping[int, float] = field(default_factory=dict)

    @classmethod
    def from_config(cls, conf: Mapping[str, Any]) -> HubParams:
        """The connection settings of a hub block validated by ``config.HUB_SCHEMA``.

        A serial hub's ``port`` is its device path; a TCP hub's is the port number.
        """
        hub_type = HubType(conf[CONF_TYPE])
        serial = hub_type is HubType.SERIAL
        return cls(
            name=conf[CONF_NAME],
            hub_type=hub_type,
            host=str(conf.get(CONF_HOST, "")),
            port=0 if serial else int(conf[CONF_PORT]),
            serial_port=str(conf[CONF_PORT]) if serial else "",
            baudrate=conf[CONF_BAUDRATE],
            bytesize=conf[CONF_BYTESIZE],
            parity=conf[CONF_PARITY],
            stopbits=conf[CONF_STOPBITS],
            timeout=conf[CONF_TIMEOUT],
            retries=conf[CONF_RETRIES],
            delay=conf[CONF_DELAY],
            reconnect_delay=conf[CONF_RECONNECT_DELAY],
            reconnect_delay_max=conf[CONF_RECONNECT_DELAY_MAX],
            slave_timeouts=dict(conf[CONF_SLAVE_TIMEOUTS]),
        )

    @property
    def endpoint(self) -> str:
        if self.hub_type is HubType.SERIAL:
            return self.serial_port
        return f"{self.host}:{self.port}"

    def timeout_for(self, slave: int) -> float:
        return self.slave_timeouts.get(slave, self.timeout)

    @property
    def reconnect_backoff(self) -> Backoff:
        """Pacing of connect attempts: ``reconnect_delay`` doubling to ``reconnect_delay_max``.

        No jitter: a hub is one line with one peer, there is no crowd to spread out.
        """
        return Backoff(
            initial=self.reconnect_delay, maximum=self.reconnect_delay_max, jitter=0
        )


@dataclass(slots=True)
class SlaveStats:
    """Counters of one slave, for diagnostics. Every request attempt counts once."""

    requests: int = 0
    responses: int = 0
    errors: int = 0
    timeouts: int = 0
    bad_frames: int = 0
    exception_responses: int = 0
    connection_errors: int = 0
    cycles: int = 0
    last_cycle_requests: int = 0
    last_cycle_duration: float = 0.0
    available: bool = True
    last_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["last_cycle_duration"] = round(self.last_cycle_duration, 4)
        return data


class ModbusHub:
    """One line to one or more slaves. See the module docstring for the rules."""

    def __init__(self, params: HubParams) -> None:
        self.params = params
        self.name = params.name
        self.stats: dict[int, SlaveStats] = {}
        self._client: AsyncModbusTcpClient | AsyncModbusSerialClient | None = None
        self._lock = anyio.Lock()
        self._closed = False
        self._reconnects = params.reconnect_backoff.counter()
        self._next_connect_at = 0.0
        self._last_connect_error = ""
        self._silent_requests = 0
        self._rx_seen = False
        self._pdu_seen = False
        self._was_connected = False
        #: Told of every connect (True, None) and failed attempt (False, why); the
        #: entry's ``set_health`` (``__init__``), so the UI can tell loaded from linked.
        self.on_health: Callable[[bool, str | None], None] | None = None

    def __repr__(self) -> str:
        return f"<ModbusHub {self.name} {self.params.hub_type} {self.params.endpoint}>"

    def stats_for(self, slave: int) -> SlaveStats:
        stats = self.stats.get(slave)
        if stats is None:
            stats = self.stats[slave] = SlaveStats()
        return stats

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.connected

    # -- connection ------------------------------------------------------------------

    def _make_client(self) -> AsyncModbusTcpClient | AsyncModbusSerialClient:
        p = self.params
        longest = max([p.timeout, *p.slave_timeouts.values()])
        common: dict[str, Any] = {
            "name": p.name,
            # Backstop only: our own deadlines fire first (see module docstring).
            "timeout": longest * 2 + 1,
            "retries": 0,
            "reconnect_delay": 0,  # no pymodbus background reconnect task
            "trace_packet": self._trace_packet,
            "trace_pdu": self._trace_pdu,
        }
        client: AsyncModbusTcpClient | AsyncModbusSerialClient
        if p.hub_type is HubType.SERIAL:
            client = AsyncModbusSerialClient(
                p.serial_port, framer=FramerType.RTU, baudrate=p.baudrate,
                bytesize=p.bytesize, parity=p.parity, stopbits=p.stopbits, **common,
            )
        else:
            framer = FramerType.RTU if p.hub_type is HubType.RTU_OVER_TCP else FramerType.SOCKET
            client = AsyncModbusTcpClient(p.host, port=p.port, framer=framer, **common)
        client.set_max_no_responses(2**31)
        return client

    def _trace_packet(self, sending: bool, data: bytes) -> bytes:
        if not sending and data:
            self._rx_seen = True
        return data

    def _trace_pdu(self, sending: bool, pdu: ModbusPDU) -> ModbusPDU:
        if not sending:
            self._pdu_seen = True
        return pdu

    async def connect(self) -> None:
        """Open the line now (ignoring backoff); raise ``ModbusConnectionError`` if not."""
        async with self._lock:
            self._next_connect_at = 0.0
            await self._ensure_connected()

    async def _ensure_connected(self) -> AsyncModbusTcpClient | AsyncModbusSerialClient:
        """The connected client, connecting first if the backoff allows (lock held)."""
        if self._closed:
            raise ModbusConnectionError(f"hub {self.name!r} is closed")
        if self._client is None:
            self._client = self._make_client()
        client = self._client
        if client.connected:
            return client
        now = time.monotonic()
        if now < self._next_connect_at:
            raise ModbusConnectionError(
                f"hub {self.name!r} is not connected to {self.params.endpoint} "
                f"({self._last_connect_error}); next attempt in "
                f"{self._next_connect_at - now:.1f} s"
            )
        ok = False
        with anyio.move_on_after(self.params.timeout):
            ok = await client.connect()
        if not ok:
            client.close()
            self._next_connect_at = time.monotonic() + self._reconnects.failed()
            self._last_connect_error = "connection failed"
            if self._was_connected or self._reconnects.failures == 1:
                _LOGGER.warning(
                    "Modbus hub %s cannot connect to %s; retrying with backoff",
                    self.name, self.params.endpoint,
                )
                self._was_connected = False
            error = ModbusConnectionError(
                f"hub {self.name!r} cannot connect to {self.params.endpoint}"
            )
            self._report_health(False, str(error))
            raise error
        self._report_health(True, None)
        if self._reconnects.failures:
            _LOGGER.info("Modbus hub %s connected to %s again", self.name, self.params.endpoint)
        self._reconnects.succeeded()
        self._silent_requests = 0
        self._was_connected = True
        if self.params.delay:
            # Some gateways drop requests that arrive right after the TCP handshake.
            await anyio.sleep(self.params.delay)
        return client

    def _report_health(self, connected: bool, error: str | None) -> None:
        if self.on_health is not None:
            self.on_health(connected, error)

    async def close(self) -> None:
        """Close the line for good; later requests raise ``ModbusConnectionError``."""
        self._closed = True
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- requests --------------------------------------------------------------------

    async def read(
        self,
        slave: int,
        register_type: RegisterType,
        address: int,
        count: int,
        *,
        retries: int | None = None,
    ) -> list[int] | list[bool]:
        """Read ``count`` registers or bits; exactly ``count`` values come back."""
        method, fc = _READ_FUNCTION[register_type]
        what = f"read {register_type} {address}..{address + count - 1}"

        def call(client: Any) -> Awaitable[ModbusPDU]:
            return getattr(client, method)(address, count=count, device_id=slave)  # type: ignore[no-any-return]

        def values_of(pdu: ModbusPDU) -> list[Any]:
            return list(pdu.bits if register_type.is_bit else pdu.registers)

        def short(pdu: ModbusPDU) -> str | None:
            got = len(values_of(pdu))
            return f"{got} values instead of {count}" if got < count else None

        pdu = await self._execute(slave, what, fc, call, retries, short)
        return values_of(pdu)[:count]

    async def write_registers(
        self, slave: int, address: int, values: Sequence[int], *, retries: int | None = None
    ) -> None:
        """Write holding registers: function 6 for one value, 16 for several."""
        regs = [int(v) for v in values]
        if not 1 <= len(regs) <= MAX_WRITE_REGISTERS:
            raise ModbusValueError(f"write 1..{MAX_WRITE_REGISTERS} registers, not {len(regs)}")
        if any(not 0 <= v <= 0xFFFF for v in regs):
            raise ModbusValueError(f"register values must be 0..65535, got {regs}")
        await self._write(slave, address, regs, ("write_register", 6), ("write_registers", 16),
                          retries)

    async def write_coils(
        self, slave: int, address: int, values: Sequence[bool], *, retries: int | None = None
    ) -> None:
        """Write coils: function 5 for one value, 15 for several."""
        bits = [bool(v) for v in values]
        if not 1 <= len(bits) <= MAX_WRITE_BITS:
            raise ModbusValueError(f"write 1..{MAX_WRITE_BITS} coils, not {len(bits)}")
        await self._write(slave, address, bits, ("write_coil", 5), ("write_coils", 15), retries)

    async def _write(
        self,
        slave: int,
        address: int,
        values: Sequence[int] | Sequence[bool],
        single: tuple[str, int],
        multiple: tuple[str, int],
        retries: int | None,
    ) -> None:
        """One value with the ``single`` (method, function code), several with ``multiple``."""
        payload: int | bool | list[int] | list[bool]
        if len(values) == 1:
            (method, fc), payload = single, values[0]
            what = f"{method} at address {address}"
        else:
            (method, fc), payload = multiple, list(values)
            what = f"{method} at address {address} count {len(values)}"

        def call(client: Any) -> Awaitable[ModbusPDU]:
            return getattr(client, method)(address, payload, device_id=slave)  # type: ignore[no-any-return]

        await self._execute(slave, what, fc, call, retries)

    async def _execute(
        self,
        slave: int,
        what: str,
        fc: int,
        call: Callable[[Any], Awaitable[ModbusPDU]],
        retries: int | None,
        problem: Callable[[ModbusPDU], str | None] | None = None,
    ) -> ModbusPDU:
        """Run one request with retries on silence; classify and count every failure."""
        stats = self.stats_for(slave)
        attempts = 1 + (self.params.retries if retries is None else retries)
        timeout = self.params.timeout_for(slave)
        failure: ModbusRequestError | None = None
        for _ in range(attempts):
            async with self._lock:
                try:
                    client = await self._ensure_connected()
                except ModbusConnectionError as err:
                    self._count(stats, err, "connection_errors")
                    raise
                stats.requests += 1
                self._rx_seen = self._pdu_seen = False
                pdu: ModbusPDU | None = None
                cause: BaseException | None = None
                try:
                    with anyio.move_on_after(timeout):
                        pdu = await call(client)
                except ConnectionException as err:
                    self._count(stats, err, "connection_errors")
                    client.close()
                    raise ModbusConnectionError(
                        f"hub {self.name!r} lost the connection during {what} "
                        f"to slave {slave}"
                    ) from err
                except ModbusIOException as err:  # pymodbus' own timeout or decode failure
                    cause = err
                except ModbusException as err:
                    cause = err
                if pdu is not None:
                    return self._check_reply(stats, slave, what, fc, pdu, problem)
                failure = self._silence(stats, slave, what, timeout)
                failure.__cause__ = cause
        assert failure is not None
        raise failure

    def _silence(
        self, stats: SlaveStats, slave: int, what: str, timeout: float
    ) -> ModbusRequestError:
        """Classify a request that got no usable answer.

        A well-formed reply that was still being delivered when the deadline passed is
        a timeout ("too late"); bytes that never made a matching reply are a bad frame.
        """
        err: ModbusRequestError
        if self._rx_seen and not self._pdu_seen:
            err = ModbusBadFrameError(
                f"slave {slave} on hub {self.name!r} sent an unusable reply to {what}",
                slave=slave, request=what,
            )
            self._count(stats, err, "bad_frames")
        else:
            err = ModbusTimeoutError(
                f"slave {slave} on hub {self.name!r} did not answer {what} "
                f"within {timeout:g} s",
                slave=slave, request=what,
            )
            self._count(stats, err, "timeouts")
        self._silent_requests += 1
        if self._silent_requests >= LINK_SILENCE_LIMIT and self._client is not None:
            # Nobody on the line answers: the link itself may be half-open. Reopen it.
            _LOGGER.warning(
                "Modbus hub %s: no answer to %d requests in a row; reopening %s",
                self.name, self._silent_requests, self.params.endpoint,
            )
            self._client.close()
            self._silent_requests = 0
        return err

    def _check_reply(
        self,
        stats: SlaveStats,
        slave: int,
        what: str,
        fc: int,
        pdu: ModbusPDU,
        problem: Callable[[ModbusPDU], str | None] | None,
    ) -> ModbusPDU:
        """Accept a reply, or raise for an exception response or a reply that does not fit.

        pymodbus matches replies by unit id (and transaction id on TCP) only; an RTU
        reply that arrives late can pass for the next request's, so the function code
        and the size are checked here.
        """
        self._silent_requests = 0
        if pdu.isError():
            err: ModbusRequestError = ModbusDeviceError(
                slave=slave, request=what, code=int(pdu.exception_code), hub=self.name
            )
            stats.responses += 1
            self._count(stats, err, "exception_responses")
            raise err
        detail = f"function code {pdu.function_code}" if pdu.function_code != fc else None
        if detail is None and problem is not None:
            detail = problem(pdu)
        if detail is not None:
            err = ModbusBadFrameError(
                f"slave {slave} on hub {self.name!r} answered {what} with {detail}",
                slave=slave, request=what,
            )
            self._count(stats, err, "bad_frames")
            raise err
        stats.responses += 1
        return pdu

    @staticmethod
    def _count(stats: SlaveStats, err: BaseException, counter: str) -> None:
        stats.errors += 1
        setattr(stats, counter, getattr(stats, counter) + 1)
        stats.last_error = str(err)
