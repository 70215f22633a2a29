"""JetStream: declaring streams, and the outbox ``Sender`` that publishes with acks.

Why the sender looks like this. Every JetStream publish goes through the host's outbox
(durable on disk first), whose dispatcher hands the sender one batch at a time and
keeps the queue's order only if a batch is settled as an acknowledged *prefix*. Two
ways of publishing a batch are used:

* **Atomic batches** (ADR-50, nats-server 2.12+, streams with ``allow_atomic``; every
  stream this integration declares has it unless ``atomic_publish: false``): all
  messages but the last are plain publishes, the last commits the batch and gets the
  one ack. The server stores all of them or none, so a connection that drops mid-batch
  can never leave message k+1 stored while k was lost — the case that would reorder a
  stream when the batch is retried. One round trip per batch, too.
* **Pipelined publishes** for streams we did not declare: ``publish_async`` for the
  whole batch, then wait for the acks. Fast, but a connection lost mid-batch may store
  a later message before an earlier one is retried (documented, not hidden).

Every message carries ``Nats-Msg-Id`` = destination + outbox row id, so a batch
retried after a lost ack is de-duplicated by the stream. An atomic batch that contains
an already stored id is refused as a whole (err 10201); the sender then publishes that
batch one message at a time, awaiting each ack, which de-duplicates message by message
and pinpoints a message the stream refuses for good (dead-lettered, not retried).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
import nats.errors
import nats.js.errors
from nats.js.api import (
    DiscardPolicy,
    Header,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)

from gatehouse.core import ConfigEntry, ConfigEntryError, ConfigEntryNotReady
from gatehouse.core.helpers import (
    DeliveryOutcome,
    OutboxMessage,
    TransientDeliveryError,
    loads,
)

from .client import NatsClient
from .const import HDR_STREAM, HDR_SUBJECT

_LOGGER = logging.getLogger(__name__)

#: JetStream error codes the sender reacts to.
#: Header names as plain strings (an Enum's ``.value`` costs a lookup per message).
H_MSG_ID = Header.MSG_ID.value
H_BATCH_ID = Header.BATCH_ID.value
H_BATCH_SEQ = Header.BATCH_SEQUENCE.value
H_BATCH_COMMIT = Header.BATCH_COMMIT.value

ERR_STREAM_NAME_IN_USE = 10058  # stream exists with a different configuration
ERR_BATCH_DUPLICATE_ID = 10201  # an atomic batch carries an id the stream already has
#: Answers to a stream declaration that no retry can change (besides every 4xx).
PERMANENT_STREAM_ERRORS = frozenset({10074})  # replicas > 1 on a server without a cluster


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS wildcard matching: ``*`` is one token, a final ``>`` one or more."""
    p_tokens = pattern.split(".")
    s_tokens = subject.split(".")
    for index, token in enumerate(p_tokens):
        if token == ">":
            return len(s_tokens) > index
        if index >= len(s_tokens) or (token != "*" and token != s_tokens[index]):
            return False
    return len(s_tokens) == len(p_tokens)


# --------------------------------------------------------------------------- streams


def stream_config(spec: Mapping[str, Any]) -> StreamConfig:
    """A ``StreamConfig`` from a validated ``streams:`` item."""
    return StreamConfig(
        name=spec["name"],
        subjects=list(spec["subjects"]),
        retention=RetentionPolicy(spec.get("retention", "limits")),
        storage=StorageType(spec.get("storage", "file")),
        num_replicas=int(spec.get("replicas", 1)),
        max_age=spec.get("max_age"),
        max_msgs=spec.get("max_msgs"),
        max_bytes=spec.get("max_bytes"),
        duplicate_window=float(spec.get("duplicate_window", 120.0)),
        discard=DiscardPolicy.OLD,
        allow_atomic=True if spec.get("atomic_publish", True) else None,
    )


async def declare_stream(client: NatsClient, config: StreamConfig) -> None:
    """Create the stream, or bring an existing one to ``config``.

    Declaring is idempotent, so every host of a fleet may declare the shared stream.
    A refusal (bad subjects, more replicas than servers, an immutable field changed)
    is a configuration error; anything else (no JetStream yet, no quorum) may pass.
    """
    js = client.js
    try:
        try:
            await js.add_stream(config)
        except nats.js.errors.BadRequestError as err:
            if err.err_code != ERR_STREAM_NAME_IN_USE:
                raise
            await js.update_stream(config)
    except nats.js.errors.APIError as err:
        message = f"stream {config.name}: {err.description or err}"
        if (err.code is not None and 400 <= err.code < 500) or (
            err.err_code in PERMANENT_STREAM_ERRORS
        ):
            raise ConfigEntryError(message) from err
        raise ConfigEntryNotReady(message) from err
    except (TimeoutError, nats.errors.Error) as err:
        raise ConfigEntryNotReady(f"stream {config.name}: JetStream not answering ({err})") from err


