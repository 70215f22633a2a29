"""The event bus: typed events, filters, match-all and one-shot listeners.

Why it looks like this:

* ``fire`` is synchronous and cheap. It is on the hottest path of the house (every state
  change fires ``state_changed``), so it does no allocation when nobody listens and one
  small slotted object when somebody does.
* Sync listeners run inline, in the loop, in registration order: they must not block.
  Coroutine listeners are scheduled as tasks of the host, so a slow listener never
  delays the one who fires. The classification is made once, when the listener is
  registered, not on every fire.
* A listener that raises is logged and the fire goes on: one broken integration never
  breaks the others.
* Every ``listen`` returns its own undo (``Unsubscribe``), so a config entry can collect
  them and unload cleanly.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Generic, TypeAlias, TypeVar, cast

from .context import Context

_LOGGER = logging.getLogger(__name__)

DataT = TypeVar("DataT", bound=Mapping[str, Any])

MATCH_ALL = "*"

_EMPTY: Mapping[str, Any] = MappingProxyType({})


class EventType(str, Generic[DataT]):
    """An event name that also carries the type of its data for mypy.

    ``EVENT_STATE_CHANGED: EventType[StateChangedData] = EventType("state_changed")``
    behaves like the plain string at run time, while ``bus.listen`` on it hands the
    listener an ``Event[StateChangedData]``.
    """

    __slots__ = ()


class Event(Generic[DataT]):
    """One event: a type, its data, when it was fired and its context."""

    __slots__ = ("_context", "data", "event_type", "time_fired")

    def __init__(
        self,
        event_type: str,
        data: DataT,
        context: Context | None = None,
        time_fired: float | None = None,
    ) -> None:
        self.event_type = event_type
        self.data = data
        self.time_fired = time.time() if time_fired is None else time_fired
        self._context = context

    @property
    def context(self) -> Context:
        """The context; made on first use so that unread contexts cost nothing."""
        if self._context is None:
            self._context = Context()
        return self._context

    def as_dict(self) -> dict[str, Any]:
        return {
            "event_type": str(self.event_type),
            "data": dict(self.data),
            "time_fired": self.time_fired,
            "context": self.context.as_dict(),
        }

    def __repr__(self) -> str:
        return f"<Event {self.event_type} {dict(self.data)!r}>"


Listener: TypeAlias = Callable[[Event[Any]], Awaitable[None] | None]
EventFilter: TypeAlias = Callable[[Mapping[str, Any]], bool]
Unsubscribe: TypeAlias = Callable[[], None]
#: How the bus starts a coroutine listener; the host passes its own task spawner.
Spawner: TypeAlias = Callable[[Coroutine[Any, Any, Any], str], None]


@dataclass(slots=True, eq=False)
class _Registration:
    """One listener as registered: classified once, so ``fire`` need not inspect it."""

    callback: Callable[[Event[Any]], Any]
    event_filter: EventFilter | None
    is_coroutine: bool
    once: bool
    fired: bool = False


class EventBus:
    """Publish/subscribe for typed events inside one host."""

    def __init__(self, spawner: Spawner | None = None) -> None:
        self._listeners: dict[str, list[_Registration]] = {}
        self._spawner = spawner
        #: Events fired; read by /metrics and the benchmarks.
        self.fired_count = 0

    def set_spawner(self, spawner: Spawner) -> None:
        """Give the bus the host's way of starting tasks (done once by the host)."""
        self._spawner = spawner

    # -- subscribing -------------------------------------------------------------

    def listen(
        self,
        event_type: EventType[DataT] | str,
        listener: Callable[[Event[DataT]], Awaitable[None] | None],
        event_filter: EventFilter | None = None,
    ) -> Unsubscribe:
        """Call ``listener`` for every event of ``event_type`` (``MATCH_ALL``: all).

        ``event_filter`` gets the event data and runs inline before the listener: use it
        to keep cheap checks (is this my entity?) off the task queue.
        """
        return self._add(event_type, listener, event_filter, once=False)

    def listen_once(
        self,
        event_type: EventType[DataT] | str,
        listener: Callable[[Event[DataT]], Awaitable[None] | None],
        event_filter: EventFilter | None = None,
    ) -> Unsubscribe:
        """Like ``listen`` but removed after the first matching event."""
        return self._add(event_type, listener, event_filter, once=True)

    def _add(
        self,
        event_type: str,
        listener: Callable[[Event[Any]], Any],
        event_filter: EventFilter | None,
        *,
        once: bool,
    ) -> Unsubscribe:
        if not callable(listener):
            raise TypeError(f"listener must be callable, got {listener!r}")
        target = listener.func if hasattr(listener, "func") else listener  # functools.partial
        registration = _Registration(
            callback=listener,
            event_filter=event_filter,
            is_coroutine=inspect.iscoroutinefunction(target),
            once=once,
        )
        # Copy-on-write: fire() iterates the list it read, so listeners added or removed
        # by a listener take effect from the next fire, never mid-iteration.
        key = str(event_type)
        self._listeners[key] = [*self._listeners.get(key, ()), registration]

        def unsubscribe() -> None:
            current = self._listeners.get(key)
            if current is None or registration not in current:
                return
            remaining = [r for r in current if r is not registration]
            if remaining:
                self._listeners[key] = remaining
            else:
                del self._listeners[key]

        return unsubscribe

    def listener_count(self, event_type: str | None = None) -> int:
        """Number of listeners, for one event type or in all."""
        if event_type is not None:
            return len(self._listeners.get(event_type, ()))
        return sum(len(regs) for regs in self._listeners.values())

    def listeners(self) -> dict[str, int]:
        """Listener counts per event type (for diagnostics and leak tests)."""
        return {key: len(regs) for key, regs in self._listeners.items()}

    # -- firing ------------------------------------------------------------------

    def fire(
        self,
        event_type: EventType[DataT] | str,
        data: DataT | None = None,
        context: Context | None = None,
    ) -> None:
        """Fire an event. Sync listeners run now; coroutine listeners are scheduled."""
        self.fired_count += 1
        listeners = self._listeners
        matching = listeners.get(event_type)
        match_all = listeners.get(MATCH_ALL)
        if matching is None and match_all is None:
            return
        event: Event[Any] = Event(
            event_type, _EMPTY if data is None else data, context, time.time()
        )
        if matching is not None:
            self._dispatch(matching, event)
        if match_all is not None:
            self._dispatch(match_all, event)

    def fire_event(self, event: Event[Any]) -> None:
        """Fire an already built event (used when replaying or forwarding events)."""
        self.fired_count += 1
        for key in (event.event_type, MATCH_ALL):
            regs = self._listeners.get(key)
            if regs is not None:
                self._dispatch(regs, event)

    def _dispatch(self, registrations: list[_Registration], event: Event[Any]) -> None:
        for reg in registrations:
            try:
                if reg.event_filter is not None and not reg.event_filter(event.data):
                    continue
                if reg.once:
                    if reg.fired:
                        continue
                    reg.fired = True
                    self._remove(event.event_type, reg)
                if reg.is_coroutine:
                    self._spawn(reg.callback, event)
                else:
                    reg.callback(event)
            except Exception:
                _LOGGER.exception(
                    "Error in listener %r for event %s", reg.callback, event.event_type
                )

    def _remove(self, event_type: str, registration: _Registration) -> None:
        for key in (event_type, MATCH_ALL):
            current = self._listeners.get(key)
            if current and registration in current:
                remaining = [r for r in current if r is not registration]
                if remaining:
                    self._listeners[key] = remaining
                else:
                    del self._listeners[key]

    def _spawn(self, callback: Callable[[Event[Any]], Any], event: Event[Any]) -> None:
        if self._spawner is None:
            raise RuntimeError("coroutine listener fired but the bus has no task spawner")
        self._spawner(
            _guarded(cast(Callable[[Event[Any]], Awaitable[None]], callback), event),
            f"listener {event.event_type}",
        )


async def _guarded(callback: Callable[[Event[Any]], Awaitable[None]], event: Event[Any]) -> None:
    """Run a coroutine listener, logging (not propagating) its failure."""
    try:
        await callback(event)
    except Exception:
        _LOGGER.exception("Error in listener %r for event %s", callback, event.event_type)
