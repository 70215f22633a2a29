"""Scripts, and the engine automations run on (Home Assistant's script component).

Modules: the engine — ``syntax`` (both spellings → one), ``conditions``,
``triggers``/``msgtriggers``/``dispatch`` (trigger platforms; one state listener per
host), ``actions`` (each action kind, traced), ``runner`` (``Script``: modes),
``trace``, ``templating`` (the one door to the template helpers), ``timeparse``,
``blueprint``/``selectors``, ``items`` (YAML in, UI writes out) — and
the integration: ``config``, ``loader``, ``entity`` (``script.<key>``), ``services``,
``wscommands`` (``trace/*``, ``script/*``, ``blueprint/*``), ``editor`` and ``views``
(Home Assistant's ``/api/config/script/config/<key>``), ``api`` (what other
integrations import).

``script:`` in configuration.yaml (a mapping, ``!include scripts.yaml``, or empty) makes
one entry; set-up reads the section and the UI's ``scripts.yaml`` itself, so that
``script.reload`` (a reload of that entry) picks up edits without a restart.
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread

from gatehouse.core import ConfigEntry, Host, YamlEntry, hookimpl
from gatehouse.core.http import RouteDef, WsCommand

from .blueprint import install_shipped
from .config import CONFIG_SCHEMA
from .const import DOMAIN
from .loader import load_scripts
from .runtime import ScriptRuntime
from .services import LOADED


class ScriptIntegration:
    domain = DOMAIN
    config_schema = CONFIG_SCHEMA

    def entries_from_yaml(self, config: Any) -> list[YamlEntry]:
        # The entry holds no data: set-up reads the files, so edits need a reload only.
        return [YamlEntry(unique_id=DOMAIN, title="Scripts", data={})]

    async def setup_entry(self, host: Host, entry: ConfigEntry[ScriptRuntime]) -> None:
        await anyio.to_thread.run_sync(install_shipped, host)
        runtime = entry.runtime_data = await load_scripts(host, entry)
        LOADED.add(host, entry, runtime)

    async def unload_entry(self, host: Host, entry: ConfigEntry[ScriptRuntime]) -> None:
        """Runs started by other callers (``script.<key>``) are stopped too."""
        for loaded in entry.runtime_data.scripts.values():
            await loaded.script.stop()


INTEGRATION = ScriptIntegration()


@hookimpl
def gatehouse_integration() -> ScriptIntegration:
    return INTEGRATION


@hookimpl
def gatehouse_ws_commands(host: Host) -> list[WsCommand]:
    """``trace/*``, ``script/*``, ``blueprint/*`` (``wscommands.py``)."""
    from .wscommands import commands

    return commands(host)


@hookimpl
def gatehouse_http_routes(host: Host) -> list[RouteDef]:
    """Home Assistant's REST config API for scripts (``views.py``)."""
    from .views import routes

    return routes(host)
