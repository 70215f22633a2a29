"""Attaching an integration to the host's durable outbox: one schema, one call.

Every integration that sends data off the box (mqtt, nats JetStream, influxdb, aws_iot)
needs the same four things, and before this module each wrote them itself, a little
differently:

1. an ``outbox:`` block in its configuration, meaning the same everywhere
   (``OUTBOX_SCHEMA``, or ``outbox_schema(...)`` with the integration's own defaults);
2. its destination registered for the entry's lifetime, with the block's bounds and
   retry pacing;
3. sensors showing the queue (depth, oldest message age, drops, retries...), refreshed
   on a timer, so an operator sees a backlog building up;
4. **store-and-forward from the first second**: the entry must load and accept messages
   while its peer is unreachable, at boot as later. An exporter whose set-up raises
   ``ConfigEntryNotReady`` when the broker is down has no services for as long as it
   retries, so its callers' messages are refused instead of queued. So an exporter
   attaches its outbox and loads even when the first connect fails, reports the link
   on a connectivity sensor (``link``), and lets the outbox deliver once it is back.

``attach_outbox`` does 2 to 4; ``OutboxLink.enqueue`` is how the integration then sends.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Final

import anyio
import voluptuous as vol

from ..outbox import (
    BreakerPolicy,
    DestinationStats,
    Outbox,
    Sender,
    get_outbox,
)
from ..platforms.binary_sensor import BinarySensorEntity
from ..platforms.sensor import SensorEntity
from ..util.backoff import Backoff

if TYPE_CHECKING:
    from ..config_entry import ConfigEntry
    from ..device_registry import DeviceInfo
    from ..host import Host

_POSITIVE_INT: Final = vol.All(vol.Coerce(int), vol.Range(min=1))
_SECONDS: Final = vol.All(vol.Coerce(float), vol.Range(min=0.001, max=86_400))

#: The defaults of every ``outbox:`` block; an integration may change them.
OUTBOX_DEFAULTS: Final[Mapping[str, Any]] = {
    "max_messages": 100_000,
    "max_bytes": 64 * 1024 * 1024,
    "overflow": "drop_oldest",
    "ttl": None,
    "batch_size": 500,
    "retry_initial": 0.2,
    "retry_max": 10.0,
    "breaker_threshold": 10,
    "breaker_reset": 5.0,
    "send_timeout": 60.0,
    "stats_interval": 10.0,
}


def outbox_schema(*, max_batch_size: int = 10_000, **defaults: Any) -> vol.Schema:
    """The ``outbox:`` block, with ``defaults`` replacing ``OUTBOX_DEFAULTS``.

    Keys (the same for every integration): ``max_messages`` and ``max_bytes`` bound the
    queue (``null``: unbounded on that axis), ``overflow`` (``drop_oldest`` for
    telemetry, ``refuse`` for commands and audit records), ``ttl`` (seconds a message
    may wait; ``null``: for ever), ``batch_size`` (messages per send, at most
    ``max_batch_size``: a protocol's own limit), ``retry_initial``/``retry_max``
    (backoff between failed sends), ``breaker_threshold``/``breaker_reset`` (the
    circuit breaker: failures in a row that open it, seconds until one probe),
    ``send_timeout`` (a send that takes longer counts as failed) and ``stats_interval``
    (how often the queue sensors refresh).
    """
    unknown = set(defaults) - set(OUTBOX_DEFAULTS)
    if unknown:
        raise TypeError(f"unknown outbox settings: {sorted(unknown)}")
    d = {**OUTBOX_DEFAULTS, **defaults}
    return vol.Schema(
        {
            vol.Optional("max_messages", default=d["max_messages"]): vol.Any(None, _POSITIVE_INT),
            vol.Optional("max_bytes", default=d["max_bytes"]): vol.Any(None, _POSITIVE_INT),
            vol.Optional("overflow", default=d["overflow"]): vol.In(["drop_oldest", "refuse"]),
            vol.Optional("ttl", default=d["ttl"]): vol.Any(None, _SECONDS),
            vol.Optional("batch_size", default=d["batch_size"]): vol.All(
                vol.Coerce(int), vol.Range(min=1, max=max_batch_size)
            ),
            vol.Optional("retry_initial", default=d["retry_initial"]): _SECONDS,
            vol.Optional("retry_max", default=d["retry_max"]): _SECONDS,
            vol.Optional("breaker_threshold", default=d["breaker_threshold"]): _POSITIVE_INT,
            vol.Optional("breaker_reset", default=d["breaker_reset"]): _SECONDS,
            vol.Optional("send_timeout", default=d["send_timeout"]): _SECONDS,
            vol.Optional("stats_interval", default=d["stats_interval"]): vol.All(
                vol.Coerce(float), vol.Range(min=0.1, max=3600)
            ),
        }
    )


#: The ``outbox:`` block with the house defaults.
OUTBOX_SCHEMA: Final = outbox_schema()


class OutboxStatSensor(SensorEntity):
    """One figure of one destination's queue (depth, oldest age, drops, retries...).

    ``attach_outbox`` adds these for a destination so operators see a backlog building
    up on the dashboard, and refreshes them on the block's ``stats_interval``.
    """

    STATS: ClassVar[dict[str, tuple[str, str | None]]] = {
        "depth": ("queued messages", None),
        "oldest_age": ("oldest message age", "s"),
        "dropped": ("dropped messages", None),
        "retries": ("delivery retries", None),
        "dead_lettered": ("dead-lettered messages", None),
        "redeliveries": ("redeliveries", None),
    }

    def __init__(
        self, outbox: Outbox, destination: str, stat: str, name_prefix: str,
        device_info: DeviceInfo | None = None,
    ) -> None:
        label, unit = self.STATS[stat]
        self._attr_device_info = device_info
        self._outbox = outbox
        self._destination = destination
        self._stat = stat
        self._attr_unique_id = f"outbox_{destination}_{stat}"
        self._attr_name = f"{name_prefix} outbox {label}"
        self._attr_native_unit_of_measurement = unit
        self._attr_state_class = "measurement"
        self._attr_icon = "mdi:tray-full"

    def refresh(self) -> None:
        stats = self._outbox.stats(self._destination)
        value: Any = getattr(stats, self._stat)
        self._attr_native_value = round(value, 1) if isinstance(value, float) else value
        attributes: dict[str, Any] = {"breaker": str(stats.breaker_state)}
        if self._stat == "depth":
            # Of the queued messages, those that overtake the rest (alarms).
            attributes["high_priority"] = stats.high_priority_depth
        self._attr_extra_state_attributes = attributes
        self.write_state()


class LinkSensor(BinarySensorEntity):
    """On while the entry's link to its peer is up: the exporter's health at a glance.

    The integration calls ``refresh()`` whenever its connection goes up or down;
    ``attributes`` (optional) adds what the integration knows (server, last error).
    """

    _attr_device_class = "connectivity"
    _attr_icon = "mdi:lan-connect"

    def __init__(
        self,
        unique_id: str,
        name: str,
        is_up: Callable[[], bool],
        attributes: Callable[[], Mapping[str, Any]] | None = None,
        device_info: DeviceInfo | None = None,
    ) -> None:
        self._attr_unique_id = unique_id
        self._attr_name = name
        self._attr_device_info = device_info
        self._is_up = is_up
        self._attributes = attributes

    @property
    def is_on(self) -> bool:
        return self._is_up()

    @property
    def extra_state_attributes(self) -> Mapping[str, Any] | None:
        return self._attributes() if self._attributes is not None else None

    def refresh(self) -> None:
        """Write the current link state (a no-op before the entity is added)."""
        if self.entity_id is not None:
            self.write_state()


@dataclasses.dataclass(slots=True)
class OutboxLink:
    """An entry's destination in the host outbox: send through it, read its figures."""

    outbox: Outbox
    destination: str
    sensors: list[OutboxStatSensor]
    link: LinkSensor | None = None

    async def enqueue(
        self, payload: bytes, headers: Mapping[str, str] | None = None,
        *, ttl: float | None = None, priority: int = 0, entity_id: str | None = None,
    ) -> None:
        """Store ``payload`` durably; returns once it is on disk (see ``Outbox.enqueue``).

        A higher ``priority`` leaves before this destination's lower ones (alarms 10,
        telemetry 0, bulk -10: ``PriorityRules`` gives them per state). Name the
        ``entity_id`` whose value the payload carries: a sensitive one (the host's
        ``gatehouse: encryption:``) is then stored encrypted, and decrypted for the sender.
        """
        await self.outbox.enqueue(
            self.destination, payload, headers=headers, ttl=ttl, priority=priority,
            entity_id=entity_id,
        )

    def enqueue_nowait(
        self, payload: bytes, headers: Mapping[str, str] | None = None,
        *, ttl: float | None = None, priority: int = 0, entity_id: str | None = None,
    ) -> None:
        """Accept ``payload`` without waiting for its commit (see ``Outbox.enqueue_nowait``)."""
        self.outbox.enqueue_nowait(
            self.destination, payload, headers=headers, ttl=ttl, priority=priority,
            entity_id=entity_id,
        )

    def stats(self) -> DestinationStats:
        return self.outbox.stats(self.destination)

    def diagnostics(self) -> dict[str, Any]:
        stats = self.stats()
        return {
            "destination": self.destination,
            "depth": stats.depth,
            "high_priority_depth": stats.high_priority_depth,
            "oldest_age": stats.oldest_age,
            "delivered": stats.delivered,
            "dropped": stats.dropped,
            "retries": stats.retries,
            "dead_lettered": stats.dead_lettered,
            "breaker": str(stats.breaker_state.value),
        }


async def attach_outbox(
    host: Host,
    entry: ConfigEntry[Any],
    sender: Sender,
    settings: Mapping[str, Any],
    *,
    destination: str,
    name: str,
    device_info: DeviceInfo | None = None,
    link: LinkSensor | None = None,
) -> OutboxLink:
    """Register ``destination`` for the entry's lifetime and show its queue.

    ``settings`` is a validated ``outbox:`` block. The destination is unregistered when
    the entry unloads; what is queued stays on disk and is delivered after the next
    set-up (or restart). Adds the queue sensors (and ``link``, the connectivity sensor
    an exporter should provide) to the entry, on ``device_info``'s device, and keeps
    them fresh every ``stats_interval`` seconds.
    """
    outbox = await get_outbox(host)
    entry.on_unload(
        outbox.register_destination(
            destination,
            sender,
            max_messages=settings["max_messages"],
            max_bytes=settings["max_bytes"],
            overflow=settings["overflow"],
            ttl=settings["ttl"],
            batch_size=settings["batch_size"],
            backoff=Backoff(initial=settings["retry_initial"], maximum=settings["retry_max"]),
            breaker=BreakerPolicy(
                failure_threshold=settings["breaker_threshold"],
                reset_timeout=settings["breaker_reset"],
            ),
            send_timeout=settings["send_timeout"],
        )
    )
    sensors = [
        OutboxStatSensor(outbox, destination, stat, name, device_info)
        for stat in OutboxStatSensor.STATS
    ]
    if link is not None and link.device_info is None:
        link._attr_device_info = device_info
    await host.entities.add(entry, [*sensors, *([link] if link is not None else [])])
    entry.spawn(
        _refresh(sensors, float(settings["stats_interval"])), f"{entry.domain} outbox stats"
    )
    return OutboxLink(outbox, destination, sensors, link)


async def _refresh(sensors: list[OutboxStatSensor], interval: float) -> None:
    while True:
        for sensor in sensors:
            if sensor.entity_id is not None:  # None: disabled in the registry
                sensor.refresh()
        await anyio.sleep(interval)