async def keep_declared(client: NatsClient, configs: list[StreamConfig]) -> None:
    """Declare ``configs`` again after every reconnect (an entry task).

    A server that restarted without its store (memory streams, a rebuilt node) would
    otherwise answer every publish with "no responders" until the entry is reloaded.
    """
    changed = anyio.Event()

    def on_status() -> None:
        changed.set()

    undo = client.on_status(on_status)
    seen = client.reconnects
    try:
        while True:
            await changed.wait()
            changed = anyio.Event()
            if client.reconnects == seen or not client.connected:
                continue
            seen = client.reconnects
            for config in configs:
                try:
                    await declare_stream(client, config)
                except ConfigEntryError as err:  # NotReady included: try next time
                    _LOGGER.warning("Could not declare stream again: %s", err)
    finally:
        undo()


async def declare_streams(
    entry: ConfigEntry[Any], client: NatsClient, configs: list[StreamConfig],
    routes: StreamRoutes,
) -> None:
    """Declare ``configs``, keep them declared after reconnects, and tell ``routes``
    (which the sender then starts using: see ``StreamRoutes.ready``)."""
    for config in configs:
        await declare_stream(client, config)
        routes.add(config)
    if configs:
        entry.spawn(keep_declared(client, configs), f"nats {entry.title} streams")
    routes.ready = True


@dataclass(frozen=True, slots=True)
class _Route:
    stream: str
    subjects: tuple[str, ...]
    atomic: bool


class StreamRoutes:
    """Which declared stream a subject lands in, and whether it takes atomic batches.

    Only streams this entry declared are known: looking others up would cost a round
    trip per new subject, and pipelined publishing works for any stream. ``ready`` is
    False until the entry's streams are declared: the sender holds its batches until
    then, so the first one already goes out as an atomic batch where it can.
    """

    def __init__(self) -> None:
        self._routes: dict[str, _Route] = {}
        self._cache: dict[str, tuple[str | None, bool]] = {}
        self.ready = False

    def add(self, config: StreamConfig) -> None:
        assert config.name is not None
        self._routes[config.name] = _Route(
            config.name, tuple(config.subjects or ()), bool(config.allow_atomic)
        )
        self._cache.clear()

    def disable_atomic(self, stream: str) -> None:
        """The server refused atomic batches for ``stream`` (its config changed)."""
        route = self._routes.get(stream)
        if route is not None:
            self._routes[stream] = _Route(route.stream, route.subjects, False)
            self._cache.clear()

    def route(self, subject: str, stream: str | None) -> tuple[str | None, bool]:
        """``(stream, atomic)`` for a message; ``stream`` is the caller's hint."""
        if stream is not None:
            known = self._routes.get(stream)
            return stream, bool(known and known.atomic)
        cached = self._cache.get(subject)
        if cached is None:
            cached = (None, False)
            for route in self._routes.values():
                if any(subject_matches(p, subject) for p in route.subjects):
                    cached = (route.stream, route.atomic)
                    break
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[subject] = cached
        return cached


# --------------------------------------------------------------------------- sender


@dataclass(slots=True)
class _Prepared:
    subject: str
    payload: bytes
    headers: dict[str, str]


def _classify(err: BaseException) -> DeliveryOutcome:
    """A 4xx JetStream answer refuses the message for good; anything else may pass."""
    if isinstance(err, nats.js.errors.APIError) and not isinstance(
        err, nats.js.errors.ServiceUnavailableError
    ):
        code = err.code or 0
        if 400 <= code < 500:
            return DeliveryOutcome.rejected(f"JetStream {err.err_code}: {err.description}")
    return DeliveryOutcome.RETRY


