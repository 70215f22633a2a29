"""Durable JetStream consumers (pull or push) that hand each message to a handler.

The rules that keep a consumer from ever stalling, losing or reordering a message:

* a message is acknowledged only *after* its handler returned, so a crash or unload
  in between means redelivery, never loss;
* a message the handler cannot use (``PayloadError``) is counted and *terminated*
  (``+TERM``: never redelivered), so one bad message cannot block the stream by being
  redelivered forever; a handler bug is treated the same way, with a logged traceback;
* the consumer is durable and declared at set-up, so after a restart delivery resumes
  at the first unacknowledged message;
* **order**: JetStream redelivers a delivery lost in transit (its server stopped, a
  consumer leader changed) only after ``ack_wait``, while newer messages keep coming.
  The consumer therefore tracks the stream sequence it applied last and the consumer
  (delivery) sequence it saw last. A jump in the delivery sequence means a delivery
  was lost: the missing stream messages are read directly from the stream
  (``get_msg``, next by subject) and handled first. A message at or below the applied
  sequence (the late redelivery of one handled that way) is acknowledged and skipped.
  Handlers therefore see every message once, in stream order.

``entity_handler`` and ``event_handler`` are the two handlers a ``consumers:`` item
chooses between with its ``target``; ``consumer_spec`` reads the item.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
import nats.errors
import nats.js.errors
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, ConsumerInfo, DeliverPolicy
from nats.js.client import JetStreamContext

from gatehouse.core import ConfigEntry, ConfigEntryError, ConfigEntryNotReady, Host
from gatehouse.core.helpers import IngressHook, PayloadError, payload_text, slugify

from .client import NatsClient, json_or_none

if TYPE_CHECKING:
    from .entity import MessageEntity

_LOGGER = logging.getLogger(__name__)

_RETRY_DELAY = 0.5
_MAX_RETRY_DELAY = 5.0
#: Failed fetches in a row after which the consumer is declared again: someone may
#: have deleted it, or the server lost it (memory storage).
_RECREATE_AFTER = 5


@dataclass(frozen=True, slots=True)
class Delivery:
    """One stream message as a handler sees it, whether delivered or read to fill a gap."""

    subject: str
    data: bytes
    headers: Mapping[str, str]
    stream: str
    seq: int


Handler = Callable[[Delivery], Awaitable[None]]
MalformedListener = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class ConsumerSpec:
    """What a durable consumer is: where it reads and how."""

    name: str
    stream: str
    durable: str
    filter_subject: str | None = None
    filter_subjects: tuple[str, ...] = ()
    mode: str = "pull"
    batch: int = 100
    ack_wait: float = 30.0
    fetch_timeout: float = 2.0

    def config(self) -> ConsumerConfig:
        return ConsumerConfig(
            name=self.durable,
            durable_name=self.durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            filter_subject=None if self.filter_subjects else self.filter_subject,
            filter_subjects=list(self.filter_subjects) or None,
            ack_wait=self.ack_wait,
            max_ack_pending=max(1000, self.batch * 2),
        )


class DurableConsumer:
    """One durable consumer feeding ``handler`` in stream order; counts what it did."""

    def __init__(
        self,
        client: NatsClient,
        spec: ConsumerSpec,
        handler: Handler,
        on_malformed: MalformedListener,
    ) -> None:
        self._client = client
        self.spec = spec
        self._handler = handler
        self._on_malformed = on_malformed
        self._push: JetStreamContext.PushSubscription | None = None
        self._applied = 0  # stream sequence of the last message handled
        self._delivered = 0  # consumer sequence of the last delivery seen
        self.handled = 0
        self.malformed = 0
        self.skipped = 0
        self.gap_filled = 0

    # -- set-up ------------------------------------------------------------------------

    async def ensure(self) -> None:
        """Declare (create or update) the consumer now, so a missing stream fails set-up."""
        spec = self.spec
        if spec.mode == "push":
            return  # declared by subscribe(), which also picks its deliver subject
        try:
            info = await self._client.js.add_consumer(spec.stream, spec.config())
        except nats.js.errors.NotFoundError as err:
            raise ConfigEntryNotReady(
                f"consumer {spec.name}: stream {spec.stream} not found"
            ) from err
        except nats.js.errors.APIError as err:
            if err.code is not None and 400 <= err.code < 500:
                raise ConfigEntryError(f"consumer {spec.name}: {err.description}") from err
            raise ConfigEntryNotReady(f"consumer {spec.name}: {err.description}") from err
        except (TimeoutError, nats.errors.Error) as err:
            raise ConfigEntryNotReady(f"consumer {spec.name}: JetStream not answering") from err
        self._start_at(info)

    def _start_at(self, info: ConsumerInfo) -> None:
        """Everything up to the ack floor was handled (by us, before a restart)."""
        if info.ack_floor is not None and not self._applied:
            self._applied = info.ack_floor.stream_seq

    async def _recreate(self) -> None:
        try:
            await self.ensure()
        except ConfigEntryError as err:  # NotReady included: keep trying
            _LOGGER.debug("Consumer %s: cannot declare it again: %s", self.spec.name, err)

    async def start_push(self) -> None:
        """Bind a push subscription; nats-py runs ``_on_push`` for each message."""
        spec = self.spec
        config = spec.config()
        config.name = None  # push consumers are created by durable name
        try:
            self._push = await self._client.js.subscribe(
                spec.filter_subject or ">",
                durable=spec.durable,
                stream=spec.stream,
                cb=self._on_push,
                manual_ack=True,
                config=config,
            )
            self._start_at(await self._push.consumer_info())
        except nats.js.errors.NotFoundError as err:
            raise ConfigEntryNotReady(
                f"consumer {spec.name}: stream {spec.stream} not found"
            ) from err
        except (TimeoutError, nats.errors.Error) as err:
            raise ConfigEntryNotReady(f"consumer {spec.name}: {err}") from err

    async def _on_push(self, msg: Msg) -> None:
        await self.handle(msg)

    async def start(self, entry: ConfigEntry[Any]) -> None:
        """Declare the consumer and start delivery for the entry's lifetime."""
        await self.ensure()
        if self.spec.mode == "push":
            await self.start_push()
            entry.on_unload(self.stop)
        else:
            entry.spawn(self.run_pull(), f"nats consumer {self.spec.name}")

    # -- delivery ----------------------------------------------------------------------

    async def run_pull(self) -> None:
        """The pull loop (an entry task): fetch, handle in order, ack; forever."""
        spec = self.spec
        sub: JetStreamContext.PullSubscription | None = None
        failures = 0
        while True:
            try:
                if sub is None:
                    sub = await self._client.js.pull_subscribe_bind(
                        durable=spec.durable, stream=spec.stream
                    )
                messages = await sub.fetch(spec.batch, timeout=spec.fetch_timeout)
            except nats.errors.TimeoutError:
                failures = 0
                continue
            except (TimeoutError, nats.errors.Error) as err:
                failures += 1
                level = logging.WARNING if failures == 1 else logging.DEBUG
                _LOGGER.log(level, "Consumer %s: fetch failed (%s); retrying", spec.name, err)
                await anyio.sleep(min(_MAX_RETRY_DELAY, _RETRY_DELAY * failures))
                if failures % _RECREATE_AFTER == 0:
                    await self._recreate()
                    sub = None
                continue
            failures = 0
            for msg in messages:
                await self.handle(msg)

    async def handle(self, msg: Msg) -> None:
        """Handle one delivered message in order, then ack it (or term a bad one)."""
        meta = msg.metadata
        seq, delivery = meta.sequence.stream, meta.sequence.consumer
        lost_delivery = delivery != self._delivered + 1
        self._delivered = max(self._delivered, delivery)
        if seq <= self._applied:
            self.skipped += 1  # handled already (read directly to fill a gap)
            await _settle(msg.ack)
            return
        if lost_delivery and seq > self._applied + 1 and self._applied:
            await self._fill_gap(seq)
        item = Delivery(msg.subject, msg.data, msg.headers or {}, meta.stream, seq)
        ok = await self._run(item)
        self._applied = max(self._applied, seq)
        await _settle(msg.ack if ok else msg.term)

    async def _fill_gap(self, until: int) -> None:
        """Read and handle the stream messages after the applied one, up to ``until``."""
        spec, js = self.spec, self._client.js
        subject = spec.filter_subject or ">"
        while self._applied + 1 < until:
            try:
                raw = await js.get_msg(
                    spec.stream, seq=self._applied + 1, subject=subject, next=True
                )
            except nats.js.errors.NotFoundError:
                return
            except (TimeoutError, nats.errors.Error) as err:
                _LOGGER.warning("Consumer %s: cannot read a missed message: %s", spec.name, err)
                return  # the redelivery will bring it, late
            if raw.seq is None or raw.seq >= until:
                return
            item = Delivery(
                raw.subject or "", raw.data or b"", raw.headers or {}, spec.stream, raw.seq
            )
            self.gap_filled += 1
            await self._run(item)
            self._applied = raw.seq

    async def _run(self, item: Delivery) -> bool:
        """Run the handler; False (counted) when the message is unusable."""
        try:
            await self._handler(item)
        except PayloadError as err:
            self._refuse(item, str(err))
            return False
        except Exception:
            _LOGGER.exception("Consumer %s: handler failed on %s", self.spec.name, item.subject)
            self._refuse(item, "handler error")
            return False
        self.handled += 1
        return True

    def _refuse(self, item: Delivery, why: str) -> None:
        self.malformed += 1
        _LOGGER.debug("Consumer %s: malformed message %s: %s", self.spec.name, item.seq, why)
        self._on_malformed(f"consumer {self.spec.name}")

    async def stop(self) -> None:
        """Unsubscribe a push subscription (the durable consumer stays on the server)."""
        push, self._push = self._push, None
        if push is not None and not self._client.nc.is_closed:
            try:
                await push.unsubscribe()
            except (nats.errors.Error, ValueError):
                _LOGGER.debug("Consumer %s: unsubscribe failed", self.spec.name, exc_info=True)

    def diagnostics(self) -> dict[str, Any]:
        return {
            "mode": self.spec.mode,
            "handled": self.handled,
            "malformed": self.malformed,
            "skipped_redeliveries": self.skipped,
            "gap_filled": self.gap_filled,
            "applied_seq": self._applied,
        }


