"""The shared expanded-size walk behind the YAML alias limit and the template weights."""

from __future__ import annotations

import sys
from typing import Any

from gatehouse.core.util.expansion import expanded_size


def kids(node: Any) -> list[Any]:
    return node if isinstance(node, list) else []


def test_every_occurrence_counts_each_part_is_visited_once() -> None:
    leaf: list[Any] = []
    doubled: list[Any] = leaf
    for _ in range(40):
        doubled = [doubled, doubled]
    visits: list[int] = []

    def counting(node: Any) -> list[Any]:
        visits.append(id(node))
        return kids(node)

    size = expanded_size(doubled, counting, cap=10**15, key=id)
    assert size == 2**41 - 1  # a full binary tree of 40 levels
    assert len(set(visits)) == 41  # 41 distinct lists, however large the expansion


def test_stops_just_past_the_cap() -> None:
    big: list[Any] = []
    for _ in range(60):
        big = [big, big]
    assert expanded_size(big, kids, cap=1000, key=id) == 1001


def test_cycles_count_once_and_deep_nesting_needs_no_recursion() -> None:
    loop: list[Any] = []
    loop.append(loop)
    assert expanded_size(loop, kids, cap=100, key=id) == 2
    deep: list[Any] = []
    for _ in range(sys.getrecursionlimit() * 3):
        deep = [deep]
    assert expanded_size(deep, kids, cap=10**9, key=id) == sys.getrecursionlimit() * 3 + 1


def test_leaves_and_memo() -> None:
    memo: dict[Any, int] = {}
    value = ["abc", ["de"]]
    weights = {"abc": 3, "de": 2}
    size = expanded_size(value, kids, cap=100, own=2, per_child=1,
                         leaf=lambda n: weights.get(n) if isinstance(n, str) else None,
                         key=id, memo=memo)
    assert size == 2 + (1 + 3) + (1 + (2 + 1 + 2))
    assert memo[id(value)] == size
