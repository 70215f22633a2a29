"""How big a shared structure is once expanded: every occurrence counted, each distinct
part visited once.

Two attacks have the same shape: a YAML alias bomb (nine anchors, each naming the
previous one nine times, a few hundred bytes that expand to 9**9 values) and a template
that doubles a list into itself (``{% set l = [l, l] %}`` forty times: a few objects, a
2**40-element value once rendered). Both are defended by measuring the *expanded* size
without expanding: a post-order walk over the distinct parts, where a part's size is its
own plus its children's (each child counted as many times as it occurs), remembered per
part so the walk costs what the structure occupies, not what it expands to. Sizes are
capped just past ``cap``, and the walk stops as soon as any part passes it (every part
walked is inside the root, so the root is past it too). A cycle counts its
back edge as 1 (an infinitely nested value is refused elsewhere). Iterative, because
aliases can nest deeper than Python's recursion limit.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Any, TypeVar

N = TypeVar("N")


def expanded_size(
    root: N,
    children: Callable[[N], Iterable[N]],
    *,
    cap: int,
    own: int = 1,
    per_child: int = 0,
    leaf: Callable[[N], int | None] | None = None,
    key: Callable[[N], Hashable] = lambda node: node,
    memo: dict[Any, int] | None = None,
) -> int:
    """The expanded size of ``root``, at most ``cap + 1``.

    A part weighs ``own`` plus, per child occurrence, ``per_child`` and the child's size.
    ``leaf(node)`` gives the size of a node that is not walked into (None: walk it).
    ``key`` identifies a part (the node itself, or ``id`` for unhashable values);
    ``memo`` keeps sizes across calls (one pass over a whole document).
    """
    if leaf is not None and (simple := leaf(root)) is not None:
        return simple
    sizes: dict[Hashable, int] = {} if memo is None else memo
    root_key = key(root)
    if root_key in sizes:
        return sizes[root_key]
    open_parts: set[Hashable] = set()
    stack: list[tuple[N, bool]] = [(root, False)]
    while stack:
        node, closing = stack.pop()
        node_key = key(node)
        if closing:
            total = own
            for child in children(node):
                size = leaf(child) if leaf is not None else None
                if size is None:
                    size = sizes.get(key(child), 1)  # 1: a cycle's back edge
                total += per_child + size
                if total > cap:
                    # Every part walked is inside the root: the root is over too.
                    sizes[node_key] = cap + 1
                    return cap + 1
            sizes[node_key] = total
            open_parts.discard(node_key)
            continue
        if node_key in sizes or node_key in open_parts:
            continue
        open_parts.add(node_key)
        stack.append((node, True))
        stack.extend(
            (child, False)
            for child in children(node)
            if (leaf is None or leaf(child) is None) and key(child) not in sizes
        )
    return sizes[root_key]
