"""WebSocket commands of the automation editor (admins only).

* ``automation/list`` → every automation (entity, state, last_triggered, current,
  editable, where) and the ones that did not load (with why);
* ``automation/config`` ``{automation_id}`` (or Home Assistant's ``{entity_id}``) → the
  automation as written (``use_blueprint`` kept);
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

import voluptuous as vol

from gatehouse.core import Host
from gatehouse.core.http import WsCommand
from gatehouse.integrations.script.api import config_from_args

from .const import DOMAIN
from .editor import config_of, delete, entry_and_runtime, save
from .errors import AutomationError


def commands(host: Host) -> list[WsCommand]:
    async def automation_list(permissions: Any, args: dict[str, Any]) -> dict[str, Any]:
        _, runtime = entry_and_runtime(host)
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
        key = args.get("automation_id")
        if key is None:  # Home Assistant's form: {entity_id}
            _, runtime = entry_and_runtime(host)
            key = next((k for k, a in runtime.automations.items()
                        if a.entity.entity_id == args.get("entity_id")), None)
            if key is None:
                raise AutomationError(
                    f"no automation {args['entity_id']}" if args.get("entity_id")
                    else "send automation_id (or entity_id)")
        return config_of(host, key)

    async def automation_save(permissions: Any, args: dict[str, Any]) -> dict[str, Any]:
        config = await config_from_args(args)
        return {"id": await save(host, args.get("automation_id"), config)}

    async def automation_delete(permissions: Any, args: dict[str, Any]) -> dict[str, Any]:
        await delete(host, args["automation_id"])
        return {"id": args["automation_id"]}

    return [
        WsCommand(f"{DOMAIN}/list", automation_list, None, require_admin=True),
        WsCommand(f"{DOMAIN}/config", automation_config,
                  {vol.Exclusive("automation_id", "which"): str,
                   vol.Exclusive("entity_id", "which"): str},
                  require_admin=True),
        WsCommand(f"{DOMAIN}/save", automation_save,
                  {vol.Optional("automation_id"): vol.Any(None, str),
                   vol.Exclusive("config", "what"): dict,
                   vol.Exclusive("yaml", "what"): vol.All(str, vol.Length(max=256_000))},
                  require_admin=True),
        WsCommand(f"{DOMAIN}/delete", automation_delete, {vol.Required("automation_id"): str},
                  require_admin=True),
    ]
