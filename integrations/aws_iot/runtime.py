"""What a loaded AWS IoT entry holds (``entry.runtime_data``)."""

from __future__ import annotations

from typing import Any


class AwsIotRuntime:
    """The entry's connection and exporters (filled in by ``setup_entry``)."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
