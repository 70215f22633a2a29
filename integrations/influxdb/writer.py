"""The outbox ``Sender``: points from the durable queue to InfluxDB's write API.

**What an outbox message is.** The points one turn of the event loop made, at most 64
(``exporter.py``): a lone state is a message of one point, a burst shares rows. Measured
(``scripts/bench/bench_influxdb.py``, 200,000 states, real InfluxDB 1.x): one message
per point made the outbox's SQLite rows the limit (about 47,000 points/s, 18 us of
CPU per point); sharing rows within a loop turn gives about 112,000 points/s and
6.6 us, with the same durability (a point is safe once the group commit holding it is
on disk; nothing waits in memory for a timer). One message per whole request was not
taken: a point InfluxDB refuses must be dead-lettered *alone*, and a batch held in
memory until ``flush_interval`` is what a kill -9 would lose. A refused point of a
shared message is queued again alone, marked with ``HDR_REFUSED``, and that message
goes straight to the dead letters with the server's reason; the message it came in is
settled (its other points are written).

The sender cuts what the outbox hands over into write requests of at most
``batch_size`` points (the outbox's own batch is ``batch_size // 8`` messages).
**Batching by time**: when it holds fewer than ``batch_size`` points and the oldest is
younger than ``flush_interval``, it waits until it is that old before writing; the
points that arrive meanwhile stay queued (durable) and leave together in the next
request, right after. So a trickle of states makes about two requests per interval
(the waiting batch, usually small, and everything that came meanwhile) instead of one
per state, and no point waits much longer than ``flush_interval``. Holding points in
memory instead would make one request per interval but lose them to a crash;
durability wins. (``flush_interval: 0``: write at once; under load batches fill up by
themselves while a request is out.)

What each answer means:

* **204**: every point is written.
* **400** (also 422): InfluxDB refused some points: a ``partial write`` (1.x writes the
  others and says ``dropped=N``), a field type conflict, a parse error, points beyond
  the retention policy. The points the error names (``unable to parse '<line>'``, or
  ``input field "f" on measurement "m" is type t``) are set aside and the others written
  again; whatever is still refused is **bisected**: halves are written until the
  refused points are alone. A point refused alone is dead-lettered with the server's
  reason; every other point is delivered. Writing a point again is harmless (same
  measurement, tags and time: InfluxDB overwrites it with itself), which is what makes
  the re-writes safe.
* **413**: the request was too large: it is split in halves (a single point refused as
  too large is dead-lettered).
* **401/403**: the credentials (or the right to write) were refused: retrying cannot fix
  that. The points stay queued, the sender stops writing, and ``on_refused`` has the
  entry reloaded, whose set-up then fails with the reason (``setup_error``), as NATS
  does with a refused login.
* **429/503** with ``Retry-After``: no request before that many seconds (an HTTP date
  is understood too); other 5xx, 404 (database or bucket missing), timeouts and refused
  connections: the batch is retried by the outbox with its backoff.

Bodies are gzipped when ``gzip`` is on (the default; large bodies are compressed in a
worker thread so the loop keeps running).
"""

from __future__ import annotations

import gzip
import logging
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import aiohttp
import anyio
import anyio.to_thread

from gatehouse.core.helpers import (
    BurstLog,
    DeliveryOutcome,
    OutboxError,
    OutboxMessage,
    TransientDeliveryError,
)

from .client import InfluxClient
from .const import HDR_REFUSED
from .errors import WriteStopped
from .lineprotocol import escape_field_key, escape_measurement

_LOGGER = logging.getLogger(__name__)

#: Bodies larger than this are gzipped in a worker thread.
THREAD_GZIP_BYTES: Final = 64 * 1024
#: The longest wait a ``Retry-After`` imposes inside one send (longer waits are served
#: across sends: the batch is retried after the rest).
MAX_RETRY_AFTER: Final = 300.0
#: The longest part of a ``Retry-After`` one send waits out.
MAX_WAIT_IN_SEND: Final = 20.0
_PARSE_RE: Final = re.compile(r"unable to parse '(.*?)': ", re.DOTALL)
_CONFLICT_RE: Final = re.compile(
    r'input field "((?:[^"\\]|\\.)*)" on measurement "((?:[^"\\]|\\.)*)" is type (\w+)'
)
_REFUSED_STATUSES: Final = frozenset({401, 403})
_REJECTING_STATUSES: Final = frozenset({400, 422})


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _value_type(value: str) -> str:
    if value.startswith('"'):
        return "string"
    if value.endswith("i") and value[:-1].lstrip("-").isdigit():
        return "integer"
    if value in ("true", "false", "t", "f", "True", "False", "T", "F", "TRUE", "FALSE"):
        return "boolean"
    return "float"


