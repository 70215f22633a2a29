"""The integration's own errors: what went wrong on the wire, in words a user can act on.

pymodbus reports trouble in several shapes (an ``ExceptionResponse`` PDU, a
``ModbusIOException`` for both silence and garbage, a ``ConnectionException``). Callers
of the hub (pollers, entities, services) need to tell *which* trouble it was: a device
exception means the request was wrong and retrying is pointless, silence means the slave
may be gone, garbage means the line is noisy. Hence one class per kind, all
``GatehouseError``s so that service callers see them as ordinary failures.

Device exception codes are named as the Modbus specification names them
(``IllegalDataAddress``), since that is what device manuals print.
"""

from __future__ import annotations

from typing import Final

from gatehouse.core import GatehouseError

#: Exception codes of the Modbus application protocol v1.1b3, section 7.
EXCEPTION_CODE_NAMES: Final[dict[int, str]] = {
    0x01: "IllegalFunction",
    0x02: "IllegalDataAddress",
    0x03: "IllegalDataValue",
    0x04: "ServerDeviceFailure",
    0x05: "Acknowledge",
    0x06: "ServerDeviceBusy",
    0x07: "NegativeAcknowledge",
    0x08: "MemoryParityError",
    0x0A: "GatewayPathUnavailable",
    0x0B: "GatewayTargetDeviceFailedToRespond",
}

ILLEGAL_DATA_ADDRESS: Final = 0x02


def exception_code_name(code: int) -> str:
    """The specification's name of a device exception code (``Unknown0x2A`` if none)."""
    return EXCEPTION_CODE_NAMES.get(code, f"Unknown0x{code:02X}")


class ModbusError(GatehouseError):
    """Base of every error the modbus integration raises."""


class ModbusConfigError(ModbusError):
    """The hub or a point is configured in a way that cannot work."""


class ModbusValueError(ModbusError, ValueError):
    """A value cannot be converted to or from registers (out of range, wrong type)."""


class ModbusConnectionError(ModbusError):
    """The hub has no connection to the line (refused, closed, or backing off)."""


class ModbusRequestError(ModbusError):
    """A request to one slave failed; ``slave`` and ``request`` say which."""

    def __init__(self, message: str, *, slave: int, request: str) -> None:
        super().__init__(message)
        self.slave = slave
        self.request = request


class ModbusTimeoutError(ModbusRequestError):
    """The slave did not answer within its timeout (nothing at all came back)."""


class ModbusBadFrameError(ModbusRequestError):
    """Something came back, but not a usable answer (garbled, truncated, mismatched)."""


class ModbusDeviceError(ModbusRequestError):
    """The slave answered with a Modbus exception response (the request was refused)."""

    def __init__(self, *, slave: int, request: str, code: int, hub: str) -> None:
        self.code = code
        self.code_name = exception_code_name(code)
        super().__init__(
            f"slave {slave} on hub {hub!r} answered {self.code_name} "
            f"(exception code {code}) to {request}",
            slave=slave,
            request=request,
        )
