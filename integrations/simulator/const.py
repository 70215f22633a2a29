"""Constants of the simulator integration."""

from typing import Final

DOMAIN: Final = "simulator"

CONF_NAME: Final = "name"
CONF_HOST: Final = "host"
CONF_PORT: Final = "port"
CONF_SLAVES: Final = "slaves"
CONF_STEP_INTERVAL: Final = "step_interval"
CONF_OPCUA: Final = "opcua"

DEFAULT_NAME: Final = "Simulator"
DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_MODBUS_PORT: Final = 5020
DEFAULT_OPCUA_PORT: Final = 4840
DEFAULT_STEP_INTERVAL: Final = 0.5

#: Seconds an OPC UA server gets to start listening before the entry gives up on it.
OPCUA_START_TIMEOUT: Final = 30.0
