"""Home Assistant's REST config API for scripts (admins only):
``GET``/``POST``/``DELETE /api/config/script/config/<key>`` (``POST`` takes the script
as JSON and answers ``{"result": "ok"}``; a config that would not load is ``400`` with
the reason; an unknown key ``404``). The same operations as the WebSocket commands."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gatehouse.core import GatehouseError, Host
from gatehouse.core.http import RouteDef, read_json

from .editor import config_of, delete, item_of, runtime_of, save

PATH = "/api/config/script/config/{key}"


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"message": message}, status=status)


def routes(host: Host) -> list[RouteDef]:
    async def get(request: web.Request) -> web.Response:
        try:
            found = config_of(host, request.match_info["key"])
        except GatehouseError as err:
            return _error(404, str(err))
        config: Any = found["config"]
        return web.json_response(config)

    async def post(request: web.Request) -> web.Response:
        key = request.match_info["key"]
        if not key.replace("_", "").isalnum() or key != key.lower():
            return _error(400, "a script key is lower-case letters, digits and _")
        config = await read_json(request)  # bounded, depth-limited: 400 otherwise
        if not isinstance(config, dict):
            return _error(400, "the body must be a JSON object")
        try:
            await save(host, key, config)
        except GatehouseError as err:
            return _error(400, str(err))
        return web.json_response({"result": "ok"})

    async def remove(request: web.Request) -> web.Response:
        key = request.match_info["key"]
        try:
            if item_of(runtime_of(host), key) is None:
                return _error(404, f"no script {key}")
            await delete(host, key)
        except GatehouseError as err:
            return _error(400, str(err))
        return web.json_response({"result": "ok"})

    return [RouteDef("GET", PATH, get, require_admin=True),
            RouteDef("POST", PATH, post, require_admin=True),
            RouteDef("DELETE", PATH, remove, require_admin=True)]
