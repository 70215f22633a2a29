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
from pathlib import Path
from typing import Any, Final

import anyio.to_thread
import voluptuous as vol

from gatehouse.core import ConfigEntry, Host, HostKey
from gatehouse.core.helpers import describe_invalid

from .config import SCRIPT_SCHEMA
from .const import DOMAIN, SCRIPTS_FILE
from .entity import ScriptEntity
from .errors import ScriptError
from .items import Item, Sources, compile_each, read_sources
from .runner import Script
from .runtime import LoadedScript, ScriptRuntime
from .templating import check_templates

_LOGGER = logging.getLogger(__name__)

#: ``last_triggered`` by script key, for the host's life (survives reloads).
_LAST_TRIGGERED: Final[HostKey[dict[str, dt.datetime]]] = HostKey("script.last_triggered")


#: The parts of a checked config that hold templates (not ``alias``/``description``).
_TEMPLATED = ("sequence", "variables")


def compile_script(host: Host, item: Item) -> tuple[Script, Mapping[str, Any]]:
    """The ``Script`` of a valid item and its checked config (``ScriptError`` if not)."""
    assert item.config is not None
    try:
        config = SCRIPT_SCHEMA(item.config)
        for key in _TEMPLATED:
            check_templates(host, config.get(key), key)
    except vol.Invalid as err:
        raise ScriptError(f"{item.where}: {describe_invalid(err)}") from None
    except ScriptError as err:
        raise ScriptError(f"{item.where}: {err}") from None
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


def compile_items(host: Host, sources: Sources
                  ) -> tuple[list[tuple[Item, Script, Mapping[str, Any]]], list[Item]]:
    """Every item filled in and compiled: the good ones (item, script, checked config),
    the broken ones with their ``error`` (file, line, why). The one validation pass both
    set-up and ``gatehouse check-config`` (``check_config``) run."""
    good, invalid = compile_each(host, sources, lambda item: compile_script(host, item))
    return [(item, script, config) for item, (script, config) in good], invalid


def describe_item(item: Item) -> str:
    """``file:line: script key ('alias'): why`` for check-config's report."""
    where = item.where or "?"
    reason = (item.error or "").removeprefix(f"{where}: ")
    alias = item.raw.get("alias") if isinstance(item.raw, dict) else None
    label = f"{item.key} ({alias!r})" if alias else item.key
    return f"{where}: script {label}: {reason}"


async def check_config(config_dir: Path) -> list[str]:
    """``gatehouse check-config``: each script checked as set-up checks it.

    The section schema is lenient on purpose (one bad script must not stop the others
    at boot), so a bad action or blueprint input passed the check without this. Runs on
    a scratch ``Host`` that is never started (no integration set up, no service
    registered, nothing written), in the caller's event loop. Offline means no states:
    templates are compiled, not rendered against live data, and an entity selector's
    ``device_class`` filter sees no state (as set-up does before that entity exists).
    Returns one line per problem (file problems, then invalid scripts).
    """
    host = Host(config_dir)
    sources = await anyio.to_thread.run_sync(
        read_sources, host.config_dir, DOMAIN, SCRIPTS_FILE, "mapping")
    _good, invalid = compile_items(host, sources)
    return [*sources.problems, *(describe_item(item) for item in invalid)]


async def load_scripts(host: Host, entry: ConfigEntry[ScriptRuntime]) -> ScriptRuntime:
    from .services import register_script_service

    sources = await anyio.to_thread.run_sync(
        read_sources, host.config_dir, DOMAIN, SCRIPTS_FILE, "mapping")
    runtime = ScriptRuntime(problems=list(sources.problems))
    for problem in sources.problems:
        _LOGGER.error("Scripts: %s", problem)
    entities: list[ScriptEntity] = []
    good, runtime.invalid = compile_items(host, sources)
    for item in runtime.invalid:
        _LOGGER.error("Script %s not loaded: %s", item.key, item.error)
    for item, script, config in good:
        entity = ScriptEntity(item.key, config.get("alias"), script, config.get("icon"),
                              host.data.setdefault(_LAST_TRIGGERED, {}))
        script.on_change = entity.changed
        runtime.scripts[item.key] = LoadedScript(item, script, entity)
        entities.append(entity)
    await host.entities.add(entry, entities)
    for key, loaded in runtime.scripts.items():
        entry.on_unload(register_script_service(host, key, loaded))
    return runtime
