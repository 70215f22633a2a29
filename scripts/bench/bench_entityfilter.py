#!/usr/bin/env python
"""Benchmark the shared entity filter (``gatehouse.core.helpers.entity_filter``).

Plain script, prints figures::

    .venv/bin/python scripts/bench/bench_entityfilter.py [--entities 1000] [--rounds 200]

Every exporter runs its filter on every ``state_changed`` of the host, so its cost per
decision is paid per state change, per exporter. The figures are decisions/s over
``--entities`` states (spread over nine domains, one device per ten entities, an area
per device, a few entities with an area of their own, all in the real entity and
device registries of a running host), each state decided ``--rounds`` times:

* **previous** (the baseline): the mqtt statestream's own ``EntityFilter`` before the
  shared one replaced it (aad59e5^:integrations/mqtt/statestream.py), its logic copied
  here: domains, entities and globs (``fnmatchcase`` per glob), exclude first, a cache
  per entity id without a bound; called as the statestream called it, with the entity
  id (``included(new_state.entity_id)``); measured cached and uncached (its ``_decide``);
* **shared, cached**: ``EntityFilter(state)`` as exporters call it: the choice by id,
  device and area from the per-entity cache, then the attribute conditions;
* **shared, uncached**: the same decision made from scratch each time (the choice by
  id, plus the registry look-ups for device and area when the filter names any): what
  the cache saves, and what the first state of each entity (or every state after a
  registry change) costs.

Filters: ``ha`` — the shape of the previous filter, as Home Assistant users write it
(include domains/globs/entities, exclude globs/entities), so *previous* and *shared*
decide the same thing (checked); ``full`` — ``ha`` plus devices, areas and attribute
conditions on both sides (what only the shared filter can do).
"""

from __future__ import annotations

import argparse
import fnmatch
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

DOMAINS = ["sensor", "binary_sensor", "switch", "light", "climate", "cover", "lock",
           "number", "select"]

HA_FILTER: dict[str, Any] = {
    "include": {
        "domains": ["sensor", "binary_sensor", "climate"],
        "entity_globs": ["switch.pump_*", "light.hall_*"],
        "entities": ["lock.front_door", "cover.garage_3"],
    },
    "exclude": {
        "entity_globs": ["sensor.*_debug", "binary_sensor.tamper_*"],
        "entities": ["sensor.uptime_7", "climate.attic_5"],
    },
}


def full_filter(devices: list[str]) -> dict[str, Any]:
    include = {**HA_FILTER["include"], "devices": devices[:5], "areas": ["plant_room"],
               "attributes": {"device_class": ["temperature", "pressure", "door", None]}}
    exclude = {**HA_FILTER["exclude"], "devices": devices[5:7], "areas": ["lab"],
               "attributes": {"quality": "bad"}}
    return {"include": include, "exclude": exclude}


# ----------------------------------------------------------------- previous (baseline)


class PreviousSelector:
    """The mqtt statestream's selector before the shared filter (copied logic)."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.domains = frozenset(raw.get("domains") or ())
        self.entities = frozenset(raw.get("entities") or ())
        self.globs = tuple(raw.get("entity_globs") or ())
        self.empty = not (self.domains or self.entities or self.globs)

    def matches(self, entity_id: str) -> bool:
        return (
            entity_id in self.entities
            or entity_id.partition(".")[0] in self.domains
            or any(fnmatch.fnmatchcase(entity_id, glob) for glob in self.globs)
        )


class PreviousFilter:
    """The mqtt statestream's ``EntityFilter`` before the shared one (copied logic)."""

    def __init__(self, include: Mapping[str, Any], exclude: Mapping[str, Any]) -> None:
        self._include = PreviousSelector(include)
        self._exclude = PreviousSelector(exclude)
        self._cache: dict[str, bool] = {}

    def __call__(self, entity_id: str) -> bool:
        decision = self._cache.get(entity_id)
        if decision is None:
            decision = self._cache[entity_id] = self.decide(entity_id)
        return decision

    def decide(self, entity_id: str) -> bool:
        if self._exclude.matches(entity_id):
            return False
        return self._include.empty or self._include.matches(entity_id)


# ------------------------------------------------------------------------------ bench


