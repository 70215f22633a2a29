"""Constants shared by the core and integrations: event names, states, limits."""

from __future__ import annotations

from typing import Final

__version__: Final = "0.1.0"

#: The top-level key of configuration.yaml reserved for the core itself.
CORE_DOMAIN: Final = "gatehouse"

STATE_ON: Final = "on"
STATE_OFF: Final = "off"
STATE_UNKNOWN: Final = "unknown"
STATE_UNAVAILABLE: Final = "unavailable"

#: Home Assistant caps state strings at 255 characters; so do we, so that states fit
#: in databases and UIs built for HA.
MAX_STATE_LENGTH: Final = 255

#: Directory inside the config dir holding registries and entries.
STORAGE_DIR: Final = ".storage"

ATTR_FRIENDLY_NAME: Final = "friendly_name"
ATTR_UNIT_OF_MEASUREMENT: Final = "unit_of_measurement"
ATTR_DEVICE_CLASS: Final = "device_class"
ATTR_STATE_CLASS: Final = "state_class"
ATTR_ICON: Final = "icon"
ATTR_ENTITY_ID: Final = "entity_id"
