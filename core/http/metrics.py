"""Prometheus metrics: the core's figures, plus a small registry others can add to.

The core's own figures (events fired, listeners, states, service calls, entries by
state, entities per integration) are read from the host at scrape time, so nothing is
counted twice and nothing is paid for between scrapes. Other parts of the house (the
outbox, an integration) add their own with::

    from gatehouse.core.http.metrics import get_metrics
    undo = get_metrics(host).gauge(
        "gatehouse_outbox_pending", "Messages waiting to be sent", lambda: queue.size
    )
    entry.on_unload(undo)

A callback returns one number, or ``{(label values...): number}`` when ``labels`` were
declared. The registry lives in ``host.data`` whether or not the web server runs, so a
component never has to care; prometheus-client is imported only when rendering.

Labels are bounded: an API client may subscribe to any event type it likes, so listeners
that exist only because clients asked for them (``client_listening``) do not get an
``event_type`` label of their own; they are counted under ``other``. Event types the
house itself listens to keep theirs.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from ..keys import HostKey

if TYPE_CHECKING:
    from ..host import Host

_LOGGER = logging.getLogger(__name__)

Sample = float | int | Mapping[tuple[str, ...], float | int]
_NAME: Final = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")


@dataclass(frozen=True, slots=True)
class _Metric:
    name: str
    documentation: str
    kind: str  # "gauge" or "counter"
    labels: tuple[str, ...]
    read: Callable[[], Sample]


class MetricsRegistry:
    """Extra metrics by name; the core's figures are added by ``render`` itself."""

    def __init__(self, host: Host) -> None:
        self._host = host
        self._metrics: dict[str, _Metric] = {}
        #: Bus listeners added on behalf of API clients, by event type.
        self.client_listeners: Counter[str] = Counter()

    def client_listening(self, event_type: str) -> Callable[[], None]:
        """Note a listener an API client asked for; returns the undo (call on removal)."""
        self.client_listeners[event_type] += 1

        def done() -> None:
            self.client_listeners[event_type] -= 1
            if self.client_listeners[event_type] <= 0:
                del self.client_listeners[event_type]

        return done

    def gauge(
        self, name: str, documentation: str, read: Callable[[], Sample],
        *, labels: Sequence[str] = (),
    ) -> Callable[[], None]:
        """Add a gauge; returns the undo that removes it (give it to ``on_unload``)."""
        return self._add(_Metric(name, documentation, "gauge", tuple(labels), read))

    def counter(
        self, name: str, documentation: str, read: Callable[[], Sample],
        *, labels: Sequence[str] = (),
    ) -> Callable[[], None]:
        """Add a counter (``read`` returns the running total; ``_total`` is appended)."""
        return self._add(_Metric(name, documentation, "counter", tuple(labels), read))

    def _add(self, metric: _Metric) -> Callable[[], None]:
        if not _NAME.match(metric.name) or metric.name.endswith("_total"):
            raise ValueError(f"invalid metric name {metric.name!r}")
        if metric.name in self._metrics or metric.name in _CORE_NAMES:
            raise ValueError(f"metric {metric.name!r} exists already")
        self._metrics[metric.name] = metric

        def remove() -> None:
            if self._metrics.get(metric.name) is metric:
                del self._metrics[metric.name]

        return remove

    def names(self) -> list[str]:
        return sorted(self._metrics)

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Collector(self))
        return generate_latest(registry), CONTENT_TYPE_LATEST

    def collect(self) -> Iterator[Any]:
        yield from _core_families(self._host, self.client_listeners)
        for metric in list(self._metrics.values()):
            try:
                value = metric.read()
            except Exception:
                _LOGGER.exception("Metric %s failed to read", metric.name)
                continue
            yield _family(metric.kind, metric.name, metric.documentation, metric.labels, value)


class _Collector:
    def __init__(self, registry: MetricsRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Any]:
        return self._registry.collect()


METRICS: Final[HostKey[MetricsRegistry]] = HostKey("http.metrics")


def get_metrics(host: Host) -> MetricsRegistry:
    """The host's metrics registry (made on first use)."""
    registry = host.data.get(METRICS)
    if registry is None:
        registry = MetricsRegistry(host)
        host.data[METRICS] = registry
    return registry


def _family(
    kind: str, name: str, documentation: str, labels: tuple[str, ...], value: Sample
) -> Any:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    cls = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
    if not labels:
        if isinstance(value, Mapping):
            raise TypeError(f"metric {name} has no labels but returned a mapping")
        return cls(name, documentation, value=float(value))
    family = cls(name, documentation, labels=list(labels))
    if not isinstance(value, Mapping):
        raise TypeError(f"metric {name} has labels but returned a number")
    for key, number in value.items():
        family.add_metric([str(k) for k in key], float(number))
    return family


