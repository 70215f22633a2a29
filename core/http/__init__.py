"""The web server: REST and WebSocket APIs, login, and the browser UI's files.

Configured by the ``http:`` section of ``configuration.yaml`` (``config.HTTP_SCHEMA``)
and started by bootstrap after the configured entries are set up. Modules, one job each:

* ``config`` — the ``http:`` schema (no aiohttp: check_config works without it);
* ``server`` — listening (HTTP or HTTPS) as a component of the host;
* ``app`` — the aiohttp application: middlewares and routes;
* ``auth`` — who is calling (bearer token or session cookie), who may call each route,
  Origin checks, headers;
* ``origins`` — which names and origins are this server's (against DNS rebinding);
* ``forwarded`` — the real client address behind a trusted reverse proxy;
* ``auth_store``, ``passwords``, ``ratelimit`` — users, tokens, sessions, the budget of
  password guesses;
* ``body``, ``jsonutil`` — reading bounded JSON from clients, writing JSON to them;
* ``views_api``, ``views_config``, ``views_auth`` — the REST API;
* ``websocket``, ``ws_commands`` — Home Assistant's WebSocket protocol;
* ``jsoncache`` — each state and event serialised once for every client;
* ``metrics`` — ``/metrics`` and the registry other components add gauges to;
* ``extensions`` — what plugins add: ``RouteDef``, ``WsCommand``, ``Panel`` and
  ``Webhook`` (``register_webhook``; served by ``views_webhook``);
* ``raw`` — ``RawJson``: a WebSocket result or event a plugin encoded itself (in a
  worker thread), sent byte for byte instead of being encoded on the loop; such a
  plugin writes its values with ``json_text`` (``jsonutil.dumps``: the core's own
  encoding, compact, not ASCII-only, NaN and infinities as null);
* ``static`` — the UI's files and the panels' files;
* ``query`` — ``query_time`` and ``query_int``: plugin APIs' query parameters, checked
  and worded alike (a 400 naming the parameter).

Importing this package does not import aiohttp: plugins may import ``Panel``,
``RawJson``, ``RouteDef`` and ``WsCommand`` from here in any installation. ``USER_KEY`` (the
authenticated user of a request) and ``PERMISSIONS_KEY`` (what that user may do:
``can_read(entity_id)``, ``can_control``, ``check_call``...; see
``gatehouse.core.permissions``), for plugin route handlers, are loaded on first use,
with aiohttp, as is ``read_json(request)`` (the body as JSON, bounded in size, time and
nesting depth; a 400/413/408 ``HttpError`` otherwise — use it instead of aiohttp's
``request.json()``, which has no depth limit). A plugin route that is not
``require_admin`` serves every user, read-only ones included: filter what it answers
with ``request[PERMISSIONS_KEY]``.
"""

from __future__ import annotations

from typing import Any

from .config import HTTP_DOMAIN, HTTP_SCHEMA
from .extensions import Panel, RouteDef, Webhook, WsCommand, register_webhook
from .jsonutil import dumps as json_text
from .query import query_int, query_time
from .raw import RawJson

__all__ = ["HTTP_DOMAIN", "HTTP_SCHEMA", "PERMISSIONS_KEY", "USER_KEY", "Panel", "RawJson",
           "RouteDef", "Webhook", "WsCommand", "json_text", "query_int", "query_time",
           "read_json", "register_webhook"]


def __getattr__(name: str) -> Any:
    if name in ("USER_KEY", "PERMISSIONS_KEY"):
        from . import runtime

        return getattr(runtime, name)
    if name == "read_json":
        from . import body

        return body.read_json
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
