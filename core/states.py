"""The state machine: the current, immutable state of every entity.

``State`` objects are never mutated: a change makes a new one, so a listener holding the
old state sees exactly what was there, and the API can serialise a state once and share
the bytes between all subscribers. ``state_changed`` is fired only when the state string
or the attributes actually change (or ``force_update`` asks for it), because most
devices report the same value over and over.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final, TypedDict

from .bus import EventBus, EventType
from .const import MAX_STATE_LENGTH
from .context import Context
from .exceptions import InvalidEntityId, InvalidStateError

#: Longest entity id (``domain.object_id``), as in Home Assistant. Ids are made from
#: names, and names come from devices (a discovery config named with 100,000 characters
#: made an id of 100,016): ``entity_registry`` cuts object ids to fit, this refuses the rest.
MAX_ENTITY_ID_LENGTH: Final = 255

_ENTITY_ID_RE: Final = re.compile(r"^(?!_)[a-z0-9_]+(?<!_)\.(?!_)[a-z0-9_]+(?<!_)$")
_EMPTY_ATTRS: Mapping[str, Any] = MappingProxyType({})
#: States are immutable to the outside; inside, slots are filled through this.
_setattr = object.__setattr__


def valid_entity_id(entity_id: str) -> bool:
    """True if ``entity_id`` looks like ``sensor.kitchen_temperature`` (and is at most
    ``MAX_ENTITY_ID_LENGTH`` characters)."""
    return (
        isinstance(entity_id, str)
        and len(entity_id) <= MAX_ENTITY_ID_LENGTH
        and _ENTITY_ID_RE.match(entity_id) is not None
    )


def split_entity_id(entity_id: str) -> tuple[str, str]:
    """Split ``domain.object_id``; raises ``InvalidEntityId`` if it is not one."""
    if not valid_entity_id(entity_id):
        raise InvalidEntityId(entity_id)
    domain, _, object_id = entity_id.partition(".")
    return domain, object_id


class State:
    """The state of one entity at one moment. Immutable.

    Times are POSIX timestamps (floats): cheap to make on the hot path; the ``*_dt``
    properties give aware datetimes for people and templates.
    """

    __slots__ = ("_context", "attributes", "entity_id", "last_changed", "last_updated", "state")

    entity_id: str
    state: str
    attributes: Mapping[str, Any]
    last_changed: float
    last_updated: float
    _context: Context | None

    def __init__(
        self,
        entity_id: str,
        state: str,
        attributes: Mapping[str, Any] | None = None,
        last_changed: float | None = None,
        last_updated: float | None = None,
        context: Context | None = None,
    ) -> None:
        if last_updated is None:
            last_updated = time.time()
        _setattr(self, "entity_id", entity_id)
        _setattr(self, "state", state)
        _setattr(
            self,
            "attributes",
            _EMPTY_ATTRS if not attributes else MappingProxyType(dict(attributes)),
        )
        _setattr(self, "last_updated", last_updated)
        _setattr(self, "last_changed", last_updated if last_changed is None else last_changed)
        _setattr(self, "_context", context)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("State is immutable; set a new state through the StateMachine")

    @property
    def context(self) -> Context:
        """The cause of this state; made on first use (most are never looked at)."""
        context: Context | None = self._context
        if context is None:
            context = Context()
            _setattr(self, "_context", context)
        return context

    @property
    def domain(self) -> str:
        return self.entity_id.partition(".")[0]

    @property
    def object_id(self) -> str:
        return self.entity_id.partition(".")[2]

    @property
    def name(self) -> str:
        """The friendly name, or the object id made readable."""
        friendly = self.attributes.get("friendly_name")
        return str(friendly) if friendly else self.object_id.replace("_", " ")

    @property
    def last_changed_dt(self) -> datetime:
        return datetime.fromtimestamp(self.last_changed, UTC)

    @property
    def last_updated_dt(self) -> datetime:
        return datetime.fromtimestamp(self.last_updated, UTC)

    def as_dict(self) -> dict[str, Any]:
        """The JSON-able form used by the API and the CLI (Home Assistant's shape)."""
        return {
            "entity_id": self.entity_id,
            "state": self.state,
            "attributes": dict(self.attributes),
            "last_changed": self.last_changed_dt.isoformat(),
            "last_updated": self.last_updated_dt.isoformat(),
            "context": self.context.as_dict(),
        }

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, State)
            and self.entity_id == other.entity_id
            and self.state == other.state
            and self.attributes == other.attributes
        )

    def __hash__(self) -> int:
        return hash((self.entity_id, self.state))

    def __repr__(self) -> str:
        attrs = f" {dict(self.attributes)!r}" if self.attributes else ""
        return f"<State {self.entity_id}={self.state}{attrs}>"