def named_lines(reason: str, lines: Sequence[str]) -> set[int]:
    """Indexes of ``lines`` the server's error names (see the module docstring)."""
    found: set[int] = set()
    for quoted in _PARSE_RE.findall(reason):
        found.update(i for i, line in enumerate(lines) if line == quoted)
    for field, measurement, kind in _CONFLICT_RE.findall(reason):
        head = escape_measurement(_unquote(measurement))
        key = escape_field_key(_unquote(field)) + "="
        for index, line in enumerate(lines):
            if not line.startswith((head + ",", head + " ")):
                continue
            at = line.find(" " + key)
            at = at if at >= 0 else line.find("," + key)
            if at < 0:
                continue
            value = line[at + 1 + len(key):]
            if value.startswith('"'):
                if kind == "string":
                    found.add(index)
                continue
            value = value.split(",", 1)[0].split(" ", 1)[0]
            if _value_type(value) == kind:
                found.add(index)
    return found


class InfluxSender:
    """Writes outbox batches to one InfluxDB (see the module docstring)."""

    def __init__(
        self,
        client: InfluxClient,
        name: str,
        *,
        use_gzip: bool,
        batch_size: int,
        flush_interval: float,
        on_refused: Callable[[str], None],
        on_link: Callable[[], None] | None = None,
    ) -> None:
        self.client = client
        self.name = name
        self.use_gzip = use_gzip
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self._on_refused = on_refused
        #: Queues a refused point alone (set once the outbox link exists).
        self.requeue: Callable[[bytes, Mapping[str, str]], None] = _no_requeue
        self._on_link = on_link
        self.refused: str | None = None
        self.up = False
        self.last_error: str | None = None
        self._not_before = 0.0
        self.requests = 0
        self.points_written = 0
        self.points_rejected = 0
        self.bisections = 0
        self.splits_413 = 0
        self.bytes_sent = 0
        self._errors = BurstLog(
            _LOGGER,
            "InfluxDB %(name)s: cannot write (%(detail)s); points stay queued",
            "InfluxDB %(name)s: writing again after %(count)d failed attempts",
            name=name,
        )

    # -- the outbox's call ---------------------------------------------------------------

    async def send(self, batch: Sequence[OutboxMessage]) -> Sequence[DeliveryOutcome]:
        if self.refused is not None:
            raise TransientDeliveryError(f"credentials refused: {self.refused}")
        outcomes: list[DeliveryOutcome | None] = [None] * len(batch)
        lines: list[bytes] = []
        owners: list[int] = []
        for index, message in enumerate(batch):
            refusal = message.headers.get(HDR_REFUSED)
            if refusal is not None:  # a point refused earlier: straight to the dead letters
                outcomes[index] = DeliveryOutcome.rejected(refusal)
            elif not message.payload:  # a barrier (see ``Exporter.barrier``)
                outcomes[index] = DeliveryOutcome.ACKED
            else:
                for line in message.payload.split(b"\n"):
                    lines.append(line)
                    owners.append(index)
        await self._linger(batch, len(lines))
        await self._respect_retry_after()
        done: list[bool | str | None] = [None] * len(lines)
        stopped: WriteStopped | None = None
        try:
            for start in range(0, len(lines), self.batch_size):
                chunk = list(range(start, min(start + self.batch_size, len(lines))))
                await self._deliver(lines, chunk, done)
        except WriteStopped as err:
            stopped = err
        self._settle(batch, lines, owners, done, outcomes)
        if stopped is not None and all(o is None for o in outcomes):
            raise TransientDeliveryError(str(stopped)) from None  # the whole batch waits
        return [DeliveryOutcome.RETRY if o is None else o for o in outcomes]

    def _settle(
        self,
        batch: Sequence[OutboxMessage],
        lines: list[bytes],
        owners: list[int],
        done: list[bool | str | None],
        outcomes: list[DeliveryOutcome | None],
    ) -> None:
        """Message outcomes from line outcomes: a message is settled when each of its
        lines is written or refused; a refused line of a message with several is queued
        again alone, marked (``HDR_REFUSED``), so the dead letters hold exactly the
        refused points and the written ones are not dead-lettered with them."""
        by_message: dict[int, list[int]] = {}
        for position, owner in enumerate(owners):
            by_message.setdefault(owner, []).append(position)
        for index in sorted(by_message):
            positions = by_message[index]
            states = [done[p] for p in positions]
            if any(state is None for state in states):
                # Retried, with every message after it: the outbox settles a prefix
                # only, so a later message must not queue its refused points now (they
                # would be queued again when it comes back). Written lines are simply
                # written again then: harmless.
                break
            refused = [(p, state) for p, state in zip(positions, states, strict=True)
                       if isinstance(state, str)]
            if not refused:
                outcomes[index] = DeliveryOutcome.ACKED
            elif len(positions) == 1:
                outcomes[index] = DeliveryOutcome.rejected(str(refused[0][1]))
            else:
                try:
                    for position, reason in refused:
                        self.requeue(lines[position], {HDR_REFUSED: str(reason)})
                except OutboxError:
                    # Not stored (a full queue that refuses): the message is retried and
                    # its refused points found again (one stored before may then be
                    # dead-lettered twice: the price of never losing one).
                    break
                outcomes[index] = DeliveryOutcome.ACKED

    async def _linger(self, batch: Sequence[OutboxMessage], points: int) -> None:
        if self.flush_interval <= 0 or points >= self.batch_size or not points:
            return
        oldest = min(message.created for message in batch)
        wait = oldest + self.flush_interval - time.time()
        if wait > 0:
            await anyio.sleep(min(wait, self.flush_interval))

    async def _respect_retry_after(self) -> None:
        """Wait out a ``Retry-After`` within one send, up to ``MAX_WAIT_IN_SEND``
        seconds (well inside the outbox's send timeout); a longer one is served across
        sends: the batch is given back and the next send waits again."""
        wait = self._not_before - time.monotonic()
        if wait <= 0:
            return
        await anyio.sleep(min(wait, MAX_WAIT_IN_SEND))
        left = self._not_before - time.monotonic()
        if left > 0:
            raise TransientDeliveryError(f"the server asked to wait {left:.0f} s more")

    # -- one request, and what to do with its answer --------------------------------------

    async def _deliver(
        self, lines: list[bytes], subset: list[int], done: list[bool | str | None]
    ) -> None:
        """Write ``subset`` (positions in ``lines``), isolating what the server refuses:
        ``done[i]`` becomes True (written) or the refusal's reason."""
        if not subset:
            return
        status, reason = await self._post([lines[i] for i in subset])
        if status in (200, 204):
            self.points_written += len(subset)
            for i in subset:
                done[i] = True
            return
        if len(subset) == 1:
            i = subset[0]
            self.points_rejected += 1
            done[i] = f"HTTP {status}: {reason}"
            _LOGGER.debug("InfluxDB %s: point refused (%s): %r", self.name, reason, lines[i])
            return
        if status == 413:
            self.splits_413 += 1
        else:
            named = named_lines(reason, [lines[i].decode("utf-8", "replace") for i in subset])
            if named and len(named) < len(subset):
                # The others first (one request), then the named ones, each to be
                # refused alone before it is dead-lettered (a name is a hint, not proof).
                suspects = [subset[k] for k in sorted(named)]
                rest = [subset[k] for k in range(len(subset)) if k not in named]
                await self._deliver(lines, rest, done)
                for i in suspects:
                    await self._deliver(lines, [i], done)
                return
            self.bisections += 1
        half = len(subset) // 2
        await self._deliver(lines, subset[:half], done)
        await self._deliver(lines, subset[half:], done)

    async def _post(self, lines: list[bytes]) -> tuple[int, str]:
        """One write request; the status and error text of an answer that rejects
        points (2xx, 400, 413, 422), or ``WriteStopped`` for everything else."""
        body = b"\n".join(lines) + b"\n"
        if self.use_gzip:
            if len(body) > THREAD_GZIP_BYTES:
                body = await anyio.to_thread.run_sync(_gzip, body)
            else:
                body = _gzip(body)
        self.requests += 1
        try:
            result = await self.client.write(body, gzipped=self.use_gzip)
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            self._link(False, f"no answer from {self.client.base}: "
                              f"{err or type(err).__name__}")
            raise WriteStopped(self.last_error) from None
        self._link(True, None)
        self.bytes_sent += len(body)
        status = result.status
        if status in (200, 204) or status in _REJECTING_STATUSES or status == 413:
            self._errors.calm()
            return status, result.error
        self.last_error = f"HTTP {status}: {result.error}"
        if status in _REFUSED_STATUSES:
            self.refused = self.last_error
            _LOGGER.error(
                "InfluxDB %s refused the credentials (%s); points stay queued, the entry "
                "is stopped until they are fixed", self.name, self.last_error,
            )
            self._on_refused(self.last_error)
            raise WriteStopped(self.last_error)
        if result.retry_after is not None and status in (429, 503):
            wait = min(result.retry_after, MAX_RETRY_AFTER)
            self._not_before = time.monotonic() + wait
            self._errors.hit(detail=f"{self.last_error}; retrying after {wait:g} s")
        else:
            self._errors.hit(detail=self.last_error)
        raise WriteStopped(self.last_error)

    def _link(self, up: bool, error: str | None) -> None:
        if error is not None:
            self.last_error = error
            self._errors.hit(detail=error)
        if up != self.up:
            self.up = up
            if up:
                _LOGGER.info("InfluxDB %s: writing to %s", self.name, self.client.target)
            if self._on_link is not None:
                self._on_link()

    def diagnostics(self) -> dict[str, Any]:
        return {
            "up": self.up,
            "refused": self.refused,
            "last_error": self.last_error,
            "requests": self.requests,
            "points_written": self.points_written,
            "points_rejected": self.points_rejected,
            "bisections": self.bisections,
            "splits_413": self.splits_413,
            "bytes_sent": self.bytes_sent,
            "retry_after_left": max(0.0, math.ceil(self._not_before - time.monotonic())),
        }


def _no_requeue(payload: bytes, headers: Mapping[str, str]) -> None:
    raise OutboxError("no outbox link yet")


def _gzip(body: bytes) -> bytes:
    # Level 1: most of the size win for line protocol at a fraction of the CPU.
    return gzip.compress(body, compresslevel=1, mtime=0)
