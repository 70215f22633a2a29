"""Home Assistant's REST calls that clients make beyond states, services and events.

* ``POST /api/template`` (admin, as in HA: a template reads every state)
  ``{"template", "variables"?}`` → the rendered text (``text/plain``); a template error
  is 400 ``{"message": "Error rendering template: ..."}`` naming the line.
* ``GET /api/error_log`` (admin) → the host's recent log lines (``text/plain``), from
  the bounded in-memory ring of ``logging_setup`` (secrets masked as everywhere).
* ``GET /api/components`` → the loaded integrations, as ``/api/config`` lists them.
"""

from __future__ import annotations

import voluptuous as vol
from aiohttp import web

from ..logging_setup import RING
from .auth import admin_only, any_user
from .body import read_body
from .errors import HttpError, json_response
from .runtime import rt

routes = web.RouteTableDef()

#: Longest template source accepted over REST (the render budget bounds the rest).
MAX_TEMPLATE = 64 * 1024

_TEMPLATE_BODY = vol.Schema({
    vol.Required("template"): vol.All(str, vol.Length(max=MAX_TEMPLATE)),
    vol.Optional("variables", default=dict): dict,
})


@routes.post("/api/template")
@admin_only
async def render(request: web.Request) -> web.Response:
    """Render as HA's ``TemplateView``: the text, not a native value."""
    from ..helpers.template import render_template
    from ..template.budget import TemplateError

    body = await read_body(request, _TEMPLATE_BODY)
    try:
        text = render_template(rt(request).host, body["template"], body["variables"],
                               native=False, name="api/template")
    except TemplateError as err:
        raise HttpError(400, f"Error rendering template: {err}") from err
    return web.Response(text=str(text), content_type="text/plain")


@routes.get("/api/error_log")
@admin_only
async def error_log(request: web.Request) -> web.Response:
    return web.Response(text=RING.text(), content_type="text/plain")


@routes.get("/api/components")
@any_user
async def components(request: web.Request) -> web.Response:
    return json_response(sorted(rt(request).host.plugins.loaded()))
