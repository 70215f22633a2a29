"""Constants of the demo integration."""

from typing import Final

DOMAIN: Final = "demo"
CONF_NAME: Final = "name"
CONF_UPDATE_INTERVAL: Final = "update_interval"
CONF_SINE_PERIOD: Final = "sine_period"
CONF_AMPLITUDE: Final = "amplitude"
DEFAULT_NAME: Final = "Demo"
DEFAULT_UPDATE_INTERVAL: Final = 1.0
DEFAULT_SINE_PERIOD: Final = 60.0
DEFAULT_AMPLITUDE: Final = 10.0