_CORE_NAMES: Final = frozenset({
    "gatehouse_bus_events_fired", "gatehouse_bus_listeners", "gatehouse_states",
    "gatehouse_service_calls", "gatehouse_services", "gatehouse_config_entries",
    "gatehouse_entities", "gatehouse_info",
    *(f"gatehouse_outbox_{stat}" for stat, *_ in (
        ("depth",), ("oldest_age_seconds",), ("enqueued",), ("delivered",), ("dropped",),
        ("expired",), ("dead_lettered",), ("retries",), ("redeliveries",), ("breaker_open",),
    )),
})

#: Outbox figures per destination: (metric suffix, kind, help, DestinationStats field).
_OUTBOX_FIGURES: Final = (
    ("depth", "gauge", "Messages waiting in the outbox", "depth"),
    ("oldest_age_seconds", "gauge", "Age of the oldest waiting message", "oldest_age"),
    ("enqueued", "counter", "Messages enqueued", "enqueued"),
    ("delivered", "counter", "Messages acknowledged by the destination", "delivered"),
    ("dropped", "counter", "Messages dropped on overflow", "dropped"),
    ("expired", "counter", "Messages dropped after their TTL", "expired"),
    ("dead_lettered", "counter", "Messages refused for good", "dead_lettered"),
    ("retries", "counter", "Delivery attempts retried", "retries"),
    ("redeliveries", "counter", "Messages sent more than once", "redeliveries"),
)


#: The label under which listeners only API clients asked for are counted.
OTHER_EVENTS: Final = "other"


def _listener_labels(
    listeners: Mapping[str, int], clients: Mapping[str, int]
) -> dict[tuple[str, ...], int]:
    """Listener counts by event type, client-only types folded into ``other``."""
    out: dict[tuple[str, ...], int] = {}
    other = 0
    for event_type, count in listeners.items():
        if count > clients.get(event_type, 0) and event_type != OTHER_EVENTS:
            out[(event_type,)] = count
        else:
            other += count
    if other:
        out[(OTHER_EVENTS,)] = other
    return out


def _core_families(host: Host, client_listeners: Mapping[str, int]) -> Iterator[Any]:
    from prometheus_client.core import InfoMetricFamily

    from ..config_entries import ConfigEntryState
    from ..const import __version__

    yield InfoMetricFamily("gatehouse", "Gatehouse version", value={"version": __version__})
    yield _family("counter", "gatehouse_bus_events_fired", "Events fired on the bus", (),
                  host.bus.fired_count)
    yield _family(
        "gauge", "gatehouse_bus_listeners", "Bus listeners by event type",
        ("event_type",), _listener_labels(host.bus.listeners(), client_listeners),
    )
    yield _family("gauge", "gatehouse_states", "Entity states held", (), len(host.states))
    yield _family("counter", "gatehouse_service_calls", "Service calls made", (),
                  host.services.call_count)
    yield _family("gauge", "gatehouse_services", "Services registered", (),
                  host.services.count())
    by_state = dict.fromkeys((str(s) for s in ConfigEntryState), 0)
    per_domain: dict[str, int] = {}
    for entry in host.config_entries.entries():
        by_state[str(entry.state)] = by_state.get(str(entry.state), 0) + 1
        count = len(host.entities.of_entry(entry.entry_id))
        per_domain[entry.domain] = per_domain.get(entry.domain, 0) + count
    yield _family("gauge", "gatehouse_config_entries", "Config entries by state", ("state",),
                  {(k,): v for k, v in by_state.items()})
    yield _family("gauge", "gatehouse_entities", "Live entities by integration",
                  ("integration",), {(k,): v for k, v in sorted(per_domain.items())})
    yield from _outbox_families(host)


def _outbox_families(host: Host) -> Iterator[Any]:
    """Per-destination figures of the host's outbox, once something has opened it."""
    from ..outbox import OUTBOX, BreakerState

    outbox = host.data.get(OUTBOX)
    if outbox is None:
        return
    stats = {name: outbox.stats(name) for name in outbox.destinations()}
    for suffix, kind, documentation, field in _OUTBOX_FIGURES:
        yield _family(
            kind, f"gatehouse_outbox_{suffix}", documentation, ("destination",),
            {(name,): getattr(s, field) or 0 for name, s in stats.items()},
        )
    yield _family(
        "gauge", "gatehouse_outbox_breaker_open", "1 while the destination's breaker is open",
        ("destination",),
        {(name,): int(s.breaker_state is BreakerState.OPEN) for name, s in stats.items()},
    )
