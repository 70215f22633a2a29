"""Watching nodes over one session: a subscription where the server allows it, polling
where it does not.

Per node, ``MonitorSpec`` carries the OPC UA monitoring parameters (sampling interval,
absolute or percent deadband, queue size). All subscribed nodes share one subscription
with the entry's publishing interval. A server that refuses the subscription
(``BadTooManySubscriptions``, ``BadServiceUnsupported``...) or a monitored item (a filter
it does not support, say) does not lose the node: it is polled instead, with the
absolute deadband applied on our side. Nodes configured with ``mode: poll`` are always
polled (servers whose subscriptions misbehave exist).

``NodeMonitor.run`` reads every node once (so entities have a value at once), then
streams changes to ``sink`` until the session breaks, when it raises
``OpcuaConnectionError``; the caller reconnects and starts a new monitor, which
re-resolves namespace URIs and re-creates the subscription.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial

import anyio
from asyncua import ua
from asyncua.common.subscription import (
    DataChangeEvent,
    OverflowPolicy,
    StatusChangeEvent,
    Subscription,
)
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.status_codes import StatusCodes

from .client import OpcuaClient
from .const import (
    DEADBAND_ABSOLUTE,
    DEADBAND_PERCENT,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_QUEUE_SIZE,
    DEFAULT_SAMPLING_INTERVAL,
    MONITOR_POLL,
    MONITOR_SUBSCRIBE,
)
from .errors import OpcuaConnectionError, OpcuaError, OpcuaNodeError
from .nodeid import NodeRef
from .translate import Reading, status_name, translate_errors

_LOGGER = logging.getLogger(__name__)

Sink = Callable[[NodeRef, Reading], None]
"""Called with every new reading of a node (synchronously: keep it quick)."""
Unresolved = Callable[[NodeRef, str], None]
"""Called for a node that cannot be watched in this session, with the reason."""

CREATE_CHUNK = 1000
"""Monitored items per CreateMonitoredItems request."""
KEEPALIVE_SECONDS = 10.0
"""An idle subscription still answers about this often, so a dead one is noticed."""


@dataclass(frozen=True, slots=True)
class MonitorSpec:
    """How to watch one node (intervals in seconds)."""

    mode: str = MONITOR_SUBSCRIBE
    sampling_interval: float = DEFAULT_SAMPLING_INTERVAL
    deadband: float = 0.0
    deadband_type: str = DEADBAND_ABSOLUTE
    queue_size: int = DEFAULT_QUEUE_SIZE
    poll_interval: float = DEFAULT_POLL_INTERVAL

    def data_change_filter(self) -> ua.DataChangeFilter | None:
        if self.deadband <= 0:
            return None
        kind = ua.DeadbandType.Percent if self.deadband_type == DEADBAND_PERCENT else (
            ua.DeadbandType.Absolute
        )
        return ua.DataChangeFilter(
            Trigger=ua.DataChangeTrigger.StatusValue,
            DeadbandType=kind,
            DeadbandValue=float(self.deadband),
        )

    def passes(self, old: Reading | None, new: Reading) -> bool:
        """Client-side filter for polled nodes: a changed status, or a value change
        beyond the absolute deadband (percent needs the EURange: not applied here)."""
        if old is None or old.status != new.status:
            return True
        if old.value == new.value:
            return False
        if self.deadband > 0 and self.deadband_type == DEADBAND_ABSOLUTE:
            try:
                return bool(abs(float(new.value) - float(old.value)) > self.deadband)
            except (TypeError, ValueError):
                return True
        return True


@dataclass(slots=True)
class _Watched:
    ref: NodeRef
    nodeid: ua.NodeId
    spec: MonitorSpec


class NodeMonitor:
    """Streams readings of ``nodes`` from one connected ``OpcuaClient`` to ``sink``."""

    def __init__(
        self,
        client: OpcuaClient,
        nodes: Mapping[NodeRef, MonitorSpec],
        *,
        publishing_interval: float,
        sink: Sink,
        unresolved: Unresolved,
    ) -> None:
        self._client = client
        self._nodes = dict(nodes)
        self._publishing_interval = publishing_interval
        self._sink = sink
        self._unresolved = unresolved
        self._last: dict[NodeRef, Reading] = {}
        self.subscribed: list[NodeRef] = []
        self.polled: list[NodeRef] = []

    async def run(self) -> None:
        """Watch until the session breaks (then raise ``OpcuaConnectionError``)."""
        watched = self._resolve()
        watched = await self._initial_read(watched)
        to_subscribe = [w for w in watched if w.spec.mode == MONITOR_SUBSCRIBE]
        to_poll = [w for w in watched if w.spec.mode == MONITOR_POLL]
        subscription: Subscription | None = None
        handles: dict[int, NodeRef] = {}
        if to_subscribe:
            subscription, handles, refused = await self._subscribe(to_subscribe)
            to_poll.extend(refused)
        self.subscribed = list(handles.values())
        self.polled = [w.ref for w in to_poll]
        failures: list[OpcuaError] = []
        async with anyio.create_task_group() as tg:

            async def guarded(job: Callable[[], Awaitable[None]]) -> None:
                # The first failure ends the whole session: it is reported as itself,
                # not wrapped in an ExceptionGroup, so callers can catch OpcuaError.
                try:
                    await job()
                except OpcuaError as err:
                    failures.append(err)
                    tg.cancel_scope.cancel()

            if subscription is not None:
                tg.start_soon(guarded, partial(self._consume, subscription, handles))
            by_interval: dict[float, list[_Watched]] = {}
            for item in to_poll:
                by_interval.setdefault(item.spec.poll_interval, []).append(item)
            for interval, items in by_interval.items():
                tg.start_soon(guarded, partial(self._poll, interval, items))
            tg.start_soon(guarded, self._watch_session)
        raise failures[0] if failures else OpcuaConnectionError("monitoring stopped")

    async def _watch_session(self) -> None:
        await self._client.wait_closed()
        raise OpcuaConnectionError(f"lost the connection to {self._client.settings.endpoint}")

    def _resolve(self) -> list[_Watched]:
        watched: list[_Watched] = []
        for ref, spec in self._nodes.items():
            try:
                watched.append(_Watched(ref, self._client.resolve(ref), spec))
            except OpcuaNodeError as err:
                self._unresolved(ref, str(err))
        return watched

    async def _initial_read(self, watched: list[_Watched]) -> list[_Watched]:
        """Deliver every node's current value; drop nodes the server does not know."""
        values = await self._client.read_data_values([w.nodeid for w in watched])
        kept: list[_Watched] = []
        for item, dv in zip(watched, values, strict=True):
            code = dv.StatusCode
            if code is not None and code.value in (
                StatusCodes.BadNodeIdUnknown,
                StatusCodes.BadNodeIdInvalid,
                StatusCodes.BadAttributeIdInvalid,
            ):
                self._unresolved(item.ref, f"{item.ref}: {status_name(code)}")
                continue
            kept.append(item)
            reading = self._last[item.ref] = Reading.of(dv)
            self._sink(item.ref, reading)
        return kept

    async def _subscribe(
        self, items: list[_Watched]
    ) -> tuple[Subscription | None, dict[int, NodeRef], list[_Watched]]:
        """Create the subscription and its monitored items; return what was refused."""
        client = self._client.ua_client
        interval_ms = self._publishing_interval * 1000
        keepalive = max(3, math.ceil(KEEPALIVE_SECONDS / self._publishing_interval))
        params = ua.CreateSubscriptionParameters(
            RequestedPublishingInterval=interval_ms,
            RequestedLifetimeCount=keepalive * 3,
            RequestedMaxKeepAliveCount=keepalive,
            MaxNotificationsPerPublish=10000,
            PublishingEnabled=True,
            Priority=0,
        )
        try:
            with translate_errors("creating a subscription"):
                subscription = await client.create_subscription(
                    params,
                    queue_maxsize=max(1000, 20 * len(items)),
                    overflow=OverflowPolicy.DISCONNECT,
                )
        except OpcuaConnectionError:
            raise
        except OpcuaError as err:
            _LOGGER.warning(
                "%s refused a subscription (%s); polling its %d nodes instead",
                self._client.settings.endpoint, err, len(items),
            )
            return None, {}, items
        handles: dict[int, NodeRef] = {}
        refused: list[_Watched] = []
        for start in range(0, len(items), CREATE_CHUNK):
            chunk = items[start : start + CREATE_CHUNK]
            requests = [
                _item_request(start + offset + 1, item) for offset, item in enumerate(chunk)
            ]
            with translate_errors("creating monitored items"):
                results = await subscription.create_monitored_items(requests)
            for request, item, result in zip(requests, chunk, results, strict=True):
                if isinstance(result, ua.StatusCode):
                    _LOGGER.info(
                        "%s: monitored item refused (%s); polling it instead",
                        item.ref, status_name(result),
                    )
                    refused.append(item)
                else:
                    handles[request.RequestedParameters.ClientHandle] = item.ref
        return subscription, handles, refused

    async def _consume(self, subscription: Subscription, handles: dict[int, NodeRef]) -> None:
        sink = self._sink
        async for event in subscription:
            if isinstance(event, DataChangeEvent):
                notification = event.data.monitored_item
                ref = handles.get(notification.ClientHandle)
                if ref is not None:
                    sink(ref, Reading.of(notification.Value))
            elif isinstance(event, StatusChangeEvent):
                status = event.notification.Status
                if status is not None and not status.is_good():
                    raise OpcuaConnectionError(f"subscription ended: {status_name(status)}")
        raise OpcuaConnectionError("the subscription was closed")

    async def _poll(self, interval: float, items: list[_Watched]) -> None:
        last = self._last
        nodeids = [item.nodeid for item in items]
        while True:
            await anyio.sleep(interval)
            values = await self._client.read_data_values(nodeids)
            for item, dv in zip(items, values, strict=True):
                reading = Reading.of(dv)
                if item.spec.passes(last.get(item.ref), reading):
                    last[item.ref] = reading
                    self._sink(item.ref, reading)


def _item_request(handle: int, item: _Watched) -> ua.MonitoredItemCreateRequest:
    spec = item.spec
    parameters = ua.MonitoringParameters(
        ClientHandle=handle,
        SamplingInterval=spec.sampling_interval * 1000,
        QueueSize=spec.queue_size,
        DiscardOldest=True,
    )
    data_filter = spec.data_change_filter()
    if data_filter is not None:
        parameters.Filter = data_filter
    return ua.MonitoredItemCreateRequest(
        ItemToMonitor=ua.ReadValueId(NodeId=item.nodeid, AttributeId=AttributeIds.Value),
        MonitoringMode=ua.MonitoringMode.Reporting,
        RequestedParameters=parameters,
    )
