"""The hub's pollers together: who polls which slave, and one task group to run them.

Entities never talk to pollers' internals: they ask the coordinator for their span's
state, listen for changes, and after a write ask it to ``refresh`` the span.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio

from .client import ModbusHub
from .planner import ReadSpan
from .poller import Listener, SlavePoller, SpanState


class HubCoordinator:
    """All pollers of one hub; ``run`` polls every slave in a task of its own."""

    def __init__(
        self, hub: ModbusHub, *, max_gap: int, max_bit_gap: int, coalesce: bool = True
    ) -> None:
        self.hub = hub
        self.max_gap = max_gap
        self.max_bit_gap = max_bit_gap
        self.coalesce = coalesce
        self.pollers: dict[int, SlavePoller] = {}

    def poller(self, slave: int) -> SlavePoller:
        poller = self.pollers.get(slave)
        if poller is None:
            poller = self.pollers[slave] = SlavePoller(
                self.hub, slave, max_gap=self.max_gap, max_bit_gap=self.max_bit_gap,
                coalesce=self.coalesce,
            )
        return poller

    def add_span(self, span: ReadSpan, interval: float) -> None:
        self.poller(span.slave).add_span(span, interval)

    def listen(self, span: ReadSpan, listener: Listener) -> Callable[[], None]:
        return self.poller(span.slave).listen(span, listener)

    def state(self, span: ReadSpan) -> SpanState:
        return self.poller(span.slave).state(span)

    def available(self, slave: int) -> bool:
        poller = self.pollers.get(slave)
        return poller.available if poller is not None else self.hub.stats_for(slave).available

    async def refresh(self, span: ReadSpan) -> SpanState:
        return await self.poller(span.slave).refresh(span)

    async def run(self) -> None:
        """Poll all slaves concurrently until cancelled (the entry's unload cancels it)."""
        async with anyio.create_task_group() as tg:
            for slave, poller in sorted(self.pollers.items()):
                tg.start_soon(poller.run, name=f"modbus {self.hub.name} slave {slave}")

    def requests_per_cycle(self) -> dict[int, int]:
        """Requests a full cycle of each slave takes with the current plans."""
        return {slave: len(p.plan()) for slave, p in self.pollers.items()}

    def diagnostics(self) -> dict[str, Any]:
        return {
            "hub": self.hub.name,
            "type": str(self.hub.params.hub_type),
            "endpoint": self.hub.params.endpoint,
            "connected": self.hub.connected,
            "slaves": {
                str(slave): {
                    **self.hub.stats_for(slave).as_dict(),
                    "points": len(p.spans),
                    "requests_per_full_cycle": len(p.plan()),
                }
                for slave, p in sorted(self.pollers.items())
            },
        }
