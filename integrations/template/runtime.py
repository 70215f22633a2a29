"""What a loaded template entry holds: its entities, built from ``template:`` blocks.

An entry is either the YAML section (``{"blocks": [...]}``, one entry for the whole
``template:`` list) or one entity made in the UI (the form's fields). Both become
blocks here. Every template is compiled before anything starts, so a typo fails the
set-up with the entity and field named instead of rendering errors later.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gatehouse.core import ConfigEntryError, Entity, Host
from gatehouse.core.helpers import TemplateError, check_template

from .binary_sensor import TemplateBinarySensor
from .button import TemplateButton
from .const import (
    CONF_ACTION,
    CONF_CONDITION,
    CONF_NAME,
    CONF_TRIGGER,
    CONF_UNIQUE_ID,
    CONF_VARIABLES,
    PLATFORMS,
)
from .entity import TemplateEntity
from .errors import TemplateEntityError
from .number import TemplateNumber
from .sensor import TemplateSensor
from .switch import TemplateSwitch
from .triggers import TriggerBlock

_CLASSES: dict[str, type[TemplateEntity]] = {
    "sensor": TemplateSensor,
    "binary_sensor": TemplateBinarySensor,
    "switch": TemplateSwitch,
    "number": TemplateNumber,
    "button": TemplateButton,
}


class TemplateRuntime:
    """A loaded entry (``entry.runtime_data``): its entities and trigger groups."""

    def __init__(self) -> None:
        self.entities: list[TemplateEntity] = []
        #: The trigger-based blocks.
        self.triggered: list[TriggerBlock] = []

    def build(self, host: Host, blocks: list[Mapping[str, Any]], *,
              default_unique_id: str | None = None) -> None:
        """Make the entities of ``blocks``; ``ConfigEntryError`` names a bad template."""
        for number, block in enumerate(blocks, start=1):
            triggers = list(block.get(CONF_TRIGGER) or [])
            prefix = block.get(CONF_UNIQUE_ID)
            made: list[TemplateEntity] = []
            for platform in PLATFORMS:
                for index, raw in enumerate(block.get(platform) or [], start=1):
                    config = dict(raw)
                    where = f"template block {number}, {platform} {index}"
                    uid = config.get(CONF_UNIQUE_ID) or default_unique_id
                    if uid is not None and prefix:
                        uid = f"{prefix}_{uid}"
                    if not config.get(CONF_NAME):
                        config[CONF_NAME] = f"Template {platform} {number}" + (
                            f" {index}" if index > 1 else "")
                    try:
                        entity = _CLASSES[platform](host, config, unique_id=uid,
                                                    triggered=bool(triggers))
                    except (TemplateEntityError, TemplateError) as err:
                        raise ConfigEntryError(f"{where}: {err}") from err
                    for field, source in entity.templates.items():
                        problem = check_template(host, source)
                        if problem is not None:
                            raise ConfigEntryError(f"{where} ({entity.name}), {field}: "
                                                   f"{problem}")
                    made.append(entity)
            self.entities.extend(made)
            if triggers:
                self.triggered.append(TriggerBlock(
                    f"template trigger block {len(self.triggered) + 1}", triggers,
                    variables=dict(block.get(CONF_VARIABLES) or {}),
                    conditions=list(block.get(CONF_CONDITION) or []),
                    actions=block.get(CONF_ACTION), entities=made))

    def start_triggers(self, host: Host) -> list[Callable[[], None]]:
        """Attach the triggers of trigger-based blocks; returns their undos.
        ``ConfigEntryError`` names a block whose triggers, conditions or actions are
        malformed."""
        undos = []
        try:
            for block in self.triggered:
                undos.append(block.attach(host))
        except TemplateEntityError as err:
            for undo in undos:
                undo()
            raise ConfigEntryError(str(err)) from err
        return undos

    @property
    def all_entities(self) -> list[Entity]:
        return list(self.entities)

