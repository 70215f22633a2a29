"""The sender's settling rules, with a scripted write answer (pure logic: what the
real servers answer is in the v1/v2 tests)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from gatehouse.core.helpers import OutboxMessage, TransientDeliveryError
from gatehouse.integrations.influxdb.client import WriteResult
from gatehouse.integrations.influxdb.const import HDR_REFUSED
from gatehouse.integrations.influxdb.writer import InfluxSender

pytestmark = pytest.mark.anyio


class ScriptedClient:
    """Answers each write with ``answer(lines)``; ``None`` means no answer."""

    base = "http://scripted"
    target = "scripted"

    def __init__(self, answer: Callable[[list[str]], WriteResult | None]) -> None:
        self.answer = answer
        self.writes: list[list[str]] = []

    async def write(self, body: bytes, *, gzipped: bool) -> WriteResult:
        lines = [line for line in body.decode().split("\n") if line]
        self.writes.append(lines)
        result = self.answer(lines)
        if result is None:
            raise TimeoutError
        return result


def sender_for(client: ScriptedClient, requeued: list[tuple[bytes, Mapping[str, str]]],
               batch_size: int = 100) -> InfluxSender:
    sender = InfluxSender(client, "t", use_gzip=False, batch_size=batch_size,  # type: ignore[arg-type]
                          flush_interval=0, on_refused=lambda reason: None)
    sender.requeue = lambda payload, headers: requeued.append((payload, headers))
    return sender


def message(id_: int, *lines: str, headers: dict[str, str] | None = None) -> OutboxMessage:
    return OutboxMessage(id_, "d", "\n".join(lines).encode(), headers or {}, 0.0)


def refuse_bad(lines: list[str]) -> WriteResult | None:
    if any("bad" in line for line in lines):
        return WriteResult(400, "partial write: points beyond retention policy dropped=1", None)
    return WriteResult(204, "", None)


async def test_refused_line_of_a_shared_message_is_queued_alone_and_marked() -> None:
    requeued: list[Any] = []
    client = ScriptedClient(refuse_bad)
    sender = sender_for(client, requeued)
    outcomes = await sender.send([message(1, "a v=1 1", "bad v=2 2", "c v=3 3"),
                                  message(2, "d v=4 4")])
    assert [o.kind.value for o in outcomes] == ["acked", "acked"]
    assert requeued == [(b"bad v=2 2", {HDR_REFUSED: "HTTP 400: partial write: points "
                                        "beyond retention policy dropped=1"})]
    assert sender.points_written == 3 and sender.points_rejected == 1


async def test_a_marked_point_goes_to_the_dead_letters_unwritten() -> None:
    client = ScriptedClient(refuse_bad)
    sender = sender_for(client, [])
    outcomes = await sender.send([message(1, "bad v=2 2", headers={HDR_REFUSED: "why"})])
    assert outcomes[0].kind.value == "rejected" and outcomes[0].reason == "why"
    assert client.writes == []


async def test_a_lone_refused_point_is_rejected_directly() -> None:
    sender = sender_for(ScriptedClient(refuse_bad), [])
    outcomes = await sender.send([message(1, "ok v=1 1"), message(2, "bad v=1 1")])
    assert [o.kind.value for o in outcomes] == ["acked", "rejected"]


async def test_after_a_message_to_retry_nothing_later_is_queued_again() -> None:
    """The outbox settles a prefix: a later message's refused point must not be
    queued now, or it would be queued twice when that message comes back."""
    answers = iter([
        WriteResult(400, "unable to parse 'a v=1 1': invalid", None),  # names message 1
        WriteResult(400, "unable to parse 'bad v=2 2': invalid", None),  # the rest
        WriteResult(204, "", None),  # b alone
        WriteResult(400, "unable to parse 'bad v=2 2': invalid", None),  # bad alone
        None,  # a alone: the server went away
    ])
    client = ScriptedClient(lambda lines: next(answers))
    requeued: list[Any] = []
    sender = sender_for(client, requeued)
    with pytest.raises(TransientDeliveryError):
        await sender.send([message(1, "a v=1 1"), message(2, "b v=1 1", "bad v=2 2")])
    assert client.writes[-1] == ["a v=1 1"]
    assert requeued == []


async def test_requests_are_cut_at_batch_size() -> None:
    client = ScriptedClient(lambda lines: WriteResult(204, "", None))
    sender = sender_for(client, [], batch_size=3)
    await sender.send([message(i, *(f"m v={i} {i}{k}" for k in range(2))) for i in range(4)])
    assert [len(w) for w in client.writes] == [3, 3, 2]
