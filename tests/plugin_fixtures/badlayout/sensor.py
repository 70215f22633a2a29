from gatehouse.core import BinarySensorEntity


class Door(BinarySensorEntity):
    """A binary sensor in the sensor platform's module (and no module docstring)."""
