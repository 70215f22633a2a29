"""Direct :class:`Sender` objects for tests that need exact control over outcomes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import anyio

from gatehouse.core.outbox import DeliveryOutcome, OutboxMessage, OutcomeKind

Reaction = Callable[[Sequence[OutboxMessage], int], Awaitable[Sequence[DeliveryOutcome]]]


async def ack_all(batch: Sequence[OutboxMessage], call: int) -> Sequence[DeliveryOutcome]:
    """The default reaction: every message acknowledged."""
    return [DeliveryOutcome.ACKED] * len(batch)


class ScriptedSender:
    """Records every call and answers with ``react(batch, call_number)``.

    ``react`` may raise (TransientDeliveryError, PermanentDeliveryError, anything) or
    return outcomes; call numbers start at 1. ``accepted`` lists the payloads the
    "destination" acknowledged, in the order it acknowledged them.
    """

    def __init__(self, react: Reaction = ack_all) -> None:
        self.react = react
        self.calls: list[list[OutboxMessage]] = []
        self.call_times: list[float] = []
        self.accepted: list[bytes] = []
        self._waiters: list[tuple[int, anyio.Event]] = []

    async def send(self, batch: Sequence[OutboxMessage]) -> Sequence[DeliveryOutcome]:
        self.calls.append(list(batch))
        self.call_times.append(anyio.current_time())
        self._notify()
        outcomes = await self.react(batch, len(self.calls))
        for message, outcome in zip(batch, outcomes, strict=False):
            if outcome.kind is OutcomeKind.ACKED:
                self.accepted.append(message.payload)
        return outcomes

    async def wait_calls(self, count: int) -> None:
        """Return once ``send`` was entered at least ``count`` times."""
        if len(self.calls) >= count:
            return
        event = anyio.Event()
        self._waiters.append((count, event))
        await event.wait()

    def _notify(self) -> None:
        for entry in [e for e in self._waiters if e[0] <= len(self.calls)]:
            self._waiters.remove(entry)
            entry[1].set()
