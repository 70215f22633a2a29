"""What a point is: a state turned into measurement, tags, fields and time, as Home
Assistant's influxdb integration does it (so dashboards built on it keep working).

* **measurement**: a per-entity ``override_measurement`` (``component_config*``), else
  the entry's ``override_measurement``, else by ``measurement_attr``: the unit
  (``unit_of_measurement``, the default), ``<domain>__<device_class>`` (or the domain
  alone), or the entity id; when that is empty, ``default_measurement``, else the
  entity id.
* **fields**: a numeric state is ``value`` (float); a state that is not is ``state``
  (string), and a binary one (``on``/``off``, ``open``/``closed``...) gets both, ``value``
  being 1.0 or 0.0. Every attribute is a field unless ignored (``ignore_attributes``,
  global and per entity) or used as a tag (``tags_attributes``): numbers as floats,
  anything else as ``<attribute>_str`` (text), plus the number in it when the text
  carries one (``"12.5 km"`` → ``<attribute>: 12.5`` as well). The unit is not a field
  when it is the measurement, nor the device class when it is in the measurement. An
  attribute named like a field already there gets a trailing ``_``.
* **tags**: ``entity_id`` (the object id), ``domain``, the entity's ``device`` and
  ``area`` when the registries know them, ``tags_attributes``, then the entry's
  ``tags`` (which win).
* **time**: the state's ``last_updated``, in the entry's precision. Writing the same
  point twice (a redelivery) overwrites it with itself in InfluxDB: retries are safe.

States ``unknown``, ``unavailable`` and empty are not written (as in Home Assistant).
The per-entity part (overrides, registry tags) is computed once per entity id.
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from gatehouse.core import STATE_UNAVAILABLE, STATE_UNKNOWN, Host, State

from .const import (
    CONF_COMPONENT_CONFIG,
    CONF_COMPONENT_CONFIG_DOMAIN,
    CONF_COMPONENT_CONFIG_GLOB,
    CONF_DEFAULT_MEASUREMENT,
    CONF_IGNORE_ATTRIBUTES,
    CONF_MEASUREMENT_ATTR,
    CONF_OVERRIDE_MEASUREMENT,
    CONF_PRECISION,
    CONF_TAGS,
    CONF_TAGS_ATTRIBUTES,
    FIELD_STATE,
    FIELD_VALUE,
    TAG_AREA,
    TAG_DEVICE,
    TAG_DOMAIN,
    TAG_ENTITY_ID,
)
from .lineprotocol import Counts, Escaper, encode, encode_tagged, tag_string, timestamp

_SKIPPED: Final = frozenset({STATE_UNKNOWN, STATE_UNAVAILABLE, ""})
#: Binary states written as 1.0/0.0 in ``value`` besides the text in ``state``.
_STATE_NUMBERS: Final[Mapping[str, float]] = {
    "on": 1.0, "off": 0.0, "open": 1.0, "closed": 0.0, "home": 1.0, "not_home": 0.0,
    "locked": 1.0, "unlocked": 0.0, "true": 1.0, "false": 0.0, "detected": 1.0,
    "clear": 0.0, "above_horizon": 1.0, "below_horizon": 0.0,
}
#: Text with exactly one number in it (digits, at most one decimal point).
_ONE_NUMBER: Final = re.compile(r"^[^\d.]*(-?\d+(?:\.\d+)?)[^\d.]*$")
_CACHE_LIMIT: Final = 50_000


@dataclass(frozen=True, slots=True)
class EntityPart:
    """What a point needs that only depends on the entity (computed once)."""

    domain: str
    tags: tuple[tuple[str, str], ...]
    #: ``tags`` with the entry's ``tags`` laid over, sorted, escaped, each after a comma:
    #: what every point of the entity carries when no ``tags_attributes`` add to it.
    tag_text: str
    measurement: str | None
    ignore: frozenset[str]


class PointMaker:
    """Turns states into line-protocol lines for one entry."""

    def __init__(self, host: Host | None, config: Mapping[str, Any], counts: Counts) -> None:
        self._host = host
        self.counts = counts
        self.escaper = Escaper(counts)
        self.precision: str = config[CONF_PRECISION]
        self._measurement_attr: str = config[CONF_MEASUREMENT_ATTR]
        self._default_measurement: str | None = config.get(CONF_DEFAULT_MEASUREMENT)
        self._override: str | None = config.get(CONF_OVERRIDE_MEASUREMENT)
        self._tags: Mapping[str, str] = config[CONF_TAGS]
        self._tags_attributes = frozenset(config[CONF_TAGS_ATTRIBUTES])
        self._ignore = frozenset(config[CONF_IGNORE_ATTRIBUTES])
        self._by_entity: Mapping[str, Mapping[str, Any]] = config[CONF_COMPONENT_CONFIG]
        self._by_domain: Mapping[str, Mapping[str, Any]] = config[CONF_COMPONENT_CONFIG_DOMAIN]
        self._by_glob: Mapping[str, Mapping[str, Any]] = config[CONF_COMPONENT_CONFIG_GLOB]
        self._parts: dict[str, EntityPart] = {}
        self.skipped = 0

    # -- per entity ----------------------------------------------------------------

    def overrides(self, entity_id: str) -> dict[str, Any]:
        """``component_config*`` merged: domain, then matching globs, then the entity."""
        merged: dict[str, Any] = {}
        merged.update(self._by_domain.get(entity_id.partition(".")[0], {}))
        for glob, values in self._by_glob.items():
            if fnmatch.fnmatchcase(entity_id, glob):
                merged.update(values)
        merged.update(self._by_entity.get(entity_id, {}))
        return merged

    def _registry_tags(self, entity_id: str) -> list[tuple[str, str]]:
        """The device's name and the area (the entity's own, else its device's)."""
        host = self._host
        if host is None:
            return []
        entry = host.entity_registry.get(entity_id)
        if entry is None:
            return []
        device = (
            host.device_registry.get(entry.device_id) if entry.device_id is not None else None
        )
        found = []
        name = (device.name_by_user or device.name) if device is not None else None
        if name:
            found.append((TAG_DEVICE, name))
        area = entry.area_id or (device.area_id if device is not None else None)
        if area:
            found.append((TAG_AREA, area))
        return found

    def part(self, entity_id: str) -> EntityPart:
        cached = self._parts.get(entity_id)
        if cached is not None:
            return cached
        domain, _, object_id = entity_id.partition(".")
        overrides = self.overrides(entity_id)
        tags = [(TAG_DOMAIN, domain), (TAG_ENTITY_ID, object_id)]
        tags.extend(self._registry_tags(entity_id))
        static = dict(tags)
        static.update(self._tags)
        tag_text = tag_string(self.escaper, sorted(static.items()))
        part = EntityPart(
            domain=domain,
            tags=tuple(tags),
            tag_text=tag_text,
            measurement=overrides.get(CONF_OVERRIDE_MEASUREMENT) or None,
            ignore=self._ignore | frozenset(overrides.get(CONF_IGNORE_ATTRIBUTES, ())),
        )
        if len(self._parts) >= _CACHE_LIMIT:
            self._parts.clear()
        self._parts[entity_id] = part
        return part

    def forget(self, entity_id: str | None = None) -> None:
        """Drop the per-entity cache (a registry change: device or area renamed)."""
        if entity_id is None:
            self._parts.clear()
        else:
            self._parts.pop(entity_id, None)

    # -- per state -----------------------------------------------------------------

    def line(self, state: State) -> str | None:
        """The state's line, or None (skipped state, or nothing writable: counted)."""
        text = state.state
        if text in _SKIPPED:
            self.skipped += 1
            return None
        part = self.part(state.entity_id)
        attributes = state.attributes
        fields: dict[str, Any] = {}
        try:
            number = float(text)
        except ValueError:
            fields[FIELD_STATE] = text
            binary = _STATE_NUMBERS.get(text.lower())
            if binary is not None:
                fields[FIELD_VALUE] = binary
        else:
            fields[FIELD_VALUE] = number

        include_unit = include_class = True
        measurement = part.measurement or self._override
        if not measurement:
            how = self._measurement_attr
            if how == "entity_id":
                measurement = state.entity_id
            elif how == "domain__device_class":
                device_class = attributes.get("device_class")
                if device_class is None:
                    measurement = part.domain
                else:
                    measurement = f"{part.domain}__{device_class}"
                    include_class = False
            else:
                unit = attributes.get(how)
                measurement = str(unit) if unit not in (None, "") else None
                include_unit = measurement is None
            if not measurement:
                measurement = self._default_measurement or state.entity_id

        tags: list[tuple[str, str]] | None = None
        tag_attributes = self._tags_attributes
        ignore = part.ignore
        for attribute, value in attributes.items():
            key = attribute
            if key in tag_attributes:
                if value is not None:
                    if tags is None:
                        tags = list(part.tags)
                    tags.append((key, str(value)))
                continue
            if key in ignore or (key == "unit_of_measurement" and not include_unit) or (
                key == "device_class" and not include_class
            ):
                continue
            if key in fields:
                key = f"{key}_"
            kind = type(value)
            if kind is float or kind is int or kind is bool:
                number = float(value)
                if math.isfinite(number):
                    fields[key] = number
                else:
                    self.counts.add("non_finite_float")
                continue
            as_text = str(value)
            fields[f"{key}_str"] = as_text
            match = _ONE_NUMBER.match(as_text) if len(as_text) < 64 else None
            if match is not None:
                fields[key] = float(match.group(1))
        stamp = timestamp(state.last_updated, self.precision)
        if tags is None:  # the common case: the entity's tags, escaped once
            return encode_tagged(self.escaper, measurement, part.tag_text, fields.items(), stamp)
        merged = dict(tags)  # one value per key: a tag given twice is refused
        if self._tags:
            merged.update(self._tags)
        return encode(self.escaper, measurement, sorted(merged.items()), fields.items(), stamp)
