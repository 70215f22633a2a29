"""WebSocket commands of the automation editor (admins only).

* ``automation/list`` → every automation (entity, state, last_triggered, current,
  editable, where) and the ones that did not load (with why);
* ``automation/config`` ``{automation_id}`` → the automation as written (``use_blueprint`` kept);
* ``automation/save`` ``{automation_id?, config | yaml}`` → compiled first (a config that would not
  load is refused with the reason), then written to ``automations.yaml`` (a new id is
  made when none is given) and the automations reloaded;
* ``automation/delete`` ``{automation_id}``.
(``automation_id``, not ``id``: ``id`` is the message's own in the WebSocket protocol.)
An automation written in ``configuration.yaml`` (or another included file) is shown
read-only: the UI writes only its own file, as Home Assistant's does.
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
import voluptuous as vol

from gatehouse.core import ConfigEntry, Host
from gatehouse.core.http import WsCommand
from gatehouse.integrations.script.api import (
    Item,
    check_item,
    config_from_args,
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


def _entry_and_runtime(host: Host) -> tuple[ConfigEntry[AutomationRuntime], AutomationRuntime]:
    for entry in host.config_entries.entries():
        runtime = LOADED.runtimes(host).get(entry.entry_id)
        if entry.domain == DOMAIN and runtime is not None:
            return entry, runtime
    raise AutomationError(
        "automations are not loaded (add 'automation:' to configuration.yaml)")


def _item(runtime: AutomationRuntime, key: str) -> Item | None:
    if key in runtime.automations:
        return runtime.automations[key].item
    return next((i for i in runtime.invalid if i.key == key), None)


def commands(host: Host) -> list[WsCommand]:
    async def automation_list(permissions: Any, args: dict[str, Any]) -> dict[str, Any]:
        _, runtime = _entry_and_runtime(host)
        return {
            "automations": [
                {"id": key, "entity_id": a.entity.entity_id, "alias": a.alias,
                 "state": "on" if a.enabled else "off",
                 "current": a.script.running, "mode": a.script.mode,
                 "last_triggered": (a.last_triggered.isoformat()
                                    if a.last_triggered else None),
                 "editable": a.item.editable, "where": a.item.where,
                 "blueprint": (a.item.raw.get("use_blueprint", {}).get("path")
                               if isinstance(a.item.raw, dict) else None)}
                for key, a in runtime.automations.items()
            ],
            "invalid": [{"id": i.key, "error": i.error, "editable": i.editable,
                         "where": i.where} for i in runtime.invalid],
            "problems": runtime.problems,
        }

    async def automation_config(permissions: Any, args: dict[str, Any]) -> dict[str, Any]:
        _, runtime = _entry_and_runtime(host)
        item = _item(runtime, args["automation_id"])
        if item is None:
            raise AutomationError(f"no automation {args['id']}")
        return {"id": item.key, "config": item.raw, "yaml": dump_yaml(item.raw),
                "editable": item.editable,
                "where": item.where, "error": item.error}

    async def automation_save(permissions: Any, args: dict[str, Any]) -> dict[str, Any]:
        entry, runtime = _entry_and_runtime(host)
        config = await config_from_args(args)
        key = str(args.get("automation_id") or config.get("id") or new_id())
        existing = _item(runtime, key)
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
        return {"id": key}

    async def automation_delete(permissions: Any, args: dict[str, Any]) -> dict[str, Any]:
        _, runtime = _entry_and_runtime(host)
        existing = _item(runtime, args["automation_id"])
        if existing is not None and not existing.editable:
            raise AutomationError(f"automation {args['id']} is written in {existing.where}")
        await anyio.to_thread.run_sync(save_item, host.config_dir, AUTOMATIONS_FILE, "list",
                                       args["automation_id"], None)
        await reload_domain(host, DOMAIN)
        return {"id": args["automation_id"]}

    return [
        WsCommand(f"{DOMAIN}/list", automation_list, None, require_admin=True),
        WsCommand(f"{DOMAIN}/config", automation_config, {vol.Required("automation_id"): str},
                  require_admin=True),
        WsCommand(f"{DOMAIN}/save", automation_save,
                  {vol.Optional("automation_id"): vol.Any(None, str),
                   vol.Exclusive("config", "what"): dict,
                   vol.Exclusive("yaml", "what"): vol.All(str, vol.Length(max=256_000))},
                  require_admin=True),
        WsCommand(f"{DOMAIN}/delete", automation_delete, {vol.Required("automation_id"): str},
                  require_admin=True),
    ]
