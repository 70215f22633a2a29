"""``/api/webhook/<id>``: the one public route plugins reach (``Webhook`` in extensions).

Home Assistant's webhook semantics: the id is the credential; an unknown id, a method
the webhook does not allow and a remote caller of a ``local_only`` webhook all get the
same empty 200 (logged once per id), so nothing can be learnt by probing. The body is
read within the usual bound (``body.MAX_BODY``); JSON is parsed with the house's depth
limit, a form into a dict; the handler runs in the loop and its failure is logged.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from .auth import public
from .body import read_raw
from .config import DEFAULT_ONBOARDING_NETWORKS
from .errors import json_response
from .extensions import WEBHOOKS
from .forwarded import address_in, networks, parse_address
from .jsonutil import loads
from .runtime import rt

_LOGGER = logging.getLogger(__name__)
_LOCAL = networks(DEFAULT_ONBOARDING_NETWORKS)
_WARNED: set[str] = set()

routes = web.RouteTableDef()


def _warn_once(webhook_id: str, message: str) -> None:
    if webhook_id not in _WARNED:
        _WARNED.add(webhook_id)
        _LOGGER.warning("Webhook %s: %s (logged once)", webhook_id[:8] + "…", message)


@routes.route("*", "/api/webhook/{webhook_id}")
@public
async def webhook(request: web.Request) -> web.Response:
    webhook_id = request.match_info["webhook_id"]
    hook = rt(request).host.data.get(WEBHOOKS, {}).get(webhook_id)
    empty = json_response({}, status=200)
    if hook is None:
        return empty
    if request.method not in hook.methods:
        _warn_once(webhook_id, f"method {request.method} not allowed")
        return empty
    if hook.local_only and not address_in(parse_address(request.remote), _LOCAL):
        _warn_once(webhook_id, f"remote caller {request.remote} refused (local_only)")
        return empty
    body = await read_raw(request)
    data: dict[str, Any] = {"webhook_id": webhook_id, "method": request.method,
                            "query": dict(request.query), "json": None, "data": {}}
    if body:
        if request.content_type == "application/x-www-form-urlencoded":
            data["data"] = dict(parse_qsl(body.decode("utf-8", "replace")))
        else:
            try:
                data["json"] = loads(body)
            except ValueError:
                data["data"] = {"body": body.decode("utf-8", "replace")}
    try:
        result = hook.handler(data)
        if inspect.isawaitable(result):
            await result
    except Exception:
        _LOGGER.exception("Webhook %s: handler failed", webhook_id[:8] + "…")
    return empty
