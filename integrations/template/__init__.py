"""The template integration: entities defined by templates, Home Assistant's way.

``template:`` in configuration.yaml (Home Assistant's list of blocks: ``sensor``,
``binary_sensor``, ``switch``, ``number``, ``button``, optionally with ``trigger:``)
is one entry; each entity made in the UI (a sensor or binary sensor from a form with a
live preview, ``template/preview``) is an entry of its own. Modules:

* ``config.py``: the schemas; ``runtime.py``: blocks → entities (``TemplateRuntime``);
* ``entity.py``: what the entities share (tracking, triggers, ``this``); one module per
  platform; ``actions.py``: the actions of switches, numbers and buttons and
  ``triggers.py``: the triggers of trigger-based blocks, both run by the ``script``
  integration's engine (a dependency); ``preview.py``: the WebSocket preview;
  ``flow.py``: the UI's form; ``services.py``: ``template.reload``.
"""

from __future__ import annotations

from typing import Any

from gatehouse.core import ConfigEntry, Host, YamlEntry, hookimpl
from gatehouse.core.http import WsCommand

from .config import CONFIG_SCHEMA, block_of_form, yaml_entries
from .const import CONF_BLOCKS, CONF_DEVICE_CLASS, CONF_UNIT, DOMAIN
from .flow import TemplateConfigFlow, TemplateOptionsFlow
from .runtime import TemplateRuntime
from .services import LOADED


class TemplateIntegration:
    domain = DOMAIN
    config_schema = CONFIG_SCHEMA
    config_flow = TemplateConfigFlow
    entry_version = 1

    def entries_from_yaml(self, config: Any) -> list[YamlEntry]:
        return yaml_entries(config)

    def options_flow(self, entry: ConfigEntry[Any]) -> TemplateOptionsFlow:
        return TemplateOptionsFlow(entry)

    async def setup_entry(self, host: Host, entry: ConfigEntry[TemplateRuntime]) -> None:
        runtime = entry.runtime_data = TemplateRuntime()
        if CONF_BLOCKS in entry.data:
            runtime.build(host, list(entry.data[CONF_BLOCKS]))
        else:
            form = {**entry.data, **entry.options}
            for key in (CONF_UNIT, CONF_DEVICE_CLASS):  # cleared in the options
                if key in entry.data and key not in entry.options and entry.options:
                    form.pop(key)
            runtime.build(host, [block_of_form(form)], default_unique_id=entry.entry_id)
        await host.entities.add(entry, runtime.all_entities)
        LOADED.add(host, entry, runtime)
        for undo in runtime.start_triggers(host):
            entry.on_unload(undo)

    async def unload_entry(self, host: Host, entry: ConfigEntry[TemplateRuntime]) -> None:
        """Nothing to do: trackers and triggers are undone with the entities."""


INTEGRATION = TemplateIntegration()


@hookimpl
def gatehouse_integration() -> TemplateIntegration:
    return INTEGRATION


@hookimpl
def gatehouse_ws_commands(host: Host) -> list[WsCommand]:
    """``template/preview`` (``preview.py``)."""
    from .preview import commands

    return commands(host)
