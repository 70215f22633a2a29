"""Coalescing reads: as few requests as possible for the points due in a poll cycle.

On a Modbus line the request count, not the register count, sets the cycle time: every
request costs a round trip (and on RS-485 a turnaround and 3.5 character times of
silence), while 100 more registers in one answer cost a few milliseconds. So points of
one slave and one table are merged into one read when they are contiguous or *nearby*:
a gap of up to ``max_gap`` unused registers (``max_bit_gap`` coils) is read and thrown
away, because that is cheaper than another round trip. A request never exceeds the
protocol limits (125 registers, 2000 bits).

Some devices refuse a read that touches an unmapped address (``IllegalDataAddress``)
even if no point needs it. The poller then marks the spans of that request *isolated*
and the planner gives each of them a request of its own from then on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import groupby

from .const import RegisterType


@dataclass(frozen=True, slots=True, order=True)
class ReadSpan:
    """The items one point needs: ``count`` registers (or bits) from ``address``."""

    slave: int
    register_type: RegisterType
    address: int
    count: int

    @property
    def end(self) -> int:
        """One past the last address."""
        return self.address + self.count


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """One read on the wire and the spans it serves."""

    slave: int
    register_type: RegisterType
    address: int
    count: int
    spans: tuple[ReadSpan, ...]

    def extract(self, span: ReadSpan, values: Sequence[int | bool]) -> tuple[int | bool, ...]:
        """The part of this request's answer that belongs to ``span``."""
        start = span.address - self.address
        return tuple(values[start : start + span.count])

    def describe(self) -> str:
        """How the request reads in logs and errors."""
        return f"read {self.register_type} {self.address}..{self.address + self.count - 1}"


@dataclass(frozen=True, slots=True)
class ReadPlan:
    """The requests of one poll cycle, in address order per slave and table."""

    requests: tuple[ReadRequest, ...] = field(default_factory=tuple)

    def __len__(self) -> int:
        return len(self.requests)

    @property
    def span_count(self) -> int:
        return sum(len(r.spans) for r in self.requests)


def plan_reads(
    spans: Iterable[ReadSpan],
    *,
    max_gap: int = 10,
    max_bit_gap: int = 128,
    isolated: frozenset[ReadSpan] = frozenset(),
    coalesce: bool = True,
) -> ReadPlan:
    """Merge ``spans`` into the fewest requests the gap and size limits allow.

    Greedy in address order, which is optimal for this one-dimensional problem: a span
    joins the open request when the gap before it is at most the table's gap limit and
    the grown request still fits the table's size limit; otherwise it opens a new one.
    Duplicate spans are read once. ``isolated`` spans always get a request of their own;
    ``coalesce=False`` isolates every span (for devices that refuse any read crossing
    a point boundary, and to measure what planning saves).
    """
    unique = sorted(set(spans))
    if not coalesce:
        isolated = frozenset(unique)
    requests: list[ReadRequest] = []
    for (slave, register_type), group in groupby(unique, key=lambda s: (s.slave, s.register_type)):
        limit = register_type.read_limit
        gap = max_bit_gap if register_type.is_bit else max_gap
        current: list[ReadSpan] = []
        start = end = 0
        for span in group:
            if span.count > limit:
                raise ValueError(f"{span} is larger than one request may read ({limit})")
            alone = span in isolated
            joins = (
                current
                and not alone
                and current[0] not in isolated
                and span.address - end <= gap
                and max(end, span.end) - start <= limit
            )
            if joins:
                current.append(span)
                end = max(end, span.end)
                continue
            if current:
                requests.append(_request(slave, register_type, start, end, current))
            current, start, end = [span], span.address, span.end
        if current:
            requests.append(_request(slave, register_type, start, end, current))
    return ReadPlan(tuple(requests))


def _request(
    slave: int, register_type: RegisterType, start: int, end: int, spans: list[ReadSpan]
) -> ReadRequest:
    return ReadRequest(slave, register_type, start, end - start, tuple(spans))
