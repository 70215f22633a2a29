"""Loading the scripts of the ``script`` entry: read, fill blueprints, check, compile.

A script that does not compile is kept aside with its reason (``runtime.invalid``,
shown by ``script/list`` and in the UI) and logged once with its file and line; the
others load. Each loaded script is a ``Script`` (runner), a ``script.<key>`` entity and
a ``script.<key>`` service.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any, Final

import anyio.to_thread
import voluptuous as vol

from gatehouse.core import ConfigEntry, Host, HostKey
from gatehouse.core.helpers import describe_invalid

from .config import SCRIPT_SCHEMA
from .const import DOMAIN, SCRIPTS_FILE
from .entity import ScriptEntity
from .errors import ScriptError
from .items import Item, read_sources, resolve
from .runner import Script
from .runtime import LoadedScript, ScriptRuntime

_LOGGER = logging.getLogger(__name__)

#: ``last_triggered`` by script key, for the host's life (survives reloads).
_LAST_TRIGGERED: Final[HostKey[dict[str, dt.datetime]]] = HostKey("script.last_triggered")


def compile_script(host: Host, item: Item) -> tuple[Script, Mapping[str, Any]]:
    """The ``Script`` of a valid item and its checked config (``ScriptError`` if not)."""
    assert item.config is not None
    try:
        config = SCRIPT_SCHEMA(item.config)
    except vol.Invalid as err:
        raise ScriptError(f"{item.where}: {describe_invalid(err)}") from None
    try:
        script = Script(
            host, config["sequence"], domain=DOMAIN, item_id=item.key,
            name=f"script.{item.key}", mode=config["mode"], max_runs=config["max"],
            max_exceeded=config["max_exceeded"], variables=config["variables"],
            config=item.raw, blueprint_inputs=item.blueprint_inputs,
            stored_traces=config["trace"]["stored_traces"])
    except ScriptError as err:
        raise ScriptError(f"{item.where}: {err}") from None
    return script, config


async def load_scripts(host: Host, entry: ConfigEntry[ScriptRuntime]) -> ScriptRuntime:
    from .services import register_script_service

    sources = await anyio.to_thread.run_sync(
        read_sources, host.config_dir, DOMAIN, SCRIPTS_FILE, "mapping")
    runtime = ScriptRuntime(problems=list(sources.problems))
    for problem in sources.problems:
        _LOGGER.error("Scripts: %s", problem)
    entities: list[ScriptEntity] = []
    for item in resolve(host, sources):
        if item.error is None:
            try:
                script, config = compile_script(host, item)
            except ScriptError as err:
                item.error = str(err)
        if item.error is not None:
            _LOGGER.error("Script %s not loaded: %s", item.key, item.error)
            runtime.invalid.append(item)
            continue
        entity = ScriptEntity(item.key, config.get("alias"), script, config.get("icon"),
                              host.data.setdefault(_LAST_TRIGGERED, {}))
        script.on_change = entity.changed
        runtime.scripts[item.key] = LoadedScript(item, script, entity)
        entities.append(entity)
    await host.entities.add(entry, entities)
    for key, loaded in runtime.scripts.items():
        entry.on_unload(register_script_service(host, key, loaded))
    return runtime
