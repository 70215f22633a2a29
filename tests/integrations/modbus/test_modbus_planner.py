"""Read planning: how many requests a set of points costs."""

from __future__ import annotations

import pytest

from gatehouse.integrations.modbus.const import RegisterType
from gatehouse.integrations.modbus.planner import ReadSpan, plan_reads

H, IN, C = RegisterType.HOLDING, RegisterType.INPUT, RegisterType.COIL


def spans(addresses: list[int], count: int = 1, *, slave: int = 1,
          table: RegisterType = H) -> list[ReadSpan]:
    return [ReadSpan(slave, table, a, count) for a in addresses]


def test_contiguous_points_are_one_request() -> None:
    plan = plan_reads(spans(list(range(0, 20, 2)), 2))
    assert len(plan) == 1
    (request,) = plan.requests
    assert (request.address, request.count, len(request.spans)) == (0, 20, 10)


def test_nearby_points_are_merged_across_a_small_gap() -> None:
    plan = plan_reads(spans([0, 8]), max_gap=10)
    assert len(plan) == 1
    assert plan.requests[0].count == 9  # 7 unused registers read and thrown away


def test_far_points_are_separate_requests() -> None:
    assert len(plan_reads(spans([0, 50]), max_gap=10)) == 2
    assert len(plan_reads(spans([0, 12]), max_gap=10)) == 2  # gap 11


def test_gap_limit_zero_still_merges_adjacent_points() -> None:
    assert len(plan_reads(spans([0, 1, 2]), max_gap=0)) == 1
    assert len(plan_reads(spans([0, 2]), max_gap=0)) == 2


def test_requests_never_exceed_125_registers() -> None:
    plan = plan_reads(spans(list(range(130))))
    assert [r.count for r in plan.requests] == [125, 5]
    # 63 float32 points (126 registers): a value is never split between two requests
    plan = plan_reads(spans(list(range(0, 126, 2)), 2))
    assert [r.count for r in plan.requests] == [124, 2]


def test_coils_merge_up_to_2000_bits() -> None:
    plan = plan_reads(spans(list(range(0, 2500, 10)), table=C), max_bit_gap=16)
    assert [r.count for r in plan.requests] == [1991, 491]  # 0..1990, 2000..2490


def test_slaves_and_tables_are_never_mixed() -> None:
    mixed = [*spans([0, 1]), *spans([2, 3], slave=2), *spans([4, 5], table=IN)]
    plan = plan_reads(mixed)
    assert len(plan) == 3
    assert {(r.slave, r.register_type) for r in plan.requests} == {(1, H), (2, H), (1, IN)}


def test_duplicates_and_overlaps_are_read_once() -> None:
    plan = plan_reads([ReadSpan(1, H, 0, 2), ReadSpan(1, H, 0, 2), ReadSpan(1, H, 1, 4)])
    assert len(plan) == 1
    assert (plan.requests[0].address, plan.requests[0].count) == (0, 5)
    assert plan.span_count == 2


def test_isolated_spans_get_a_request_of_their_own() -> None:
    all_spans = spans([0, 1, 2, 3])
    plan = plan_reads(all_spans, isolated=frozenset({all_spans[1]}))
    assert [(r.address, r.count) for r in plan.requests] == [(0, 1), (1, 1), (2, 2)]


def test_extract_returns_each_spans_values() -> None:
    plan = plan_reads([ReadSpan(1, H, 10, 2), ReadSpan(1, H, 14, 1)])
    (request,) = plan.requests
    values = list(range(100, 105))
    assert request.extract(request.spans[0], values) == (100, 101)
    assert request.extract(request.spans[1], values) == (104,)


def test_a_span_larger_than_a_request_is_refused() -> None:
    with pytest.raises(ValueError, match="larger than one request"):
        plan_reads([ReadSpan(1, H, 0, 126)])


def test_without_coalescing_every_point_is_a_request() -> None:
    plan = plan_reads(spans(list(range(0, 20, 2)), 2), coalesce=False)
    assert len(plan) == 10
    assert all(len(r.spans) == 1 for r in plan.requests)
