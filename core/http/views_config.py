"""Configuration through the API: config entries and their flows, registries, check.

Everything here shows or changes how the house is set up (entry data, registries, the
configuration's problems), so every route is admin-only, reading included. Entry
data and options are returned with secrets masked (``secrets_mask``); flows are the same
two calls the CLI makes (``init`` then ``configure``), answered with the flow result
whose ``data_schema`` the UI renders as a form (``schema_json``).
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
import voluptuous as vol
from aiohttp import web

from ..config_entries import ConfigEntry, ConfigEntryState
from ..entity_registry import DISABLED_USER
from ..exceptions import UnknownFlow
from ..flow_strings import describe_form
from ..util import UNSET, Unset
from .auth import admin_only
from .body import read_body, read_json
from .errors import HttpError, json_response, raw_json_response
from .runtime import rt
from .secrets_mask import mask, secret_keys

routes = web.RouteTableDef()

_BASE = "/api/config"


def entry_json(host: Any, entry: ConfigEntry[Any], *, detail: bool = False) -> dict[str, Any]:
    loaded = host.plugins.loaded().get(entry.domain)
    out = entry.as_summary()
    out["disabled"] = entry.disabled
    out["supports_options"] = loaded is not None and loaded.options_flow is not None
    out["next_retry_at"] = entry.next_retry_at
    # Only while loaded: a stopped entry's last report would claim a link it no longer has.
    loaded_health = entry.health if entry.state is ConfigEntryState.LOADED else None
    out["health"] = loaded_health.as_dict() if loaded_health is not None else None
    if detail:
        keys = secret_keys(host, entry.domain)
        out["data"] = mask(dict(entry.data), keys)
        out["options"] = mask(dict(entry.options), keys)
        out["created_at"] = entry.created_at
        out["modified_at"] = entry.modified_at
    return out


def flow_json(host: Any, result: Any, domain: str | None = None) -> dict[str, Any]:
    """A flow result for the client: data, options and placeholders masked.

    The step's words (``strings``) are worded again from the masked placeholders, so a
    secret shown as a placeholder is not spelt out in the description either.
    """
    out = dict(result)
    keys = secret_keys(host, domain) if domain else set()
    for field in ("data", "options", "description_placeholders"):
        if field in out:
            out[field] = mask(out[field], keys)
    if domain and "strings" in out and out.get("description_placeholders"):
        # A config flow's handler is its domain, an options flow's its entry id.
        section = "config" if out.get("handler") == domain else "options"
        words = describe_form(host.config_entries.flow.strings(domain), section, out)
        if words:
            out["strings"] = words
        else:
            del out["strings"]
    return out


# -- config entries ----------------------------------------------------------------------


@routes.get(f"{_BASE}/config_entries/entry")
@admin_only
async def list_entries(request: web.Request) -> web.Response:
    host = rt(request).host
    domain = request.query.get("domain")
    return json_response([entry_json(host, e) for e in host.config_entries.entries(domain)])


@routes.get(f"{_BASE}/config_entries/entry/{{entry_id}}")
@admin_only
async def get_entry(request: web.Request) -> web.Response:
    host = rt(request).host
    entry = host.config_entries.get(request.match_info["entry_id"])
    return json_response(entry_json(host, entry, detail=True))


@routes.delete(f"{_BASE}/config_entries/entry/{{entry_id}}")
@admin_only
async def remove_entry(request: web.Request) -> web.Response:
    host = rt(request).host
    entry_id = request.match_info["entry_id"]
    host.config_entries.get(entry_id)
    await host.config_entries.remove(entry_id)
    return json_response({"removed": entry_id})


@routes.post(f"{_BASE}/config_entries/entry/{{entry_id}}/reload")
@admin_only
async def reload_entry(request: web.Request) -> web.Response:
    host = rt(request).host
    entry_id = request.match_info["entry_id"]
    ok = await host.config_entries.reload(entry_id)
    return json_response({"ok": ok, "entry": entry_json(host, host.config_entries.get(entry_id))})


async def _set_disabled(request: web.Request, disabled: bool) -> web.Response:
    host = rt(request).host
    entry_id = request.match_info["entry_id"]
    await host.config_entries.set_disabled(entry_id, disabled)
    return json_response({"entry": entry_json(host, host.config_entries.get(entry_id))})


@routes.post(f"{_BASE}/config_entries/entry/{{entry_id}}/disable")
@admin_only
async def disable_entry(request: web.Request) -> web.Response:
    return await _set_disabled(request, True)


@routes.post(f"{_BASE}/config_entries/entry/{{entry_id}}/enable")
@admin_only
async def enable_entry(request: web.Request) -> web.Response:
    return await _set_disabled(request, False)


# -- config flows ------------------------------------------------------------------------


@routes.get(f"{_BASE}/config_entries/flow_handlers")
@admin_only
async def flow_handlers(request: web.Request) -> web.Response:
    """Integrations that can be added from the UI (their manifest says config_flow)."""
    available = rt(request).host.plugins.available()
    return json_response([
        {"domain": domain, "name": info.manifest.name}
        for domain, info in sorted(available.items())
        if info.manifest.config_flow
    ])


@routes.get(f"{_BASE}/config_entries/flow")
@admin_only
async def flow_progress(request: web.Request) -> web.Response:
    return json_response(rt(request).host.config_entries.flow.progress())


_FLOW_INIT = vol.Schema({vol.Required("handler"): vol.All(str, vol.Length(min=1))},
                        extra=vol.REMOVE_EXTRA)


@routes.post(f"{_BASE}/config_entries/flow")
@admin_only
async def flow_init(request: web.Request) -> web.Response:
    host = rt(request).host
    body = await read_body(request, _FLOW_INIT)
    result = await host.config_entries.flow.init(body["handler"])
    return json_response(flow_json(host, result, body["handler"]))


async def _user_input(request: web.Request) -> dict[str, Any] | None:
    data = await read_json(request)
    if data is not None and not isinstance(data, dict):
        raise HttpError(400, "the flow input must be a JSON object")
    return data


def _flow_domain(manager: Any, flow_id: str) -> str | None:
    for flow in manager.progress():
        if flow["flow_id"] == flow_id:
            return str(flow["handler"])
    raise UnknownFlow(f"no flow {flow_id!r} in progress")


@routes.post(f"{_BASE}/config_entries/flow/{{flow_id}}")
@admin_only
async def flow_configure(request: web.Request) -> web.Response:
    host = rt(request).host
    flow_id = request.match_info["flow_id"]
    domain = _flow_domain(host.config_entries.flow, flow_id)
    result = await host.config_entries.flow.configure(flow_id, await _user_input(request))
    return json_response(flow_json(host, result, domain))


@routes.delete(f"{_BASE}/config_entries/flow/{{flow_id}}")
@admin_only
async def flow_abort(request: web.Request) -> web.Response:
    rt(request).host.config_entries.flow.abort(request.match_info["flow_id"])
    return json_response({"aborted": request.match_info["flow_id"]})


@routes.post(f"{_BASE}/config_entries/options/flow")
@admin_only
async def options_init(request: web.Request) -> web.Response:
    host = rt(request).host
    body = await read_body(request, _FLOW_INIT)
    entry = host.config_entries.get(body["handler"])
    result = await host.config_entries.options.init(entry.entry_id)
    return json_response(flow_json(host, result, entry.domain))


@routes.post(f"{_BASE}/config_entries/options/flow/{{flow_id}}")
@admin_only
async def options_configure(request: web.Request) -> web.Response:
    host = rt(request).host
    flow_id = request.match_info["flow_id"]
    entry_id = _flow_domain(host.config_entries.options, flow_id)
    domain = host.config_entries.get(entry_id).domain if entry_id else None
    result = await host.config_entries.options.configure(flow_id, await _user_input(request))
    return json_response(flow_json(host, result, domain))


@routes.delete(f"{_BASE}/config_entries/options/flow/{{flow_id}}")
@admin_only
async def options_abort(request: web.Request) -> web.Response:
    rt(request).host.config_entries.options.abort(request.match_info["flow_id"])
    return json_response({"aborted": request.match_info["flow_id"]})


# -- registries --------------------------------------------------------------------------


@routes.get(f"{_BASE}/entity_registry")
@admin_only
async def list_entities(request: web.Request) -> web.Response:
    runtime = rt(request)
    registry = runtime.host.entity_registry
    return raw_json_response(runtime.registry_json.entity_stored.array(
        [(e.entity_id, e) for e in registry.entities()], len(registry)))


#: An area id as Home Assistant makes them (``boiler_room``); ``None`` clears it.
_AREA_ID = vol.Any(None, vol.All(str, vol.Length(min=1, max=64), vol.Match(r"^[a-z0-9_]+$")))

_ENTITY_UPDATE = vol.Schema({
    vol.Optional("name"): vol.Any(None, vol.All(str, vol.Length(max=128))),
    vol.Optional("new_entity_id"): str,
    vol.Optional("disabled"): bool,
    vol.Optional("area_id"): _AREA_ID,
})


@routes.post(f"{_BASE}/entity_registry/{{entity_id}}")
@admin_only
async def update_entity(request: web.Request) -> web.Response:
    host = rt(request).host
    entity_id = request.match_info["entity_id"]
    if host.entity_registry.get(entity_id) is None:
        raise HttpError(404, f"entity {entity_id} is not in the entity registry")
    body = await read_body(request, _ENTITY_UPDATE)
    name: str | Unset | None = body.get("name", UNSET)
    disabled_by: str | Unset | None = UNSET
    if "disabled" in body:
        disabled_by = DISABLED_USER if body["disabled"] else None
    updated = host.entity_registry.update(
        entity_id, new_entity_id=body.get("new_entity_id"), name=name, disabled_by=disabled_by,
        area_id=body.get("area_id", UNSET),
    )
    return json_response(updated.as_dict())


@routes.get(f"{_BASE}/device_registry")
@admin_only
async def list_devices(request: web.Request) -> web.Response:
    runtime = rt(request)
    devices = runtime.host.device_registry.devices()
    return raw_json_response(runtime.registry_json.device_stored.array(
        [(d.id, d) for d in devices], len(devices)))


_DEVICE_UPDATE = vol.Schema({
    vol.Optional("name_by_user"): vol.Any(None, vol.All(str, vol.Length(max=128))),
    vol.Optional("disabled"): bool,
    vol.Optional("area_id"): _AREA_ID,
})


@routes.post(f"{_BASE}/device_registry/{{device_id}}")
@admin_only
async def update_device(request: web.Request) -> web.Response:
    host = rt(request).host
    device_id = request.match_info["device_id"]
    if host.device_registry.get(device_id) is None:
        raise HttpError(404, f"device {device_id} not found")
    body = await read_body(request, _DEVICE_UPDATE)
    disabled_by: str | Unset | None = UNSET
    if "disabled" in body:
        disabled_by = "user" if body["disabled"] else None
    device = host.device_registry.update(
        device_id, name_by_user=body.get("name_by_user", UNSET), disabled_by=disabled_by,
        area_id=body.get("area_id", UNSET),
    )
    return json_response(device.as_dict())


# -- configuration.yaml --------------------------------------------------------------------


@routes.post(f"{_BASE}/core/check_config")
@admin_only
async def check_config(request: web.Request) -> web.Response:
    """Validate configuration.yaml as a restart would, without applying anything."""
    from ..bootstrap import load_configuration

    host = rt(request).host
    result = await anyio.to_thread.run_sync(load_configuration, host.config_dir, host.plugins)
    issues = [
        {
            "file": issue.display_file,
            "line": issue.line,
            "path": [str(p) for p in issue.path],
            "domain": issue.domain,
            "message": issue.message,
            "suggestion": issue.suggestion,
        }
        for issue in result.issues
    ]
    return json_response({
        "result": "valid" if result.ok else "invalid",
        "errors": "\n".join(str(issue) for issue in result.issues) or None,
        "issues": issues,
    })
