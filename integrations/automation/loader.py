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

import anyio.to_thread
import voluptuous as vol

from gatehouse.core import ConfigEntry, Host
from gatehouse.core.helpers import describe_invalid, write_private_file
from gatehouse.integrations.script.api import (
    Item,
    ScriptError,
    normalize_automation,
    read_sources,
    resolve,
)

from .automation import Automation
from .config import AUTOMATION_SCHEMA
from .const import AUTOMATIONS_FILE, CONF_INITIAL_STATE, DOMAIN, ENABLED_FILE
from .runtime import AutomationRuntime

_LOGGER = logging.getLogger(__name__)


def compile_automation(host: Host, entry: ConfigEntry[AutomationRuntime],
                       item: Item) -> Automation:
    """An ``Automation`` from a valid item (``ScriptError`` naming where, if not)."""
    assert item.config is not None
    try:
        config = AUTOMATION_SCHEMA(normalize_automation(item.config))
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
    for item in resolve(host, sources):
        if item.error is None:
            try:
                automation = compile_automation(host, entry, item)
            except ScriptError as err:
                item.error = str(err)
        if item.error is not None:
            _LOGGER.error("Automation %s not loaded: %s", item.key, item.error)
            runtime.invalid.append(item)
            continue
        runtime.automations[item.key] = automation
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