def rate(decide: Callable[[Any], object], items: list[Any], rounds: int) -> float:
    """Decisions/s, best of three runs of ``rounds`` passes over ``items``."""
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(rounds):
            for item in items:
                decide(item)
        elapsed = time.perf_counter() - start
        best = max(best, rounds * len(items) / elapsed)
    return best


async def run(args: argparse.Namespace) -> None:
    from gatehouse.core import State
    from gatehouse.core.helpers import ENTITY_FILTER_SCHEMA, EntityFilter, entity_filter
    from gatehouse.core.testing import make_host
    from gatehouse.core.util import entityfilter as ef

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "configuration.yaml").write_text("{}\n")
        host = make_host(tmp)
        async with host.running():
            devices: list[str] = []
            states: list[State] = []
            names = ["pump", "hall", "tank", "uptime", "tamper", "attic", "garage", "front"]
            for i in range(args.entities):
                if i % 10 == 0:
                    device = host.device_registry.get_or_create(
                        "bench", {"identifiers": {("bench", f"d{i // 10}")}}
                    )
                    area = ("plant_room", "lab", "office", "yard")[(i // 10) % 4]
                    host.device_registry.update(device.id, area_id=area)
                    devices.append(device.id)
                domain = DOMAINS[i % len(DOMAINS)]
                suffix = "_debug" if i % 13 == 0 else ""
                object_id = f"{names[i % len(names)]}_{i}{suffix}"
                entry = host.entity_registry.get_or_create(
                    domain, "bench", str(i), suggested_object_id=object_id, device_id=devices[-1]
                )
                if i % 17 == 0:
                    host.entity_registry.update(entry.entity_id, area_id="lab")
                attributes = {
                    "device_class": ("temperature", "humidity", "pressure", "door")[i % 4],
                    "quality": "bad" if i % 11 == 0 else "good",
                }
                states.append(State(entry.entity_id, str(i), attributes))
            ids = [s.entity_id for s in states]

            ha = ENTITY_FILTER_SCHEMA(HA_FILTER)
            full = ENTITY_FILTER_SCHEMA(full_filter(devices))
            previous = PreviousFilter(HA_FILTER["include"], HA_FILTER["exclude"])
            shared_ha = entity_filter(host, ha)
            shared_full = entity_filter(host, full)

            # The same choice for the filter both can express.
            differ = [e for e in ids if previous(e) != shared_ha(State(e, "1"))]
            chosen_ha = sum(shared_ha(s) for s in states)
            chosen_full = sum(shared_full(s) for s in states)

            def uncached(flt: EntityFilter) -> Callable[[State], bool]:
                include, exclude = flt._include, flt._exclude
                where, decide = flt._where, ef.decide

                def call(state: State) -> bool:
                    entity_id = state.entity_id
                    if not decide(include, exclude, entity_id, where(entity_id)):
                        return False
                    attributes = state.attributes
                    if include.attributes and not include.attributes_match(attributes):
                        return False
                    return not (exclude.attributes and exclude.attributes_match(attributes))

                return call

            # The uncached variants decide what the cached ones do.
            assert [uncached(shared_full)(s) for s in states] == [shared_full(s) for s in states]

            rounds = args.rounds
            figures = [
                ("previous, cached (baseline)", rate(previous, ids, rounds)),
                ("previous, uncached", rate(previous.decide, ids, max(1, rounds // 10))),
                ("shared ha, cached", rate(shared_ha, states, rounds)),
                ("shared ha, uncached", rate(uncached(shared_ha), states, max(1, rounds // 10))),
                ("shared full, cached", rate(shared_full, states, rounds)),
                ("shared full, uncached",
                 rate(uncached(shared_full), states, max(1, rounds // 10))),
            ]

    print(f"entities: {args.entities} in {len(devices)} devices; "
          f"ha filter chooses {chosen_ha}, full filter {chosen_full}; "
          f"previous and shared differ on {len(differ)} of the ha filter's entities")
    baseline = figures[0][1]
    for name, value in figures:
        print(f"  {name:30s} {value / 1e6:7.2f} M decisions/s  {1e9 / value:7.0f} ns each"
              f"  ({value / baseline:5.2f} x baseline)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    import anyio

    anyio.run(run, args)


if __name__ == "__main__":
    main()
