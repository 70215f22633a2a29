"""One ``state_changed`` listener per host for every state trigger, keyed by entity.

A thousand automations each listening to ``state_changed`` with a filter would run a
thousand filters on every state change of the house. Home Assistant solved this with
``async_track_state_change_event`` (one listener, a dict from entity id to callbacks);
this is ours: a state change costs one dict lookup unless somebody watches the entity.
Timers (``for:``) use the event loop's own ``call_later`` handles: cheap to make and to
cancel, and nothing to clean up but the handle.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Final

from gatehouse.core import EVENT_STATE_CHANGED, Event, Host, HostKey, State

_LOGGER = logging.getLogger(__name__)

StateCallback = Callable[[str, "State | None", "State | None", Event[Any]], None]


class StateDispatcher:
    """Calls the callbacks registered for an entity when its state changes."""

    def __init__(self, host: Host) -> None:
        self._host = host
        self._by_entity: dict[str, list[StateCallback]] = {}
        self._unsub: Callable[[], None] | None = None

    def track(self, entity_ids: list[str], callback: StateCallback) -> Callable[[], None]:
        """Call ``callback(entity_id, old, new, event)`` for changes of ``entity_ids``."""
        for entity_id in entity_ids:
            # copy-on-write: a callback that (un)tracks while dispatching is safe
            self._by_entity[entity_id] = [*self._by_entity.get(entity_id, ()), callback]
        if self._unsub is None:
            self._unsub = self._host.bus.listen(EVENT_STATE_CHANGED, self._changed)

        def untrack() -> None:
            for entity_id in entity_ids:
                current = self._by_entity.get(entity_id)
                if current is None or callback not in current:
                    continue
                remaining = [c for c in current if c is not callback]
                if remaining:
                    self._by_entity[entity_id] = remaining
                else:
                    del self._by_entity[entity_id]
            if not self._by_entity and self._unsub is not None:
                self._unsub()
                self._unsub = None

        return untrack

    def _changed(self, event: Event[Any]) -> None:
        data = event.data
        callbacks = self._by_entity.get(data["entity_id"])
        if callbacks is None:
            return
        for callback in callbacks:
            try:
                callback(data["entity_id"], data["old_state"], data["new_state"], event)
            except Exception:
                _LOGGER.exception("Error in state trigger for %s", data["entity_id"])

    def tracked(self) -> int:
        """Entities watched (diagnostics, leak tests)."""
        return len(self._by_entity)


_DISPATCHER: Final[HostKey[StateDispatcher]] = HostKey("script.state_dispatcher")


def state_dispatcher(host: Host) -> StateDispatcher:
    dispatcher = host.data.get(_DISPATCHER)
    if dispatcher is None:
        dispatcher = host.data[_DISPATCHER] = StateDispatcher(host)
    return dispatcher


def call_later(delay: float, callback: Callable[[], None]) -> Callable[[], None]:
    """Run ``callback`` in the loop after ``delay`` seconds; returns the cancel."""
    handle = asyncio.get_running_loop().call_later(max(delay, 0.0), _guard, callback)
    return handle.cancel


def _guard(callback: Callable[[], None]) -> None:
    try:
        callback()
    except Exception:
        _LOGGER.exception("Error in a trigger timer")
