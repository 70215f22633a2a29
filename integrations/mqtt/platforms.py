"""From a validated entity config to an entity, the same way for every source.

YAML, the options flow (its entities are merged into the entry data) and Home Assistant
discovery payloads all come here: the platform's ``describe`` makes the description,
the platform's class the entity. A config whose template or path does not compile
raises ``ValueError``; the caller decides whether that skips one entity (YAML) or
counts an invalid discovery config.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from gatehouse.core.helpers import template_engine

from . import binary_sensor, number, sensor, switch
from .const import PLATFORMS

if TYPE_CHECKING:
    from gatehouse.core import Entity, Host

    from .entity import MqttEntity, MqttEntityDescription
    from .runtime import MqttRuntime

_LOGGER = logging.getLogger(__name__)

Describe = Callable[[Mapping[str, Any]], "MqttEntityDescription"]

#: platform → (describe, entity class)
_PLATFORMS: Final[dict[str, tuple[Describe, type[MqttEntity]]]] = {
    "sensor": (sensor.describe, sensor.MqttSensor),
    "binary_sensor": (binary_sensor.describe, binary_sensor.MqttBinarySensor),
    "switch": (switch.describe, switch.MqttSwitch),
    "number": (number.describe, number.MqttNumber),
}


def make_entity(
    host: Host,
    runtime: MqttRuntime,
    platform: str,
    config: Mapping[str, Any],
    *,
    discovery_id: str | None = None,
) -> MqttEntity:
    """The entity a validated ``platform`` config describes (``ValueError``: it does
    not compile)."""
    describe, entity_class = _PLATFORMS[platform]
    description = describe(config)
    engine = template_engine(host) if description.value_template is not None else None
    return entity_class(runtime, description, engine, discovery_id=discovery_id)


def configured_entities(
    host: Host, runtime: MqttRuntime, data: Mapping[str, Any]
) -> list[Entity]:
    """The entities the entry's data (YAML and options) describes; a broken one is
    skipped and logged, not fatal."""
    entities: list[Entity] = []
    for platform in PLATFORMS:
        for config in data.get(platform) or ():
            try:
                entities.append(make_entity(host, runtime, platform, config))
            except ValueError as err:  # a template that does not compile
                _LOGGER.error("Skipping mqtt %s %r: %s", platform, config.get("name"), err)
    return entities
