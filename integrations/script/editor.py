"""The script editor's operations, shared by the WebSocket commands (``wscommands``)
and Home Assistant's REST config API (``views``): scripts.yaml is the UI's file; a
script written elsewhere is read-only here; a save is compiled before it is written."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anyio.to_thread

from gatehouse.core import Host

from .const import DOMAIN, SCRIPTS_FILE
from .errors import ScriptError
from .items import Item, check_item, dump_yaml, save_item
from .loader import compile_script
from .runtime import ScriptRuntime
from .services import LOADED, reload_domain


def runtime_of(host: Host) -> ScriptRuntime:
    runtimes = LOADED.runtimes(host)
    if not runtimes:
        raise ScriptError("scripts are not loaded (add 'script:' to configuration.yaml)")
    return next(iter(runtimes.values()))


def item_of(runtime: ScriptRuntime, key: str) -> Item | None:
    if key in runtime.scripts:
        return runtime.scripts[key].item
    return next((i for i in runtime.invalid if i.key == key), None)


def config_of(host: Host, key: str) -> dict[str, Any]:
    item = item_of(runtime_of(host), key)
    if item is None:
        raise ScriptError(f"no script {key}")
    return {"key": key, "config": item.raw, "yaml": dump_yaml(item.raw),
            "editable": item.editable, "where": item.where, "error": item.error}


async def save(host: Host, key: str, config: Mapping[str, Any]) -> None:
    existing = item_of(runtime_of(host), key)
    if existing is not None and not existing.editable:
        raise ScriptError(f"script {key} is written in {existing.where}: edit it there")
    await check_item(host, DOMAIN, key, config, compile_script)
    await anyio.to_thread.run_sync(save_item, host.config_dir, SCRIPTS_FILE, "mapping",
                                   key, dict(config))
    await reload_domain(host, DOMAIN)


async def delete(host: Host, key: str) -> None:
    existing = item_of(runtime_of(host), key)
    if existing is not None and not existing.editable:
        raise ScriptError(f"script {key} is written in {existing.where}")
    await anyio.to_thread.run_sync(save_item, host.config_dir, SCRIPTS_FILE, "mapping",
                                   key, None)
    await reload_domain(host, DOMAIN)
