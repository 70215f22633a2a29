"""The automation editor's operations, shared by the WebSocket commands
(``wscommands``) and Home Assistant's REST config API (``views``).

An automation written in ``configuration.yaml`` (or another included file) is
read-only here: the UI writes only its own file (``automations.yaml``), as Home
Assistant's editor does. A save is compiled first, so a config that would not load is
refused with the reason and nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anyio.to_thread

from gatehouse.core import ConfigEntry, Host
from gatehouse.integrations.script.api import (
    Item,
    check_item,
    dump_yaml,
    new_id,
    reload_domain,
    save_item,
)

from .const import AUTOMATIONS_FILE, DOMAIN
from .errors import AutomationError
from .loader import compile_automation
from .runtime import AutomationRuntime
from .services import LOADED


def entry_and_runtime(host: Host) -> tuple[ConfigEntry[AutomationRuntime], AutomationRuntime]:
    for entry in host.config_entries.entries():
        runtime = LOADED.runtimes(host).get(entry.entry_id)
        if entry.domain == DOMAIN and runtime is not None:
            return entry, runtime
    raise AutomationError(
        "automations are not loaded (add 'automation:' to configuration.yaml)")


def item_of(runtime: AutomationRuntime, key: str) -> Item | None:
    if key in runtime.automations:
        return runtime.automations[key].item
    return next((i for i in runtime.invalid if i.key == key), None)


def config_of(host: Host, key: str) -> dict[str, Any]:
    """The automation as written (``use_blueprint`` kept), as data and as YAML."""
    _, runtime = entry_and_runtime(host)
    item = item_of(runtime, key)
    if item is None:
        raise AutomationError(f"no automation {key}")
    return {"id": item.key, "config": item.raw, "yaml": dump_yaml(item.raw),
            "editable": item.editable, "where": item.where, "error": item.error}


async def save(host: Host, key: str | None, config: Mapping[str, Any]) -> str:
    """Check, write into automations.yaml, reload; returns the id (new if none)."""
    entry, runtime = entry_and_runtime(host)
    config = dict(config)
    key = str(key or config.get("id") or new_id())
    existing = item_of(runtime, key)
    if existing is not None and not existing.editable:
        raise AutomationError(f"automation {key} is written in {existing.where}: "
                              "edit it there")
    config["id"] = key

    def compile_item(host: Host, item: Item) -> None:
        compile_automation(host, entry, item).detach()

    await check_item(host, DOMAIN, key, config, compile_item)
    await anyio.to_thread.run_sync(save_item, host.config_dir, AUTOMATIONS_FILE, "list",
                                   key, config)
    await reload_domain(host, DOMAIN)
    return key


async def delete(host: Host, key: str) -> None:
    _, runtime = entry_and_runtime(host)
    existing = item_of(runtime, key)
    if existing is not None and not existing.editable:
        raise AutomationError(f"automation {key} is written in {existing.where}")
    await anyio.to_thread.run_sync(save_item, host.config_dir, AUTOMATIONS_FILE, "list",
                                   key, None)
    await reload_domain(host, DOMAIN)
