"""Loading the automations of the ``automation`` entry: read, fill blueprints, check,
compile, attach.

An automation that does not compile (an unknown trigger, a bad condition, a blueprint
input that does not fit) is set aside with its reason (``runtime.invalid``, shown by
``automation/list`` and the UI) and logged once with its file and line; the others
run. ``initial_state`` decides whether one starts on; without it, the state it was
left in (turned off survives restarts, in ``.storage``), else on.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import anyio.to_thread
import voluptuous as vol

from gatehouse.core import ConfigEntry, Host
from gatehouse.core.helpers import describe_invalid, write_private_file
from gatehouse.integrations.script.api import (
    Item,
    ScriptError,
    Sources,
    check_templates,
    compile_each,
    normalize_automation,
    read_sources,
)

from .automation import Automation
from .config import AUTOMATION_SCHEMA
from .const import AUTOMATIONS_FILE, CONF_INITIAL_STATE, DOMAIN, ENABLED_FILE
from .runtime import AutomationRuntime

_LOGGER = logging.getLogger(__name__)


#: The parts of a checked config that hold templates (not ``alias``/``description``).
_TEMPLATED = ("triggers", "conditions", "actions", "variables", "trigger_variables")


def compile_automation(host: Host, entry: ConfigEntry[AutomationRuntime],
                       item: Item) -> Automation:
    """An ``Automation`` from a valid item (``ScriptError`` naming where, if not)."""
    assert item.config is not None
    try:
        config = AUTOMATION_SCHEMA(normalize_automation(item.config))
        for key in _TEMPLATED:
            check_templates(host, config.get(key), key)
    except vol.Invalid as err:
        raise ScriptError(f"{item.where}: {describe_invalid(err)}") from None
    except ScriptError as err:
        raise ScriptError(f"{item.where}: {err}") from None
    try:
        automation = Automation(host, entry, item, config)
        automation.check_triggers()
    except ScriptError as err:
        raise ScriptError(f"{item.where}: {err}") from None
    return automation


def compile_items(host: Host, entry: ConfigEntry[AutomationRuntime],
                  sources: Sources) -> tuple[dict[str, Automation], list[Item]]:
    """Every item filled in and compiled: the good ones by key, the broken ones with their
    ``error`` (file, line, why). The one validation pass both set-up and
    ``gatehouse check-config`` (``check_config``) run, so the two cannot disagree."""
    good, invalid = compile_each(
        host, sources, lambda item: compile_automation(host, entry, item))
    return {item.key: automation for item, automation in good}, invalid


def describe_item(item: Item) -> str:
    """``file:line: automation 'alias' (id x): why`` for check-config's report."""
    where = item.where or "?"
    reason = (item.error or "").removeprefix(f"{where}: ")
    raw = item.raw if isinstance(item.raw, dict) else {}
    alias = raw.get("alias")
    label = f"{alias!r} (id {item.key})" if alias else f"id {item.key}"
    return f"{where}: automation {label}: {reason}"


async def check_config(config_dir: Path) -> list[str]:
    """``gatehouse check-config``: each automation checked as set-up checks it.

    The section schema is lenient on purpose (one bad automation must not stop the
    others at boot), so without this a misspelled trigger passed the check. Runs on a
    scratch ``Host`` that is never started (no integration set up, nothing listens,
    nothing written: no ``install_shipped``; a missing blueprint is looked up in the
    shipped ones anyway), in the caller's event loop because time triggers attach a
    loop timer; each automation is compiled, its triggers attached and detached.
    Offline means no states: templates are compiled and those set-up renders
    (``trigger_variables``) rendered against an empty state machine, as at a first
    boot; an entity selector's ``device_class`` filter sees no state and so does not
    match (the same answer set-up gives before that entity exists).
    Returns one line per problem (file problems, then invalid automations).
    """
    host = Host(config_dir)
    entry: ConfigEntry[AutomationRuntime] = ConfigEntry(domain=DOMAIN, title="check-config",
                                                        data={})
    sources = await anyio.to_thread.run_sync(
        read_sources, host.config_dir, DOMAIN, AUTOMATIONS_FILE, "list")
    _good, invalid = compile_items(host, entry, sources)
    return [*sources.problems, *(describe_item(item) for item in invalid)]


def read_disabled(host: Host) -> set[str]:
    path = host.storage_dir / ENABLED_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    return {str(k) for k in data.get("disabled", [])} if isinstance(data, dict) else set()


def write_disabled(host: Host, disabled: set[str]) -> None:
    write_private_file(host.storage_dir / ENABLED_FILE,
                       json.dumps({"disabled": sorted(disabled)}).encode())


async def save_disabled(host: Host, runtime: AutomationRuntime) -> None:
    await anyio.to_thread.run_sync(write_disabled, host, set(runtime.disabled))


async def load_automations(host: Host,
                           entry: ConfigEntry[AutomationRuntime]) -> AutomationRuntime:
    sources = await anyio.to_thread.run_sync(
        read_sources, host.config_dir, DOMAIN, AUTOMATIONS_FILE, "list")
    disabled = await anyio.to_thread.run_sync(read_disabled, host)
    runtime = AutomationRuntime(problems=list(sources.problems), disabled=disabled)
    for problem in sources.problems:
        _LOGGER.error("Automations: %s", problem)
    runtime.automations, runtime.invalid = compile_items(host, entry, sources)
    for item in runtime.invalid:
        _LOGGER.error("Automation %s not loaded: %s", item.key, item.error)
    await host.entities.add(entry, [a.entity for a in runtime.automations.values()])
    for key, automation in runtime.automations.items():
        entry.on_unload(automation.detach)
        # Home Assistant's order: initial_state, else the state it was left in, else on.
        initial = automation.config.get(CONF_INITIAL_STATE)
        if initial is False or (initial is None and key in runtime.disabled):
            automation.entity.changed()
            continue
        automation.enable()
    return runtime
