"""A minimal exporter built on ``attach_outbox``: what the helper promises, in 40 lines.

Its peer is in-process (``SINKS[entry_id]``): ``up`` says whether the link is up, and
``got`` collects what was delivered, so the test can take the link down and up at will.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anyio

from gatehouse.core import ConfigEntry, Host, hookimpl
from gatehouse.core.helpers import (
    OUTBOX_SCHEMA,
    DeliveryOutcome,
    LinkSensor,
    OutboxLink,
    OutboxMessage,
    TransientDeliveryError,
    attach_outbox,
)


class Peer:
    def __init__(self) -> None:
        self.up = False
        self.got: list[bytes] = []
        self.changed = anyio.Event()

    async def send(self, batch: Sequence[OutboxMessage]) -> Sequence[DeliveryOutcome]:
        if not self.up:
            raise TransientDeliveryError("peer down")
        self.got.extend(m.payload for m in batch)
        return [DeliveryOutcome.ACKED] * len(batch)


PEERS: dict[str, Peer] = {}
LINKS: dict[str, OutboxLink] = {}


class SinkIntegration:
    domain = "sink"

    async def setup_entry(self, host: Host, entry: ConfigEntry[Any]) -> None:
        peer = PEERS.setdefault(entry.entry_id, Peer())
        settings = OUTBOX_SCHEMA({"retry_initial": 0.01, "retry_max": 0.02,
                                  "stats_interval": 0.1})
        link = LinkSensor(f"{entry.entry_id}_link", f"{entry.title} link", lambda: peer.up)
        LINKS[entry.entry_id] = await attach_outbox(
            host, entry, peer, settings, destination=f"sink.{entry.entry_id}",
            name=entry.title, device_info={"identifiers": {("sink", entry.entry_id)},
                                           "name": entry.title},
            link=link,
        )

    async def unload_entry(self, host: Host, entry: ConfigEntry[Any]) -> None:
        LINKS.pop(entry.entry_id, None)


@hookimpl
def gatehouse_integration() -> SinkIntegration:
    return SinkIntegration()
