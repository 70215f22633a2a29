"""The problem entity: on while the recorder cannot write (disk full, I/O errors,
corruption), with the reason and the counts of rows lost or dropped."""

from __future__ import annotations

from gatehouse.core import BinarySensorEntity

from .const import PROBLEM_KEY
from .entity import recorder_device
from .writer import RecorderWriter


class RecorderProblemSensor(BinarySensorEntity):
    """Problem: the recorder's last commit failed."""

    _attr_device_class = "problem"
    _attr_icon = "mdi:database-alert"

    def __init__(self, key: str, name: str, writer: RecorderWriter) -> None:
        self._attr_unique_id = f"{key}_{PROBLEM_KEY}"
        self._attr_name = f"{name} problem"
        self._attr_device_info = recorder_device(key, name)
        self.writer = writer
        self._fill()

    def _fill(self) -> None:
        writer = self.writer
        self._attr_is_on = writer.problem is not None
        self._attr_extra_state_attributes = {
            "problem": writer.problem, "lost": writer.lost, "dropped": writer.dropped,
            "database": str(writer.db.path),
        }

    def refresh(self) -> None:
        """In the loop, after the writer reported a change."""
        self._fill()
        if self.host is not None and self.entity_id is not None:
            self.write_state()
