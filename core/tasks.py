"""Spawning background tasks into a task group without letting one failure end them all.

An anyio task group cancels every task in it when one raises: right for work that
stands or falls together, wrong for the host's and an entry's background tasks, where
one integration's failing poll must not stop the host or its siblings. Both
``Host.spawn`` and ``ConfigEntry.spawn`` therefore start their tasks through
``spawn_logged``, which logs a task's failure and lets the group go on.
"""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from typing import Any

import anyio
from anyio.abc import TaskGroup

from .exceptions import HostStoppingError

_LOGGER = logging.getLogger(__name__)


async def logged(coro: Coroutine[Any, Any, Any]) -> None:
    """Await ``coro`` and log its failure instead of tearing the task group down.

    Cancellation still propagates: it is how the group's owner ends the task.
    """
    try:
        await coro
    except anyio.get_cancelled_exc_class():
        raise
    except Exception:
        _LOGGER.exception("Unhandled error in background task")


def spawn_logged(
    group: TaskGroup | None,
    coro: Coroutine[Any, Any, Any],
    *,
    name: str | None,
    refusal: str,
) -> None:
    """Start ``coro`` in ``group`` through ``logged``; refuse when there is no group.

    ``group`` is ``None`` when its owner is not running (a stopped host, an entry that
    is not set up): then ``coro`` is closed, so Python does not warn that it was never
    awaited, and ``HostStoppingError(refusal)`` tells the caller why nothing runs.
    """
    if group is None:
        coro.close()
        raise HostStoppingError(refusal)
    group.start_soon(logged, coro, name=name)
