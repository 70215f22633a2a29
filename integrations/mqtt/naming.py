"""Names of discovered entities, by Home Assistant's rules.

MQTT entities in Home Assistant have ``has_entity_name``: the entity's own name is what
the config says, and what a user sees (``friendly_name``, and the entity id made from
it) is the device's name followed by it:

* ``name: "Temp"`` under device "Bedroom": "Bedroom Temp";
* ``name: null``: the device's name alone (the device's main entity);
* no ``name`` key: the device class's name ("Temperature": "Bedroom Temperature",
  ``sensor.bedroom_temperature``) for sensors, binary sensors and numbers that have a
  device class, else the platform's default ("MQTT Sensor"...);
* without a device, the entity's own name alone.

Before, an unnamed config got its state topic as its name
(``sensor.bedroom_homeassistant_sensor_sensorbedroom_state``). Core entities carry one
name, not two parts, so the discovery consumer hands the composed name to the entity.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

#: Home Assistant's defaults for an entity that has neither a name nor a device class.
DEFAULT_NAMES: Final = {
    "sensor": "MQTT Sensor",
    "binary_sensor": "MQTT Binary sensor",
    "switch": "MQTT Switch",
    "number": "MQTT Number",
}

#: Platforms that name an unnamed entity after its device class (HA's
#: ``_default_to_device_class_name``; switches do not).
_CLASS_NAMED: Final = frozenset({"sensor", "binary_sensor", "number"})

#: Device class names that are not simply the class with spaces, capitalised (Home
#: Assistant 2025.4's English strings for sensor, binary_sensor and number).
_CLASS_NAME_EXCEPTIONS: Final = {
    "aqi": "Air quality index",
    "battery_charging": "Charging",
    "energy_distance": "Energy per distance",
    "energy_storage": "Stored energy",
    "monetary": "Balance",
    "ph": "pH",
    "pm1": "PM1",
    "pm10": "PM10",
    "pm25": "PM2.5",
    "volume_storage": "Stored volume",
}


def device_class_name(device_class: str) -> str:
    """The English name Home Assistant gives an entity of ``device_class``."""
    return _CLASS_NAME_EXCEPTIONS.get(device_class) or device_class.replace("_", " ").capitalize()


def entity_name(platform: str, config: Mapping[str, Any]) -> str:
    """The full name (device name + entity name) of a validated discovery config."""
    device = config.get("device") or {}
    device_name = device.get("name") if isinstance(device, Mapping) else None
    if "name" in config:
        own: str | None = config["name"]
    else:
        device_class = config.get("device_class")
        if platform in _CLASS_NAMED and device_class and device_class != "enum":
            own = device_class_name(device_class)
        else:
            own = DEFAULT_NAMES.get(platform, "MQTT")
    if not device_name:
        return own or DEFAULT_NAMES.get(platform, "MQTT")
    if not own:
        return str(device_name)
    return f"{device_name} {own}"
