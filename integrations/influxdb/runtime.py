"""What a loaded InfluxDB entry holds (``entry.runtime_data``), and how it is made.

``build`` is the whole set-up after validation, in an order that matters: the client,
a credentials probe, the outbox destination with its sender and sensors, the state
listener, the query sensors. The probe is an empty write (``204`` from both 1.x and
2.x when the credentials may write, ``401``/``403`` when not, nothing when the server
is down): a refusal fails set-up with ``ConfigEntryAuthFailed`` (no retry: only new
credentials help); a server that does not answer is no reason to stop, the entry loads
and its outbox keeps the points until it answers (store-and-forward from boot).

A refusal that comes later (credentials changed on the server) stops the sender and
reloads the entry once, whose probe then reports it as set-up would: the entry ends in
``setup_error`` with the reason, its points kept on disk for when it is fixed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import aiohttp

from gatehouse.core import (
    EVENT_DEVICE_REGISTRY_UPDATED,
    EVENT_ENTITY_REGISTRY_UPDATED,
    EVENT_STATE_CHANGED,
    ConfigEntry,
    ConfigEntryAuthFailed,
    ConfigEntryError,
    Host,
    State,
)
from gatehouse.core.helpers import (
    LinkSensor,
    OutboxLink,
    attach_outbox,
    entity_filter,
    priority_rules,
    tag_cipher,
    template_engine,
)

from .client import InfluxClient, ssl_context
from .const import (
    CONF_BATCH_SIZE,
    CONF_FLUSH_INTERVAL,
    CONF_GZIP,
    CONF_NAME,
    CONF_OUTBOX,
    CONF_SSL_CA_CERT,
    CONF_TIMEOUT,
)
from .entity import entry_device
from .exporter import Exporter
from .lineprotocol import Counts
from .point import PointMaker
from .sensor import QuerySensor, query_sensors
from .writer import InfluxSender

_LOGGER = logging.getLogger(__name__)


class InfluxdbRuntime:
    """A loaded InfluxDB entry: its client, sender, outbox link, exporter, sensors."""

    def __init__(
        self,
        config: Mapping[str, Any],
        key: str,
        client: InfluxClient,
        sender: InfluxSender,
        outbox: OutboxLink,
        exporter: Exporter,
        sensors: list[QuerySensor],
        counts: Counts,
    ) -> None:
        self.config = config
        self.name: str = config[CONF_NAME]
        self.key = key
        self.client = client
        self.sender = sender
        self.outbox = outbox
        self.exporter = exporter
        self.maker = exporter.maker
        self.sensors = sensors
        self.counts = counts

    def diagnostics(self) -> dict[str, Any]:
        """Figures for the diagnostics hook (never a password or token)."""
        return {
            "name": self.name,
            "target": self.client.target,
            "writer": self.sender.diagnostics(),
            "outbox": self.outbox.diagnostics(),
            "points_queued": self.exporter.points,
            "messages_queued": self.exporter.messages,
            "states_filtered": self.exporter.filtered,
            "states_skipped": self.maker.skipped,
            "left_out": self.counts.as_dict(),
            "queries": {
                s.name or s.query: {"failures": s.failures, "last_error": s.last_error}
                for s in self.sensors
            },
        }


async def probe(client: InfluxClient) -> str | None:
    """An empty write: raises ``ConfigEntryAuthFailed`` when refused; returns why the
    server could not be reached (None when it answered)."""
    try:
        result = await client.write(b"", gzipped=False)
    except (aiohttp.ClientError, TimeoutError, OSError) as err:
        return f"{err or type(err).__name__}"
    if result.status in (401, 403):
        raise ConfigEntryAuthFailed(
            f"InfluxDB refused the credentials (HTTP {result.status}: {result.error})"
        )
    if result.status == 404:
        _LOGGER.warning(
            "InfluxDB %s: %s (points are queued until it exists)", client.target, result.error
        )
    return None


async def build(
    host: Host, entry: ConfigEntry[Any], config: Mapping[str, Any], key: str
) -> InfluxdbRuntime:
    name: str = config[CONF_NAME]
    device = entry_device(key, name)
    try:
        ssl_option = await ssl_context(config)
    except (OSError, ValueError) as err:
        raise ConfigEntryError(
            f"ssl_ca_cert {config.get(CONF_SSL_CA_CERT)!r}: cannot be read ({err})"
        ) from err
    client = InfluxClient(config, ssl_option)
    entry.on_unload(client.close)
    unreachable = await probe(client)

    reloading = False

    def on_refused(reason: str) -> None:
        nonlocal reloading
        if not reloading:
            reloading = True
            host.spawn(host.config_entries.reload(entry.entry_id), f"reload {entry.entry_id}")

    link = LinkSensor(
        f"{key}_connected", f"{name} connected", lambda: sender.up,
        lambda: {"target": client.target, "last_error": sender.last_error},
        device,
    )
    sender = InfluxSender(
        client, name,
        use_gzip=config[CONF_GZIP],
        batch_size=config[CONF_BATCH_SIZE],
        flush_interval=config[CONF_FLUSH_INTERVAL],
        on_refused=on_refused,
        on_link=link.refresh,
    )
    settings = dict(config[CONF_OUTBOX])
    # A message holds up to MAX_POINTS_PER_MESSAGE points (a burst) or one (a trickle);
    # the sender cuts what it is handed into requests of batch_size points.
    settings["batch_size"] = max(1, config[CONF_BATCH_SIZE] // 8)
    # A send may linger for flush_interval and then write a few times (bisection).
    settings["send_timeout"] = max(
        settings["send_timeout"], config[CONF_FLUSH_INTERVAL] + 4 * config[CONF_TIMEOUT]
    )
    outbox = await attach_outbox(
        host, entry, sender, settings,
        destination=f"influxdb_{key}", name=name, device_info=device, link=link,
    )
    counts = Counts()
    maker = PointMaker(host, config, counts)
    # The entry's own queue and link sensors are not exported: each point written
    # would change them, and their change make another point.
    own = {e.entity_id for e in [*outbox.sensors, link] if e.entity_id is not None}
    selected = entity_filter(host, config)

    def accept(state: State) -> bool:
        return state.entity_id not in own and selected(state)

    rules = priority_rules(host, config)
    cipher = tag_cipher(host)
    exporter = Exporter(name, maker, outbox, accept, rules if rules else None,
                        cipher.is_sensitive if cipher is not None else None)
    sender.requeue = outbox.enqueue_nowait
    # Undone in reverse: stop listening, then queue what the last loop turn made.
    entry.on_unload(exporter.flush)
    entry.on_unload(host.bus.listen(EVENT_STATE_CHANGED, exporter))
    # Device names and areas are tags: made again after a registry change.
    for registry_event in (EVENT_ENTITY_REGISTRY_UPDATED, EVENT_DEVICE_REGISTRY_UPDATED):
        entry.on_unload(host.bus.listen(registry_event, lambda _event: maker.forget()))
    sensors = query_sensors(config, key, client, template_engine(host), device)
    if sensors:
        await host.entities.add(entry, list(sensors))
        for sensor in sensors:
            entry.spawn(sensor.run(), f"influxdb query {sensor.name}")
    if unreachable is not None:
        _LOGGER.warning(
            "InfluxDB %s: %s does not answer (%s); loaded anyway: points are queued "
            "and written once it answers", name, client.target, unreachable,
        )
    return InfluxdbRuntime(config, key, client, sender, outbox, exporter, sensors, counts)
