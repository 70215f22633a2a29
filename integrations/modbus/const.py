"""Constants of the modbus integration: configuration keys, defaults and protocol limits."""

from __future__ import annotations

import enum
from typing import Final

DOMAIN: Final = "modbus"

# -- hub keys -----------------------------------------------------------------------------
CONF_NAME: Final = "name"
CONF_TYPE: Final = "type"
CONF_HOST: Final = "host"
CONF_PORT: Final = "port"
CONF_BAUDRATE: Final = "baudrate"
CONF_BYTESIZE: Final = "bytesize"
CONF_PARITY: Final = "parity"
CONF_STOPBITS: Final = "stopbits"
CONF_TIMEOUT: Final = "timeout"
CONF_RETRIES: Final = "retries"
CONF_DELAY: Final = "delay"
CONF_RECONNECT_DELAY: Final = "reconnect_delay"
CONF_RECONNECT_DELAY_MAX: Final = "reconnect_delay_max"
CONF_SCAN_INTERVAL: Final = "scan_interval"
CONF_MAX_GAP: Final = "max_gap"
CONF_MAX_BIT_GAP: Final = "max_bit_gap"
CONF_COALESCE: Final = "coalesce"
CONF_DIAGNOSTICS: Final = "diagnostics"
CONF_SLAVE_TIMEOUTS: Final = "slave_timeouts"

CONF_SENSORS: Final = "sensors"
CONF_BINARY_SENSORS: Final = "binary_sensors"
CONF_SWITCHES: Final = "switches"
CONF_NUMBERS: Final = "numbers"

# -- point keys ---------------------------------------------------------------------------
CONF_UNIQUE_ID: Final = "unique_id"
CONF_SLAVE: Final = "slave"
CONF_ADDRESS: Final = "address"
CONF_INPUT_TYPE: Final = "input_type"
CONF_WRITE_TYPE: Final = "write_type"
CONF_DATA_TYPE: Final = "data_type"
CONF_COUNT: Final = "count"
CONF_BYTE_ORDER: Final = "byte_order"
CONF_WORD_ORDER: Final = "word_order"
CONF_SCALE: Final = "scale"
CONF_OFFSET: Final = "offset"
CONF_PRECISION: Final = "precision"
CONF_BIT: Final = "bit"
CONF_SLAVE_COUNT: Final = "slave_count"
CONF_ADDRESS_COUNT: Final = "address_count"
CONF_ADDRESS_STRIDE: Final = "address_stride"
CONF_UNIT: Final = "unit_of_measurement"
CONF_DEVICE_CLASS: Final = "device_class"
CONF_STATE_CLASS: Final = "state_class"
CONF_ICON: Final = "icon"
CONF_COMMAND_ON: Final = "command_on"
CONF_COMMAND_OFF: Final = "command_off"
CONF_VERIFY: Final = "verify"
CONF_MIN: Final = "min"
CONF_MAX: Final = "max"
CONF_STEP: Final = "step"

# -- defaults -----------------------------------------------------------------------------
DEFAULT_TCP_PORT: Final = 502
DEFAULT_TIMEOUT: Final = 3.0
DEFAULT_RETRIES: Final = 2
DEFAULT_DELAY: Final = 0.0
DEFAULT_RECONNECT_DELAY: Final = 0.5
DEFAULT_RECONNECT_DELAY_MAX: Final = 30.0
DEFAULT_SCAN_INTERVAL: Final = 5.0
DEFAULT_MAX_GAP: Final = 10
DEFAULT_MAX_BIT_GAP: Final = 128
DEFAULT_SLAVE: Final = 1
DEFAULT_BAUDRATE: Final = 19200

#: Seconds between probes of a slave that stopped answering never exceed this, so a dead
#: slave on a shared line costs at most one timeout per this period.
PROBE_INTERVAL_MAX: Final = 30.0

#: After this many timeouts in a row with no answer from *any* slave, the link itself is
#: presumed dead (a half-open TCP connection) and is reopened.
LINK_SILENCE_LIMIT: Final = 5

# -- protocol limits (Modbus application protocol spec v1.1b3) -----------------------------
MAX_READ_REGISTERS: Final = 125
MAX_READ_BITS: Final = 2000
MAX_WRITE_REGISTERS: Final = 123
MAX_WRITE_BITS: Final = 1968
MAX_SLAVE: Final = 247
MAX_ADDRESS: Final = 65535


class HubType(enum.StrEnum):
    """How the hub reaches its slaves."""

    TCP = "tcp"
    RTU_OVER_TCP = "rtuovertcp"
    SERIAL = "serial"


class RegisterType(enum.StrEnum):
    """The four Modbus data tables; the YAML calls this ``input_type``/``write_type``."""

    COIL = "coil"
    DISCRETE_INPUT = "discrete_input"
    HOLDING = "holding"
    INPUT = "input"

    @property
    def is_bit(self) -> bool:
        """Coils and discrete inputs are read bit by bit, registers word by word."""
        return self in (RegisterType.COIL, RegisterType.DISCRETE_INPUT)

    @property
    def read_limit(self) -> int:
        """Most items one read request may ask for."""
        return MAX_READ_BITS if self.is_bit else MAX_READ_REGISTERS