class StateChangedData(TypedDict):
    """Data of ``state_changed``: ``old_state`` None means new, ``new_state`` None removed."""

    entity_id: str
    old_state: State | None
    new_state: State | None


EVENT_STATE_CHANGED: Final[EventType[StateChangedData]] = EventType("state_changed")


class StateMachine:
    """Holds the current ``State`` of every entity and announces changes on the bus."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        self._states: dict[str, State] = {}
        #: Entity ids already validated: the regex runs once per id, not once per write.
        self._known_ids: set[str] = set()

    def get(self, entity_id: str) -> State | None:
        return self._states.get(entity_id)

    def all(self, domain: str | None = None) -> list[State]:
        """Every state, or those of one domain."""
        if domain is None:
            return list(self._states.values())
        prefix = domain + "."
        return [s for eid, s in self._states.items() if eid.startswith(prefix)]

    def entity_ids(self, domain: str | None = None) -> list[str]:
        if domain is None:
            return list(self._states)
        prefix = domain + "."
        return [eid for eid in self._states if eid.startswith(prefix)]

    def __contains__(self, entity_id: object) -> bool:
        return entity_id in self._states

    def __iter__(self) -> Iterator[State]:
        return iter(list(self._states.values()))

    def __len__(self) -> int:
        return len(self._states)

    def set(
        self,
        entity_id: str,
        new_state: Any,
        attributes: Mapping[str, Any] | None = None,
        *,
        force_update: bool = False,
        context: Context | None = None,
    ) -> State:
        """Set the state of ``entity_id``; returns the current state object.

        ``new_state`` is stored as a string (numbers are converted), as in Home
        Assistant, so every consumer sees one type.
        """
        if entity_id not in self._known_ids:
            if not valid_entity_id(entity_id):
                raise InvalidEntityId(entity_id)
            self._known_ids.add(entity_id)
        if new_state.__class__ is not str:
            new_state = _coerce_state(new_state)
        if len(new_state) > MAX_STATE_LENGTH:
            raise InvalidStateError(
                f"state of {entity_id} is {len(new_state)} characters; at most "
                f"{MAX_STATE_LENGTH} allowed (put long values in attributes)"
            )
        old = self._states.get(entity_id)
        same_state = old is not None and old.state == new_state
        if attributes is None:
            attributes = _EMPTY_ATTRS
        if old is not None and same_state and not force_update and old.attributes == attributes:
            return old
        now = time.time()
        state = State(
            entity_id,
            new_state,
            attributes,
            old.last_changed if (old is not None and same_state) else now,
            now,
            context,
        )
        self._states[entity_id] = state
        self._bus.fire(
            EVENT_STATE_CHANGED,
            {"entity_id": entity_id, "old_state": old, "new_state": state},
            context,
        )
        return state

    def remove(self, entity_id: str, *, context: Context | None = None) -> bool:
        """Remove an entity's state; fires ``state_changed`` with ``new_state`` None."""
        old = self._states.pop(entity_id, None)
        if old is None:
            return False
        self._bus.fire(
            EVENT_STATE_CHANGED,
            {"entity_id": entity_id, "old_state": old, "new_state": None},
            context,
        )
        return True


def _coerce_state(value: Any) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int | float | str):
        return str(value)
    raise InvalidStateError(f"state must be a string or a number, got {type(value).__name__}")
