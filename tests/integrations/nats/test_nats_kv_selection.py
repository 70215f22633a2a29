"""The KV mirror's and the fleet's older ``include``/``exclude`` form (lists of entity id
globs) selects exactly what it selected before the house's entity filter replaced
nats' own ``GlobFilter``: each old config, validated by today's ``KV_SCHEMA`` and
``FLEET_SCHEMA``, is compared entity by entity with the previous rule."""

from __future__ import annotations

import fnmatch
from typing import Any

import pytest
import voluptuous as vol

from gatehouse.core import Host, State
from gatehouse.integrations.nats.config import FLEET_SCHEMA, KV_SCHEMA
from gatehouse.integrations.nats.kv import EntitySelection

pytestmark = pytest.mark.anyio


def previous(include: list[str], exclude: list[str], entity_id: str) -> bool:
    """nats' GlobFilter before the shared filter (aad59e5^:integrations/nats/kv.py), with
    the old schema's defaults (include ``["*"]``, exclude ``[]``)."""
    return any(fnmatch.fnmatchcase(entity_id, g) for g in include) and not any(
        fnmatch.fnmatchcase(entity_id, g) for g in exclude
    )


ENTITY_IDS = [
    "sensor.kitchen", "sensor.secret_key", "sensor.bus_voltage", "sensor.line_1",
    "sensor.line_debug", "binary_sensor.door_front", "binary_sensor.window", "light.hall",
    "switch.pump", "sensor.Upper", "sensor.tick", "sensor.info",
]

#: Old configs as users wrote them (the keys left out took the old defaults).
OLD_CONFIGS: list[dict[str, Any]] = [
    {},
    {"include": ["sensor.*", "binary_sensor.door_*"],
     "exclude": ["sensor.secret_*", "sensor.bus_*"]},
    {"include": "sensor.line_*"},
    {"exclude": ["light.*", "switch.*"]},
    {"exclude": "sensor.*"},
    # An included glob does not beat an excluded one in the old form (it would under
    # Home Assistant's precedence): the exclude still wins.
    {"include": ["sensor.line_*"], "exclude": ["*_debug"]},
    {"include": ["sensor.tick", "sensor.info"]},
    {"include": ["sensor.[a-k]*", "sensor.?pper"]},
    {"include": []},  # selected nothing
    {"include": [], "exclude": ["light.*"]},
    {"include": ["*"], "exclude": []},
]


def old_lists(config: dict[str, Any]) -> tuple[list[str], list[str]]:
    def as_list(value: Any, default: list[str]) -> list[str]:
        if value is None:
            return default
        return [value] if isinstance(value, str) else list(value)

    return as_list(config.get("include"), ["*"]), as_list(config.get("exclude"), [])


@pytest.mark.parametrize("config", OLD_CONFIGS, ids=[repr(c) for c in OLD_CONFIGS])
async def test_an_old_glob_list_config_selects_the_same_entities(
    host: Host, config: dict[str, Any]
) -> None:
    include, exclude = old_lists(config)
    expected = {e: previous(include, exclude, e) for e in ENTITY_IDS}
    kv = EntitySelection(host, KV_SCHEMA({"bucket": "b", **config}))
    fleet = EntitySelection(host, FLEET_SCHEMA({"site": "s", "host": "h", **config}))
    assert {e: kv(State(e, "1")) for e in ENTITY_IDS} == expected
    assert {e: kv.selects(e) for e in ENTITY_IDS} == expected
    assert {e: fleet(State(e, "1")) for e in ENTITY_IDS} == expected


def test_the_two_forms_cannot_be_mixed_even_with_an_empty_list() -> None:
    """``include: []`` beside an exclude mapping: the mapping would be ignored."""
    with pytest.raises(vol.Invalid, match="both as lists of entity id globs"):
        KV_SCHEMA({"bucket": "b", "include": [], "exclude": {"domains": ["light"]}})
    with pytest.raises(vol.Invalid, match="both as lists of entity id globs"):
        FLEET_SCHEMA({"site": "s", "include": {"domains": ["light"]}, "exclude": []})
    # A list beside the default (empty) mapping is the old form alone.
    assert KV_SCHEMA({"bucket": "b", "exclude": ["light.*"]})["exclude"] == ["light.*"]