class JetStreamSender:
    """The outbox ``Sender`` of one entry: publishes batches and maps acks to outcomes."""

    def __init__(
        self, client: NatsClient, routes: StreamRoutes, origin: str, ack_timeout: float
    ) -> None:
        self._client = client
        self._routes = routes
        self._origin = origin
        self.ack_timeout = ack_timeout
        self.atomic_batches = 0
        self.fallbacks = 0

    def _prepare(self, message: OutboxMessage) -> _Prepared:
        headers = {k: v for k, v in message.headers.items() if not k.startswith(":")}
        # Row id plus enqueue time (both stored): stable across redeliveries, yet not
        # reused if the outbox database is ever recreated and ids restart at 1.
        headers.setdefault(H_MSG_ID, f"{self._origin}-{message.id}-{message.created:.6f}")
        return _Prepared(message.headers[HDR_SUBJECT], message.payload, headers)

    def _runs(
        self, batch: Sequence[OutboxMessage]
    ) -> Iterable[tuple[str | None, bool, list[OutboxMessage]]]:
        """Consecutive messages bound for the same stream (an atomic batch has one)."""
        current: tuple[str | None, bool] | None = None
        run: list[OutboxMessage] = []
        for message in batch:
            key = self._routes.route(message.headers[HDR_SUBJECT], message.headers.get(HDR_STREAM))
            if run and key != current:
                assert current is not None
                yield current[0], current[1], run
                run = []
            current = key
            run.append(message)
        if run and current is not None:
            yield current[0], current[1], run

    async def send(self, batch: Sequence[OutboxMessage]) -> Sequence[DeliveryOutcome]:
        if not self._client.nc.is_connected:
            raise TransientDeliveryError("not connected to NATS")
        if not self._routes.ready:
            raise TransientDeliveryError("the entry's streams are not declared yet")
        outcomes: list[DeliveryOutcome] = []
        for stream, atomic, run in self._runs(batch):
            if atomic:
                result = await self._atomic(stream, run)
            else:
                result = await self._pipelined(stream, run)
            outcomes.extend(result)
            if len(result) < len(run) or any(o == DeliveryOutcome.RETRY for o in result):
                break
        if not any(o != DeliveryOutcome.RETRY for o in outcomes):
            raise TransientDeliveryError(
                "JetStream did not acknowledge the batch (no stream answering, or timeout)"
            )
        outcomes.extend([DeliveryOutcome.RETRY] * (len(batch) - len(outcomes)))
        return outcomes

    async def _atomic(
        self, stream: str | None, run: list[OutboxMessage]
    ) -> list[DeliveryOutcome]:
        nc = self._client.nc
        batch_id = uuid.uuid4().hex
        last = len(run)
        try:
            for index, message in enumerate(run, 1):
                item = self._prepare(message)
                item.headers[H_BATCH_ID] = batch_id
                item.headers[H_BATCH_SEQ] = str(index)
                if index < last:
                    await nc.publish(item.subject, item.payload, headers=item.headers)
                    continue
                item.headers[H_BATCH_COMMIT] = "1"
                reply = await nc.request(
                    item.subject, item.payload, timeout=self.ack_timeout, headers=item.headers
                )
        except (TimeoutError, nats.errors.Error) as err:
            _LOGGER.debug("Atomic batch to %s not acknowledged: %r", stream, err)
            return []
        try:
            answer = loads(reply.data)
        except ValueError:
            return []
        error = answer.get("error") if isinstance(answer, dict) else None
        if error is None:
            self.atomic_batches += 1
            return [DeliveryOutcome.ACKED] * last
        code = int(error.get("code") or 0)
        if not 400 <= code < 500:
            _LOGGER.debug("Atomic batch to %s refused for now: %s", stream, error)
            return []
        if error.get("err_code") != ERR_BATCH_DUPLICATE_ID and stream is not None:
            _LOGGER.warning(
                "Stream %s refused an atomic batch (%s); publishing one by one",
                stream, error.get("description"),
            )
            if "disabled" in str(error.get("description", "")):
                self._routes.disable_atomic(stream)
        self.fallbacks += 1
        return await self._one_by_one(stream, run)

    async def _one_by_one(
        self, stream: str | None, run: list[OutboxMessage]
    ) -> list[DeliveryOutcome]:
        """Publish and await each ack in turn: slow, exact, de-duplicating."""
        js = self._client.js
        outcomes: list[DeliveryOutcome] = []
        for message in run:
            item = self._prepare(message)
            try:
                await js.publish(
                    item.subject, item.payload, timeout=self.ack_timeout,
                    stream=stream, headers=item.headers,
                )
            except (TimeoutError, nats.errors.Error) as err:
                outcome = _classify(err)
                if outcome == DeliveryOutcome.RETRY:
                    break
                outcomes.append(outcome)
                continue
            outcomes.append(DeliveryOutcome.ACKED)
        return outcomes

    async def _pipelined(
        self, stream: str | None, run: list[OutboxMessage]
    ) -> list[DeliveryOutcome]:
        js = self._client.js
        futures: list[asyncio.Future[Any]] = []
        try:
            for message in run:
                item = self._prepare(message)
                # No wait_stall: a batch (<= 1000) never fills nats-py's window of 4000
                # pending acks, and a stall timeout costs a task per publish.
                futures.append(
                    await js.publish_async(
                        item.subject, item.payload, stream=stream, headers=item.headers
                    )
                )
        except (TimeoutError, nats.errors.Error) as err:
            _LOGGER.debug("Pipelined publish to %s stopped: %r", stream, err)
        try:
            if futures:
                await asyncio.wait(futures, timeout=self.ack_timeout)
            outcomes: list[DeliveryOutcome] = []
            for future in futures:
                if not future.done() or future.cancelled():
                    break
                error = future.exception()
                outcome = DeliveryOutcome.ACKED if error is None else _classify(error)
                if outcome == DeliveryOutcome.RETRY:
                    break
                outcomes.append(outcome)
            return outcomes
        finally:
            for future in futures:
                if not future.done():
                    future.cancel()
                elif not future.cancelled():
                    future.exception()  # mark read: asyncio logs unread ones
