"""WebSocket commands of the engine (admins only), in Home Assistant's names.

* ``trace/list`` ``{domain?, item_id?}`` → run summaries, newest last;
  ``trace/get`` ``{domain, item_id, run_id}`` → one run with every step. (Home
  Assistant's names carry no ``<domain>/`` of ours: ``trace`` is the name space.)
* ``script/list`` → every script (state, editable, error); ``script/config``
  ``{key}`` → its YAML as written; ``script/save`` ``{key, config | yaml}`` and
  ``script/delete`` ``{key}`` edit ``scripts.yaml`` and reload.
* ``blueprint/list`` ``{domain}``, ``blueprint/import`` ``{yaml}`` (a preview: the
  blueprint, its inputs and what this host lacks), ``blueprint/save`` ``{yaml, path?}``
  (writes ``blueprints/<domain>/<path>``), ``blueprint/delete`` ``{domain, path}``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio.to_thread
import voluptuous as vol

from gatehouse.core import Host
from gatehouse.core.http import WsCommand

from .blueprint import (
    BLUEPRINT_DOMAINS,
    list_blueprints,
    missing_features,
    parse_blueprint,
    save_blueprint,
    user_dir,
)
from .const import DOMAIN
from .editor import config_of, delete, runtime_of, save
from .errors import BlueprintError, ScriptError
from .items import config_from_args, parse_yaml_text
from .trace import trace_store
from .triggers import trigger_platforms

_YAML = vol.All(str, vol.Length(max=256_000))
_KEY = vol.All(str, vol.Match(r"^[a-z0-9_]+$", msg="use lower-case letters, digits and _"))


def commands(host: Host) -> list[WsCommand]:
    async def trace_list(permissions: Any, args: dict[str, Any]) -> list[dict[str, Any]]:
        return [t.summary() for t in trace_store(host).list(args.get("domain"),
                                                            args.get("item_id"))]

    async def trace_get(permissions: Any, args: dict[str, Any]) -> dict[str, Any]:
        found = trace_store(host).get(args["domain"], args["item_id"], args["run_id"])
        if found is None:
            raise ScriptError(f"no trace {args['run_id']} of {args['domain']}.{args['item_id']}")
        return found.as_dict()

    async def script_list(permissions: Any, args: dict[str, Any]) -> dict[str, Any]:
        rt = runtime_of(host)
        return {
            "scripts": [
                {"key": key, "entity_id": s.entity.entity_id, "alias": s.entity.alias,
                 "state": "on" if s.script.is_running else "off", "mode": s.script.mode,
                 "editable": s.item.editable, "where": s.item.where,
                 "last_triggered": s.entity.extra_state_attributes["last_triggered"]}
                for key, s in rt.scripts.items()
            ],
            "invalid": [{"key": i.key, "error": i.error, "editable": i.editable,
                         "where": i.where} for i in rt.invalid],
            "problems": rt.problems,
        }

    async def script_config(permissions: Any, args: dict[str, Any]) -> dict[str, Any]:
        return config_of(host, args["key"])

    async def script_save(permissions: Any, args: dict[str, Any]) -> dict[str, Any]:
        await save(host, args["key"], await config_from_args(args))
        return {"key": args["key"]}

    async def script_delete(permissions: Any, args: dict[str, Any]) -> dict[str, Any]:
        await delete(host, args["key"])
        return {"key": args["key"]}

    async def blueprint_list(permissions: Any, args: dict[str, Any]) -> dict[str, Any]:
        found = await anyio.to_thread.run_sync(list_blueprints, host, args["domain"])
        kinds = trigger_platforms()
        return {
            path: ({"error": str(bp)} if isinstance(bp, BlueprintError) else
                   {"metadata": bp.describe(), "missing": missing_features(host, bp, kinds)})
            for path, bp in found.items()
        }

    async def blueprint_import(permissions: Any, args: dict[str, Any]) -> dict[str, Any]:
        data = await anyio.to_thread.run_sync(parse_yaml_text, args["yaml"])
        blueprint = parse_blueprint(data, "<pasted>")
        return {"metadata": blueprint.describe(),
                "missing": missing_features(host, blueprint, trigger_platforms())}

    async def blueprint_save(permissions: Any, args: dict[str, Any]) -> dict[str, Any]:
        blueprint = await anyio.to_thread.run_sync(save_blueprint, host, args["yaml"],
                                                   args.get("path"))
        return {"path": blueprint.path, "domain": blueprint.domain,
                "missing": missing_features(host, blueprint, trigger_platforms())}

    async def blueprint_delete(permissions: Any, args: dict[str, Any]) -> dict[str, Any]:
        path = str(args["path"])
        if ".." in Path(path).parts or Path(path).is_absolute():
            raise BlueprintError(f"blueprint path {path!r} must be relative")
        target = user_dir(host.config_dir, args["domain"]) / path
        if not target.is_file():
            raise BlueprintError(f"no blueprint {args['domain']}/{path} in the config dir")
        await anyio.to_thread.run_sync(target.unlink)
        return {"path": path}

    domain_arg = vol.In(BLUEPRINT_DOMAINS)
    return [
        WsCommand("trace/list", trace_list, {vol.Optional("domain"): str,
                                             vol.Optional("item_id"): str},
                  require_admin=True),
        WsCommand("trace/get", trace_get, {vol.Required("domain"): str,
                                           vol.Required("item_id"): str,
                                           vol.Required("run_id"): str}, require_admin=True),
        WsCommand(f"{DOMAIN}/list", script_list, None, require_admin=True),
        WsCommand(f"{DOMAIN}/config", script_config, {vol.Required("key"): str},
                  require_admin=True),
        WsCommand(f"{DOMAIN}/save", script_save, {vol.Required("key"): _KEY,
                                                  vol.Exclusive("config", "what"): dict,
                                                  vol.Exclusive("yaml", "what"): _YAML},
                  require_admin=True),
        WsCommand(f"{DOMAIN}/delete", script_delete, {vol.Required("key"): _KEY},
                  require_admin=True),
        WsCommand("blueprint/list", blueprint_list, {vol.Required("domain"): domain_arg},
                  require_admin=True),
        WsCommand("blueprint/import", blueprint_import,
                  {vol.Required("yaml"): _YAML},
                  require_admin=True),
        WsCommand("blueprint/save", blueprint_save,
                  {vol.Required("yaml"): _YAML,
                   vol.Optional("path"): str}, require_admin=True),
        WsCommand("blueprint/delete", blueprint_delete,
                  {vol.Required("domain"): domain_arg, vol.Required("path"): str},
                  require_admin=True),
    ]