async def _settle(action: Callable[[], Awaitable[None]]) -> None:
    """Ack/term; a failure (connection lost) only means the server redelivers later."""
    try:
        await action()
    except (nats.errors.Error, TimeoutError) as err:
        _LOGGER.debug("Could not settle a message: %s", err)


# --------------------------------------------------------------------------- configured


def consumer_spec(item: Mapping[str, Any]) -> ConsumerSpec:
    """The spec of a validated ``consumers:`` item."""
    return ConsumerSpec(
        name=item["name"],
        stream=item["stream"],
        durable=item.get("durable") or slugify(item["name"]),
        filter_subject=item.get("filter_subject"),
        mode=item["mode"],
        batch=item["batch"],
        ack_wait=item["ack_wait"],
        fetch_timeout=item["fetch_timeout"],
    )


def entity_handler(entity: MessageEntity, ingress: IngressHook | None = None) -> Handler:
    """Each message sets the entity's state (``target: sensor``/``binary_sensor``).

    With an ingress guard installed (schema_guard), a message it refuses is a
    ``PayloadError``: counted as malformed and terminated (the guard quarantined it;
    a redelivery would only be refused again).
    """

    async def to_entity(item: Delivery) -> None:
        if ingress is not None and ingress.guard is not None:
            verdict = ingress.check(item.subject.replace(".", "/"), item.data,
                                    transport="nats")
            if not verdict.passed:
                raise PayloadError(f"refused by the ingress guard: {verdict.reason}")
        entity.apply(item.data, item.subject)

    return to_entity


def event_handler(host: Host, event_type: str, consumer: str) -> Handler:
    """Each message fires ``event_type`` on the bus (``target: event``)."""

    async def to_event(item: Delivery) -> None:
        host.bus.fire(
            event_type,
            {
                "subject": item.subject,
                "data": payload_text(item.data),
                "json": json_or_none(item.data),
                "headers": dict(item.headers),
                "stream": item.stream,
                "sequence": item.seq,
                "consumer": consumer,
            },
        )

    return to_event
