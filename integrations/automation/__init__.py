"""Automations: when a trigger fires and the conditions hold, run the actions.

Home Assistant's format, both spellings, read from the ``automation:`` section of
configuration.yaml (a list, usually ``!include automations.yaml``) and from the UI's
``automations.yaml``. The engine (triggers, conditions, actions, modes, traces,
blueprints) is the ``script`` integration's (``gatehouse.integrations.script.api``),
listed in ``dependencies``.

Modules: ``automation`` (one automation: triggers → conditions → a ``Script``),
``loader`` (read, fill blueprints, compile; the on/off choice kept in ``.storage``),
``entity`` (``automation.<alias>``), ``services`` (``trigger``, ``turn_on``,
``turn_off``, ``toggle``, ``reload``), ``wscommands`` (the UI editor: ``automation/*``),
``config`` (schemas), ``editor`` (the editor's operations) and ``views``
(Home Assistant's ``/api/config/automation/config/<id>``).

``automation:`` makes one entry with no data: set-up reads the files itself, so that
``automation.reload`` (a reload of the entry) picks up edits without a restart.
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread

from gatehouse.core import ConfigEntry, Host, YamlEntry, hookimpl
from gatehouse.core.http import RouteDef, WsCommand
from gatehouse.integrations.script.api import install_shipped

from .config import CONFIG_SCHEMA
from .const import DOMAIN, EVENT_AUTOMATION_RELOADED
from .loader import load_automations
from .runtime import AutomationRuntime
from .services import LOADED


class AutomationIntegration:
    domain = DOMAIN
    config_schema = CONFIG_SCHEMA

    def entries_from_yaml(self, config: Any) -> list[YamlEntry]:
        return [YamlEntry(unique_id=DOMAIN, title="Automations", data={})]

    async def setup_entry(self, host: Host, entry: ConfigEntry[AutomationRuntime]) -> None:
        await anyio.to_thread.run_sync(install_shipped, host)
        runtime = entry.runtime_data = await load_automations(host, entry)
        LOADED.add(host, entry, runtime)
        host.bus.fire(EVENT_AUTOMATION_RELOADED, {"loaded": len(runtime.automations),
                                                  "invalid": len(runtime.invalid)})

    async def unload_entry(self, host: Host, entry: ConfigEntry[AutomationRuntime]) -> None:
        """Detach every trigger and stop every run (tasks die with the entry too)."""
        for automation in entry.runtime_data.automations.values():
            automation.detach()
            await automation.script.stop()


INTEGRATION = AutomationIntegration()


@hookimpl
def gatehouse_integration() -> AutomationIntegration:
    return INTEGRATION


@hookimpl
def gatehouse_ws_commands(host: Host) -> list[WsCommand]:
    """The editor's ``automation/*`` commands (``wscommands.py``)."""
    from .wscommands import commands

    return commands(host)


@hookimpl
def gatehouse_http_routes(host: Host) -> list[RouteDef]:
    """Home Assistant's REST config API for automations (``views.py``)."""
    from .views import routes

    return routes(host)
