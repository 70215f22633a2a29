"""Home Assistant's ``states`` in templates, recording what each render reads.

``states('sensor.x')`` is the state string (``unknown`` when there is none);
``states.sensor.x`` is the state object (``None`` when there is none), with ``state``,
``attributes``, ``name``, ``last_changed``...; ``states.sensor`` iterates the sensors
and ``states`` every entity, sorted by entity id, as in Home Assistant.

Tracking: what a render reads is written into its collector (``budget.Collector``), so
``track_template`` knows what to listen to: an entity when its state object is read
(``states('x')``, ``is_state``, ``.state`` of ``states.sensor.x``, even when the entity
does not exist yet, so that its creation re-renders), a domain when ``states.sensor`` is
iterated or counted, everything when ``states`` is. The states an iteration hands out
do not record themselves: the domain (or everything) already covers them, and 10,000
entity ids in a set per render would cost more than the render.

Iterating takes one budget step per state, so ``states | selectattr(...)`` over 10,000
states is bounded like a loop is, though a filter is a single call.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from ..const import STATE_UNKNOWN
from ..states import State, valid_entity_id
from .budget import TemplateError, active_budget, current_budget

if TYPE_CHECKING:
    from ..host import Host

#: What a state object gives a template; everything else is refused.
_FIELDS: Final = frozenset(
    {
        "entity_id", "state", "attributes", "domain", "object_id", "name", "last_changed",
        "last_updated", "context", "state_with_unit",
    }
)


#: Names jinja and the sandbox probe objects for (never domains or entities).
_PROBES: Final = frozenset(
    {
        "unsafe_callable", "alters_data", "jinja_pass_arg", "contextfunction",
        "evalcontextfunction", "environmentfunction",
    }
)


def collect_entity(entity_id: str) -> None:
    budget = current_budget()
    if budget is not None and budget.collect is not None:
        budget.collect.entities.add(entity_id)


def collect_domain(domain: str) -> None:
    budget = current_budget()
    if budget is not None and budget.collect is not None:
        budget.collect.domains.add(domain)


def collect_all() -> None:
    budget = current_budget()
    if budget is not None and budget.collect is not None:
        budget.collect.all_states = True


def collect_time() -> None:
    budget = current_budget()
    if budget is not None and budget.collect is not None:
        budget.collect.has_time = True


class TemplateState:
    """A ``State`` as a template sees it; reading it records the entity (``collect``)."""

    __slots__ = ("_collect", "_state")

    def __init__(self, state: State, *, collect: bool = True) -> None:
        self._state = state
        self._collect = collect

    def _read(self) -> State:
        if self._collect:
            collect_entity(self._state.entity_id)
        return self._state

    @property
    def entity_id(self) -> str:
        """Not a read of the state: the id is how the object was found."""
        return self._state.entity_id

    @property
    def state(self) -> str:
        return self._read().state

    @property
    def attributes(self) -> Any:
        return self._read().attributes

    @property
    def domain(self) -> str:
        return self._read().domain

    @property
    def object_id(self) -> str:
        return self._read().object_id

    @property
    def name(self) -> str:
        return self._read().name

    @property
    def last_changed(self) -> datetime:
        return self._read().last_changed_dt

    @property
    def last_updated(self) -> datetime:
        return self._read().last_updated_dt

    @property
    def context(self) -> Any:
        return self._read().context.as_dict()

    @property
    def state_with_unit(self) -> str:
        state = self._read()
        unit = state.attributes.get("unit_of_measurement")
        return state.state if unit is None else f"{state.state} {unit}"

    def __getitem__(self, item: str) -> Any:
        if item in _FIELDS:
            return getattr(self, item)
        raise KeyError(item)

    def __eq__(self, other: object) -> bool:
        mine = self._read()
        if isinstance(other, TemplateState):
            return mine == other._read()
        return mine == other

    def __hash__(self) -> int:
        return hash(self._state)

    def __repr__(self) -> str:
        return f"<template TemplateState({self._read()!r})>"

    __str__ = __repr__


def state_of(value: Any) -> State | None:
    """The ``State`` behind a template state, a state, or None."""
    if isinstance(value, TemplateState):
        return value._read()
    if isinstance(value, State):
        return value
    return None


def _sorted_states(states: list[State]) -> Iterator[TemplateState]:
    """``states`` by entity id, one budget step each, not recording themselves."""
    states.sort(key=_entity_id)
    budget = active_budget()
    for state in states:
        budget.step()
        yield TemplateState(state, collect=False)


def _entity_id(state: State) -> str:
    return state.entity_id


class _NotProbed:
    """What jinja asks of every object it calls, answered without ``__getattr__`` (which
    would take the question for a domain and raise: four exceptions per render)."""

    __slots__ = ()
    unsafe_callable = False
    alters_data = False
    jinja_pass_arg = None


class AllStates(_NotProbed):
    """The ``states`` global: callable, an attribute per domain, iterable."""

    __slots__ = ("_host",)

    def __init__(self, host: Host) -> None:
        self._host = host

    def lookup(self, entity_id: str) -> TemplateState | None:
        """The state of ``entity_id`` (recorded, also when missing), or None;
        ``TemplateError`` for something that is not an entity id."""
        state = self._host.states.get(entity_id)
        if state is None:
            if not valid_entity_id(entity_id):
                raise TemplateError(f"Invalid entity ID {entity_id!r}")
            collect_entity(entity_id)
            return None
        return TemplateState(state)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name in _PROBES:
            raise AttributeError(name)
        if "." in name:
            return self.lookup(name)
        if not valid_entity_id(f"{name}.entity"):
            raise TemplateError(f"Invalid domain name {name!r}")
        return DomainStates(self._host, name)

    def __call__(self, entity_id: Any, rounded: bool = False, with_unit: bool = False) -> str:
        state = self.lookup(str(entity_id)) if not isinstance(entity_id, TemplateState) \
            else entity_id
        if state is None:
            return STATE_UNKNOWN
        return state.state_with_unit if with_unit else state.state

    def __iter__(self) -> Iterator[TemplateState]:
        collect_all()
        return _sorted_states(self._host.states.all())

    def __len__(self) -> int:
        collect_all()
        return len(self._host.states)

    def __repr__(self) -> str:
        return "<template AllStates>"


class DomainStates(_NotProbed):
    """``states.sensor``: an attribute per entity of the domain, iterable."""

    __slots__ = ("_domain", "_host")

    def __init__(self, host: Host, domain: str) -> None:
        self._host = host
        self._domain = domain

    def __getattr__(self, name: str) -> TemplateState | None:
        if name.startswith("_") or name in _PROBES:
            raise AttributeError(name)
        entity_id = f"{self._domain}.{name}"
        state = self._host.states.get(entity_id)
        if state is None:
            if not valid_entity_id(entity_id):
                raise TemplateError(f"Invalid entity ID {entity_id!r}")
            collect_entity(entity_id)
            return None
        return TemplateState(state)

    def __iter__(self) -> Iterator[TemplateState]:
        collect_domain(self._domain)
        return _sorted_states(self._host.states.all(self._domain))

    def __len__(self) -> int:
        collect_domain(self._domain)
        return len(self._host.states.entity_ids(self._domain))

    def __repr__(self) -> str:
        return f"<template DomainStates({self._domain!r})>"

