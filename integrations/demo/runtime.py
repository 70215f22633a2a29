"""What a loaded demo entry holds, and the loop that keeps its values moving."""

from __future__ import annotations

import time

import anyio

from .sensor import CounterSensor, SineSensor
from .switch import DemoSwitch


class DemoRuntime:
    """A loaded demo entry (``entry.runtime_data``): its three entities."""

    def __init__(self, sine: SineSensor, counter: CounterSensor, switch: DemoSwitch) -> None:
        self.sine = sine
        self.counter = counter
        self.switch = switch

    async def run(self, interval: float) -> None:
        """Move the sine every ``interval`` seconds; count while the switch is on.

        Runs as the entry's task (``entry.spawn``), so unloading the entry stops it.
        """
        while True:
            await anyio.sleep(interval)
            self.sine.update(time.time())
            self.sine.write_state()
            if self.switch.is_on:
                self.counter.tick()
                self.counter.write_state()
