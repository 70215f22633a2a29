"""Group commit for the quarantine: ``submit`` from the loop, one writer task commits.

``Guard.check`` runs inline and cannot wait for a disk, so ``submit`` only appends the
rejected message to a list and wakes the writer; the writer takes the whole list,
prepares it (masks PII, hashes, truncates) and commits it in one transaction in a worker
thread. While one round is on its way to the disk the next one fills, so rounds grow
with the rejection rate by themselves (the same idea as the outbox's commit rounds in
``gatehouse.core.outbox``, whose writer is internal to the outbox and typed to its rows;
this one is smaller: nobody waits for a quarantine commit except ``flush``/the proxy).

Bounded: at most ``max_pending`` messages wait for a round. Beyond that a rejected
message is counted as ``overflow`` and not kept (the verdict stands: it still never
reaches entities), with one log line per burst: a flood of bad messages can cost
neither unbounded memory nor a blocked loop.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import anyio

from gatehouse.core.helpers import BurstLog

from . import decode
from .const import DEFAULT_MAX_BYTES, DEFAULT_MAX_DEPTH, DEFAULT_MAX_PENDING
from .errors import QuarantineFull
from .pii import PiiMask
from .store import Entry, Filters, QuarantineStore, make_entry
from .verdict import Rejected

_LOGGER = logging.getLogger(__name__)


@dataclass(slots=True)
class _Pending:
    verdict: Rejected
    payload: bytes


class Round:
    """Shared by every message of one commit round; ``done`` is set when committed."""

    __slots__ = ("done", "error", "ids")

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.error: BaseException | None = None
        self.ids: list[int] = []


class QuarantineWriter:
    """See the module docstring."""

    def __init__(
        self,
        store: QuarantineStore,
        mask_for: Callable[[str | None], PiiMask],
        *,
        max_pending: int = DEFAULT_MAX_PENDING,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_depth: int = DEFAULT_MAX_DEPTH,
    ) -> None:
        self.store = store
        self.limiter = anyio.CapacityLimiter(1)
        self._mask_for = mask_for
        self._max_pending = max_pending
        self._max_bytes = max_bytes
        self._max_depth = max_depth
        self._pending: list[_Pending] = []
        self._round = Round()
        self._inflight: Round | None = None
        self._wake = anyio.Event()
        self._durable = False
        self._closing = False
        self.overflow = 0
        self.failed = 0
        self._overflow_log = BurstLog(
            _LOGGER,
            "schema_guard: quarantine full (%(pending)d waiting); rejected messages are "
            "dropped until it catches up",
            "schema_guard: quarantine caught up after %(count)d dropped",
            pending=max_pending,
        )

    @property
    def pending(self) -> int:
        return len(self._pending)

    def submit(self, verdict: Rejected, payload: bytes) -> Round | None:
        """Queue a rejected message for the next round (None: over the bound, dropped)."""
        if self._closing or len(self._pending) >= self._max_pending:
            self.overflow += 1
            self._overflow_log.hit()
            return None
        self._pending.append(_Pending(verdict, payload))
        if not self._wake.is_set():
            self._wake.set()
        return self._round

    def submit_durable(self, verdict: Rejected, payload: bytes) -> Round | None:
        """``submit``, and make the round FULL-synced: its ``done`` means on disk (the
        proxy acknowledges the inbound message only then, without waiting in line)."""
        current = self.submit(verdict, payload)
        if current is not None:
            self._durable = True
        return current

    async def commit(self, verdict: Rejected, payload: bytes) -> list[int]:
        """Submit and wait until this message is durably on disk (a FULL-synced round)."""
        current = self.submit(verdict, payload)
        if current is None:
            raise QuarantineFull("the quarantine has too many messages waiting")
        self._durable = True
        await current.done.wait()
        if current.error is not None:
            raise current.error
        return current.ids

    async def flush(self) -> None:
        """Wait until everything submitted so far is committed (the round still filling
        and the round on its way to the disk)."""
        if self._pending:
            await self._round.done.wait()
        elif self._inflight is not None:
            await self._inflight.done.wait()

    def close(self) -> None:
        self._closing = True
        self._wake.set()

    async def run(self) -> None:
        """The writer task: commit rounds until closed and drained."""
        try:
            while True:
                if not self._pending:
                    if self._closing:
                        return
                    self._wake = anyio.Event()
                    await self._wake.wait()
                    continue
                batch, current, durable = self._pending, self._round, self._durable
                self._pending, self._round, self._durable = [], Round(), False
                self._inflight = current
                try:
                    # Shielded: a cancellation (unload) while the round waits for the
                    # limiter or the disk must not lose the rows it took off the list.
                    with anyio.CancelScope(shield=True):
                        current.ids = await anyio.to_thread.run_sync(
                            self._write, batch, durable, limiter=self.limiter)
                except Exception as err:  # noqa: BLE001 - reported to waiters and the log
                    self.failed += len(batch)
                    _LOGGER.error("schema_guard: quarantine commit of %d messages failed: %s",
                                  len(batch), err)
                    current.error = err
                current.done.set()
                self._inflight = None
                if self._overflow_log.burst and not self._pending:
                    self._overflow_log.calm()
        finally:
            with anyio.CancelScope(shield=True):
                await self.drain()

    async def drain(self) -> None:
        """Refuse new messages and commit what was accepted, in one last round shielded
        from cancellation. Run when the writer task ends and again by the entry's unload
        (a task cancelled before it first ran never reaches its ``finally``)."""
        self._closing = True
        if not self._pending:
            return
        batch, current, self._pending = self._pending, self._round, []
        with anyio.CancelScope(shield=True):
            try:
                current.ids = await anyio.to_thread.run_sync(
                    self._write, batch, True, limiter=self.limiter)
            except Exception as err:  # noqa: BLE001 - logged, waiters told
                self.failed += len(batch)
                current.error = err
                _LOGGER.error("schema_guard: last quarantine commit failed: %s", err)
        current.done.set()

    # -- worker thread ------------------------------------------------------------------

    def _write(self, batch: Sequence[_Pending], durable: bool) -> list[int]:
        return self.store.insert([self.prepare(p.verdict, p.payload) for p in batch],
                                 durable=durable)

    def prepare(self, verdict: Rejected, payload: bytes) -> Entry:
        """What is kept of a rejected message: masked, truncated or withheld."""
        stored: bytes | None = payload
        note: str | None = None
        inline_max = self.store.inline_max
        mask = self._mask_for(verdict.rule)
        if len(payload) > self._max_bytes:
            stored, note = payload[:inline_max], f"truncated to the first {inline_max} bytes"
            if mask:
                stored, note = None, "withheld: over the size limit, PII masking configured"
        elif mask:
            try:
                value = decode.strict_json(payload, self._max_depth)
            except decode.PayloadRefused:
                stored, note = None, "withheld: not decodable, PII masking configured"
            else:
                masked = mask.mask(value)
                if masked is not value:
                    stored = json_bytes(masked)
                    note = "masked"
        return make_entry(
            received=verdict.received, topic=verdict.topic, rule=verdict.rule,
            schema=verdict.schema, version=verdict.version, source=verdict.source,
            action=verdict.action, errors=verdict.errors, payload=payload, stored=stored,
            note=note, transport=verdict.transport,
        )

    # -- other store calls, serialised with the rounds ----------------------------------

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await anyio.to_thread.run_sync(fn, *args, limiter=self.limiter)

    async def query(self, filters: Filters, **kwargs: Any) -> list[dict[str, Any]]:
        def run() -> list[dict[str, Any]]:
            return self.store.query(filters, **kwargs)
        result: list[dict[str, Any]] = await self.call(run)
        return result

    async def expire(self) -> int:
        removed: int = await self.call(self.store.enforce_retention, time.time())
        return removed


def json_bytes(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
