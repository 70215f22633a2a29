"""Home Assistant's REST config API for automations (admins only), for the tools
written against it: ``GET``/``POST``/``DELETE /api/config/automation/config/<id>``.

``POST`` takes the automation as JSON (Home Assistant's format, either syntax) and
answers ``{"result": "ok"}``; a config that would not load is ``400`` with the
reason, one written outside the UI's file ``400`` too; ``GET`` answers the config as
written; an unknown id is ``404``. The same operations as the editor's WebSocket
commands (``editor.py``).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gatehouse.core import GatehouseError, Host
from gatehouse.core.http import RouteDef, read_json

from .editor import config_of, delete, entry_and_runtime, item_of, save

PATH = "/api/config/automation/config/{automation_id}"


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"message": message}, status=status)


def routes(host: Host) -> list[RouteDef]:
    async def get(request: web.Request) -> web.Response:
        key = request.match_info["automation_id"]
        try:
            found = config_of(host, key)
        except GatehouseError as err:
            return _error(404, str(err))
        config: Any = found["config"]
        return web.json_response(config)

    async def post(request: web.Request) -> web.Response:
        key = request.match_info["automation_id"]
        config = await read_json(request)  # bounded, depth-limited: 400 otherwise
        if not isinstance(config, dict):
            return _error(400, "the body must be a JSON object")
        try:
            await save(host, key, config)
        except GatehouseError as err:
            return _error(400, str(err))
        return web.json_response({"result": "ok"})

    async def remove(request: web.Request) -> web.Response:
        key = request.match_info["automation_id"]
        try:
            _, runtime = entry_and_runtime(host)
            if item_of(runtime, key) is None:
                return _error(404, f"no automation {key}")
            await delete(host, key)
        except GatehouseError as err:
            return _error(400, str(err))
        return web.json_response({"result": "ok"})

    return [RouteDef("GET", PATH, get, require_admin=True),
            RouteDef("POST", PATH, post, require_admin=True),
            RouteDef("DELETE", PATH, remove, require_admin=True)]
