"""The host-free half of the entity filter: its schema and the choice by id, device and area.

``gatehouse.core.helpers.entityfilter`` binds it to a host (registries, the cache) and
documents the precedence ``decide`` implements (Home Assistant's cases 1-6, with devices
and areas among its levels). Kept apart so the rule itself can be read, tested and
benchmarked without a host, and used by core modules below the helpers.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from typing import Any, Final, NamedTuple

import voluptuous as vol

CONF_INCLUDE: Final = "include"
CONF_EXCLUDE: Final = "exclude"

#: Outbox priorities a route can name (any int works too; higher leaves first).
PRIORITY_HIGH: Final = 10
PRIORITY_NORMAL: Final = 0
PRIORITY_LOW: Final = -10
_PRIORITY_NAMES: Final = {"high": PRIORITY_HIGH, "normal": PRIORITY_NORMAL, "low": PRIORITY_LOW}
#: The outbox's range (``core/outbox/store.py``, a 32-bit column); repeated here because
#: util stays below the outbox, and a test holds the two equal. Checked at config time:
#: the outbox would refuse the value in the exporter's loop, state after state.
PRIORITY_MIN: Final = -(2**31)
PRIORITY_MAX: Final = 2**31 - 1


def _string_list(value: Any) -> list[str]:
    """A string or a list of strings (a lone string is a list of one, as in HA)."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise vol.Invalid("expected a string or a list of strings")
    return list(value)


def _entity_ids(value: Any) -> list[str]:
    ids = _string_list(value)
    for entity_id in ids:
        domain, dot, object_id = entity_id.partition(".")
        if not dot or not domain or not object_id:
            raise vol.Invalid(f"{entity_id!r} is not an entity id (domain.object_id)")
    return [i.lower() for i in ids]


def _attribute_conditions(value: Any) -> dict[str, list[Any]]:
    if not isinstance(value, Mapping):
        raise vol.Invalid("expected a mapping of attribute name to value(s)")
    conditions: dict[str, list[Any]] = {}
    for name, wanted in value.items():
        if not isinstance(name, str):
            raise vol.Invalid(f"attribute name {name!r} is not a string")
        values = wanted if isinstance(wanted, list) else [wanted]
        if not values:
            raise vol.Invalid(f"attribute {name}: list at least one accepted value")
        for item in values:
            if isinstance(item, (dict, list)):
                raise vol.Invalid(f"attribute {name}: compare with plain values, not {item!r}")
        conditions[name] = values
    return conditions


#: One side of a filter (what ``include:`` or ``exclude:`` holds).
SELECTOR_SCHEMA: Final = vol.Schema(
    {
        vol.Optional("domains", default=list): _string_list,
        vol.Optional("entities", default=list): _entity_ids,
        vol.Optional("entity_globs", default=list): _string_list,
        vol.Optional("devices", default=list): _string_list,
        vol.Optional("areas", default=list): _string_list,
        vol.Optional("attributes", default=dict): _attribute_conditions,
    }
)

#: The two keys to splice into an integration's schema:
#: ``vol.Schema({..., **ENTITY_FILTER_FIELDS})``.
ENTITY_FILTER_FIELDS: Final[dict[Any, Any]] = {
    vol.Optional(CONF_INCLUDE, default=dict): SELECTOR_SCHEMA,
    vol.Optional(CONF_EXCLUDE, default=dict): SELECTOR_SCHEMA,
}
ENTITY_FILTER_SCHEMA: Final = vol.Schema(ENTITY_FILTER_FIELDS)


def _priority(value: Any) -> int:
    if isinstance(value, bool):
        raise vol.Invalid("expected high, normal, low or an integer")
    if isinstance(value, int):
        if not PRIORITY_MIN <= value <= PRIORITY_MAX:
            raise vol.Invalid(f"expected a priority between {PRIORITY_MIN} and {PRIORITY_MAX}")
        return value
    if isinstance(value, str) and value.lower() in _PRIORITY_NAMES:
        return _PRIORITY_NAMES[value.lower()]
    raise vol.Invalid("expected high, normal, low or an integer")


PRIORITY_RULE_SCHEMA: Final = vol.Schema(
    {vol.Required("priority"): _priority, **ENTITY_FILTER_FIELDS}
)
#: ``priority:`` — a list of rules, the first whose filter takes a state gives its priority.
PRIORITY_FIELDS: Final[dict[Any, Any]] = {
    vol.Optional("priority", default=list): [PRIORITY_RULE_SCHEMA],
}


# -- matching -----------------------------------------------------------------------------


class Where(NamedTuple):
    """What is known about an entity beyond its id (a tuple: made for every uncached
    decision, and a frozen dataclass costs several times as much to build)."""

    device_id: str | None
    area_id: str | None


NOWHERE: Final = Where(None, None)


class Selector:
    """One side (include or exclude) of a filter, by level."""

    __slots__ = ("areas", "attributes", "devices", "domains", "entities", "globs")

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.entities = frozenset(spec.get("entities", ()))
        self.devices = frozenset(spec.get("devices", ()))
        globs = spec.get("entity_globs", ())
        self.globs = (
            re.compile("|".join(f"(?:{fnmatch.translate(g)})" for g in globs)) if globs else None
        )
        self.areas = frozenset(spec.get("areas", ()))
        self.domains = frozenset(spec.get("domains", ()))
        self.attributes: tuple[tuple[str, tuple[Any, ...]], ...] = tuple(
            (name, tuple(values) if isinstance(values, list) else (values,))
            for name, values in (spec.get("attributes") or {}).items()
        )

    @property
    def broad(self) -> bool:
        return bool(self.devices or self.globs or self.areas or self.domains)

    @property
    def any(self) -> bool:
        return bool(self.entities) or self.broad

    def levels(self, entity_id: str, where: Where) -> tuple[bool, bool, bool, bool, bool]:
        """Match per level, most specific first: entity, device, glob, area, domain."""
        return (
            entity_id in self.entities,
            where.device_id is not None and where.device_id in self.devices,
            self.globs is not None and self.globs.match(entity_id) is not None,
            where.area_id is not None and where.area_id in self.areas,
            entity_id.partition(".")[0] in self.domains,
        )

    def attributes_match(self, attributes: Mapping[str, Any]) -> bool:
        """Every listed attribute has one of its listed values (a missing one never does).

        A plain loop: this runs for every state, and ``all()`` over a generator costs
        about twice as much for the one or two conditions a filter has."""
        for name, values in self.attributes:  # noqa: SIM110 - measured, see above
            if attributes.get(name, _MISSING) not in values:
                return False
        return True


_MISSING: Final = object()


def decide(include: Selector, exclude: Selector, entity_id: str, where: Where) -> bool:
    """The choice by id, device and area (cases 1-6 of ``gatehouse.core.helpers.entityfilter``)."""
    if not include.any and not exclude.any:
        return True
    if not exclude.any:
        return any(include.levels(entity_id, where))
    if not include.any:
        return not any(exclude.levels(entity_id, where))
    if include.broad:
        for took, left in zip(
            include.levels(entity_id, where), exclude.levels(entity_id, where), strict=True
        ):
            if took:
                return True
            if left:
                return False
        return False
    if entity_id in include.entities:
        return True
    if exclude.broad:
        return not any(exclude.levels(entity_id, where))
    return False
