"""Context: who or what caused a change, carried through events and service calls.

A context links a state change back to the service call (and the user) that caused it,
and a child context to its parent, so the audit log and the UI can answer "why did this
happen?". Ids are created lazily: most contexts on the hot path (a sensor update) are
never looked at, and making an id is the most expensive part of a context.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

_counter = itertools.count()
_PROCESS_TAG = os.urandom(4).hex()


def new_id() -> str:
    """Return an id unique across restarts and sortable by creation time.

    Millisecond time first (sortable), then a per-process random tag and a counter
    (unique within and across processes). Cheaper than uuid4 and still collision-free
    for our purposes.
    """
    return f"{time.time_ns() // 1_000_000:012x}{_PROCESS_TAG}{next(_counter) & 0xFFFFFF:06x}"


class Context:
    """The cause of an event, state change or service call.

    ``user_id`` is the authenticated user (None for the system); ``parent_id`` is the id
    of the context that caused this one (an automation run triggered by an event).
    """

    __slots__ = ("_id", "parent_id", "user_id")

    def __init__(
        self, user_id: str | None = None, parent_id: str | None = None, id: str | None = None
    ) -> None:
        self._id = id
        self.user_id = user_id
        self.parent_id = parent_id

    @property
    def id(self) -> str:
        """The context id, made on first use."""
        if self._id is None:
            self._id = new_id()
        return self._id

    def child(self) -> Context:
        """Return a new context caused by this one (same user)."""
        return Context(user_id=self.user_id, parent_id=self.id)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "user_id": self.user_id, "parent_id": self.parent_id}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Context) and self.id == other.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f"<Context id={self.id} user_id={self.user_id} parent_id={self.parent_id}>"


#: The user on whose behalf the current task acts (None: the system). The web server
#: sets it for each request and WebSocket command (``acting_as``), so code that is
#: not handed a ``Context`` (config entry changes, flows) can still say who caused a
#: change; tasks started meanwhile inherit it, as they were caused by the same call.
ACTING_USER: ContextVar[str | None] = ContextVar("gatehouse_acting_user", default=None)


@contextlib.contextmanager
def acting_as(user_id: str | None) -> Iterator[None]:
    """Run the body on behalf of ``user_id`` (see ``ACTING_USER``)."""
    token = ACTING_USER.set(user_id)
    try:
        yield
    finally:
        ACTING_USER.reset(token)


def acting_context() -> Context | None:
    """A context naming the acting user, or None when the system acts."""
    user_id = ACTING_USER.get()
    return None if user_id is None else Context(user_id=user_id)
