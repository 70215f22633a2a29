"""Which entities an exporter sends, and with which priority: one filter for all of them.

influxdb, aws_iot, mqtt statestream, nats KV (and the recorder to come) select entities
with the same block, in the shape Home Assistant users know::

    include:
      domains: [sensor]
      entity_globs: ["sensor.tank_*"]
      entities: [switch.pump]
      devices: [<device id>]          # ours: every entity of these devices
      areas: [boiler_room]            # ours: an entity's area, else its device's
      attributes: {device_class: [temperature, pressure]}   # ours: a condition
    exclude:
      entity_globs: ["sensor.*_debug"]
      attributes: {quality: bad}

**Precedence** is Home Assistant's (``homeassistant/helpers/entityfilter.py``), with our
two selectors placed between its entity ids, globs and domains, from the most specific
to the broadest: *entity ids, devices, globs, areas, domains*.

1. Nothing selected: every entity passes.
2. Only ``include``: an entity passes if any include selector names it.
3. Only ``exclude``: an entity passes unless an exclude selector names it.
4. Both, with a broad include (devices, globs, areas or domains): walk the levels from
   the most specific; at each, an include match passes and an exclude match fails (so
   an excluded glob beats an included domain, an included entity beats an excluded
   glob); an entity no level names fails.
5. Both, with broad excludes but only entity ids included: an included entity id
   passes, any exclude match fails, the rest pass.
6. Both, with entity ids only on each side: only the included entity ids pass.

``attributes`` are conditions on the state, not selectors, and apply after the choice
above: with ``include: attributes`` a state passes only if every listed attribute has
one of the listed values; with ``exclude: attributes`` a state that matches every
listed attribute is left out. They change with each state, so they are checked per
state (a few dictionary lookups); the choice by id, device and area is cached per
entity (bounded: ``MAX_CACHED_DECISIONS``) and, for a filter that names devices or
areas, forgotten when the entity or device registry changes (one bus listener per host
counts those changes, so a filter holds no subscription to release when its entry
unloads). ``scripts/bench/bench_entityfilter.py`` measures the cost per decision.

``priority:`` rules (``PRIORITY_FIELDS``) reuse the same selectors to give routes an
outbox priority: the first rule whose filter takes the state wins, alarms leave first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from ..device_registry import EVENT_DEVICE_REGISTRY_UPDATED
from ..entity_registry import EVENT_ENTITY_REGISTRY_UPDATED
from ..keys import HostKey
from ..util.entityfilter import (
    CONF_EXCLUDE,
    CONF_INCLUDE,
    ENTITY_FILTER_FIELDS,
    ENTITY_FILTER_SCHEMA,
    NOWHERE,
    PRIORITY_FIELDS,
    PRIORITY_HIGH,
    PRIORITY_LOW,
    PRIORITY_NORMAL,
    PRIORITY_RULE_SCHEMA,
    SELECTOR_SCHEMA,
    Selector,
    Where,
    decide,
)

if TYPE_CHECKING:
    from ..host import Host
    from ..states import State

__all__ = [
    "CONF_EXCLUDE",
    "CONF_INCLUDE",
    "ENTITY_FILTER_FIELDS",
    "ENTITY_FILTER_SCHEMA",
    "MAX_CACHED_DECISIONS",
    "PRIORITY_FIELDS",
    "PRIORITY_HIGH",
    "PRIORITY_LOW",
    "PRIORITY_NORMAL",
    "PRIORITY_RULE_SCHEMA",
    "SELECTOR_SCHEMA",
    "EntityFilter",
    "PriorityRules",
    "entity_filter",
    "priority_rules",
]

#: Decisions cached per filter before the cache starts over (entity ids are unbounded
#: when devices announce themselves; the memory is not).
MAX_CACHED_DECISIONS: Final = 20_000


# -- bound to a host ------------------------------------------------------------------------


class _Generation:
    """Counts entity and device registry changes, so cached decisions know they are stale.

    One listener per host (not one per filter): filters come and go with entries and
    would otherwise each have to be unsubscribed.
    """

    def __init__(self, host: Host) -> None:
        self.value = 0
        host.bus.listen(EVENT_ENTITY_REGISTRY_UPDATED, self._bump)
        host.bus.listen(EVENT_DEVICE_REGISTRY_UPDATED, self._bump)

    def _bump(self, _event: Any) -> None:
        self.value += 1


_GENERATION: Final[HostKey[_Generation]] = HostKey("core.entity_filter_generation")


def _generation(host: Host) -> _Generation:
    generation = host.data.get(_GENERATION)
    if generation is None:
        generation = host.data[_GENERATION] = _Generation(host)
    return generation


class EntityFilter:
    """``filter(state) -> bool``: whether an exporter sends this state."""

    def __init__(self, host: Host | None, config: Mapping[str, Any]) -> None:
        self._host = host
        self._include = Selector(config.get(CONF_INCLUDE) or {})
        self._exclude = Selector(config.get(CONF_EXCLUDE) or {})
        self._needs_registry = bool(
            self._include.devices or self._include.areas
            or self._exclude.devices or self._exclude.areas
        )
        self._conditions = bool(self._include.attributes or self._exclude.attributes)
        # Only a choice by device or area can change with the registries; one by id,
        # glob and domain never goes stale.
        self._generation = (
            _generation(host) if host is not None and self._needs_registry else None
        )
        self._seen = self._generation.value if self._generation is not None else 0
        self._cache: dict[str, bool] = {}

    @property
    def empty(self) -> bool:
        """Nothing selected or excluded: every state passes."""
        return not (
            self._include.any or self._exclude.any
            or self._include.attributes or self._exclude.attributes
        )

    def _where(self, entity_id: str) -> Where:
        if not self._needs_registry or self._host is None:
            return NOWHERE
        entry = self._host.entity_registry.get(entity_id)
        if entry is None:
            return NOWHERE
        area_id = entry.area_id
        if area_id is None and entry.device_id is not None:
            device = self._host.device_registry.get(entry.device_id)
            area_id = device.area_id if device is not None else None
        return Where(entry.device_id, area_id)

    def _decide(self, entity_id: str) -> bool:
        """Decide afresh and cache it (the cache starts over at its bound)."""
        if len(self._cache) >= MAX_CACHED_DECISIONS:
            self._cache.clear()
        decision = decide(self._include, self._exclude, entity_id, self._where(entity_id))
        self._cache[entity_id] = decision
        return decision

    def selects(self, entity_id: str) -> bool:
        """The cached choice by entity id, device and area (no attribute conditions)."""
        generation = self._generation
        if generation is not None and generation.value != self._seen:
            self._cache.clear()
            self._seen = generation.value
        decision = self._cache.get(entity_id)
        return self._decide(entity_id) if decision is None else decision

    def __call__(self, state: State) -> bool:
        # selects() inlined: this runs for every state change, per exporter.
        generation = self._generation
        if generation is not None and generation.value != self._seen:
            self._cache.clear()
            self._seen = generation.value
        entity_id = state.entity_id
        decision = self._cache.get(entity_id)
        if decision is None:
            decision = self._decide(entity_id)
        if not decision:
            return False
        if self._conditions:
            attributes = state.attributes
            include, exclude = self._include, self._exclude
            if include.attributes and not include.attributes_match(attributes):
                return False
            return not (exclude.attributes and exclude.attributes_match(attributes))
        return True

    def select(self, states: Iterable[State]) -> list[State]:
        """The states this filter takes, in order."""
        return [state for state in states if self(state)]


def entity_filter(host: Host, config: Mapping[str, Any]) -> EntityFilter:
    """The filter described by ``config``'s ``include``/``exclude`` (validated by
    ``ENTITY_FILTER_FIELDS``), bound to ``host``'s registries for devices and areas."""
    return EntityFilter(host, config)


class PriorityRules:
    """``rules(state) -> int``: the outbox priority of a state (first matching rule)."""

    def __init__(self, host: Host, rules: Sequence[Mapping[str, Any]]) -> None:
        self._rules: tuple[tuple[EntityFilter, int], ...] = tuple(
            (EntityFilter(host, rule), int(rule["priority"])) for rule in rules
        )

    def __bool__(self) -> bool:
        return bool(self._rules)

    def __call__(self, state: State) -> int:
        for chosen, priority in self._rules:
            if chosen(state):
                return priority
        return PRIORITY_NORMAL


def priority_rules(host: Host, config: Mapping[str, Any]) -> PriorityRules:
    """The rules of ``config``'s ``priority:`` list (validated by ``PRIORITY_FIELDS``)."""
    return PriorityRules(host, config.get("priority") or ())
