"""Every API error is ``{"message": ...}`` JSON with the status code that fits.

Handlers raise; this middleware answers. Core exceptions map to statuses in one table
(``status_for``), so the REST API and the WebSocket API (which uses the same table for
its error codes) never disagree about what "not found" is. The WebSocket codes are Home
Assistant's (``not_found``, ``invalid_format``, ``unauthorized``, ``not_allowed``,
``home_assistant_error``, ``unknown_error``): HA clients branch on them. An unknown
service is 400 over REST, as in HA (its WebSocket code is ``not_found``). A method
other than GET on an unknown ``/api/`` path is 404, not the 405 that the UI's catch-all
GET route would make of it. An unexpected exception is
logged with its traceback and answered with a bare 500: its text could hold anything.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import voluptuous as vol
from aiohttp import web

from ..area_registry import UnknownArea
from ..exceptions import (
    FlowError,
    GatehouseError,
    IntegrationNotFound,
    InvalidEntityId,
    InvalidStateError,
    OperationNotAllowed,
    ServiceNotFound,
    ServiceResponseError,
    ServiceValidationError,
    UnknownEntry,
    UnknownFlow,
)
from ..permissions import Unauthorized
from ..template.budget import TemplateError
from ..util.forms import describe_invalid, invalid_problems
from .auth_store import AuthError, UnknownUser
from .jsonutil import dumps

_LOGGER = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class HttpError(Exception):
    """Raise in a handler to answer ``status`` with ``{"message": message, **extra}``."""

    def __init__(
        self, status: int, message: str, *, headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.extra = extra


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None
                  ) -> web.Response:
    return web.Response(
        text=dumps(data), status=status, content_type="application/json", headers=headers
    )


def raw_json_response(body: bytes, status: int = 200) -> web.Response:
    """A response from JSON bytes that are already encoded (cached states)."""
    return web.Response(body=body, status=status, content_type="application/json")


def error_response(status: int, message: str, **extra: Any) -> web.Response:
    return json_response({"message": message, **extra}, status=status)


#: (exception type, HTTP status, WebSocket error code), most specific first.
_TABLE: tuple[tuple[type[BaseException], int, str], ...] = (
    (ServiceNotFound, 400, "not_found"),
    (UnknownArea, 404, "not_found"),
    (UnknownEntry, 404, "not_found"),
    (UnknownFlow, 404, "not_found"),
    (IntegrationNotFound, 404, "not_found"),
    (UnknownUser, 404, "not_found"),
    (Unauthorized, 403, "unauthorized"),
    (ServiceValidationError, 400, "invalid_format"),
    (ServiceResponseError, 400, "invalid_format"),
    (InvalidEntityId, 400, "invalid_format"),
    (InvalidStateError, 400, "invalid_format"),
    (vol.Invalid, 400, "invalid_format"),
    (OperationNotAllowed, 409, "not_allowed"),
    (AuthError, 400, "invalid_format"),
    (TemplateError, 400, "template_error"),
    (FlowError, 400, "home_assistant_error"),
    (GatehouseError, 400, "home_assistant_error"),
)


def status_for(err: BaseException) -> tuple[int, str] | None:
    """HTTP status and WS error code for a known exception, or None (a bug: 500)."""
    for kind, status, code in _TABLE:
        if isinstance(err, kind):
            return status, code
    return None


def invalid_details(err: vol.Invalid) -> tuple[str, dict[str, str]]:
    """A message naming each bad field, and ``{field.path: problem}`` for forms."""
    fields: dict[str, str] = {}
    for path, problem in invalid_problems(err):
        fields.setdefault(".".join(path) or "base", problem)
    return "invalid data: " + describe_invalid(err), fields


def message_for(err: BaseException) -> tuple[int, str, dict[str, Any]]:
    if isinstance(err, vol.Invalid):
        message, fields = invalid_details(err)
        return 400, message, {"errors": fields}
    known = status_for(err)
    if known is None:
        return 500, "internal error", {}
    return known[0], str(err), {}


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except HttpError as err:
        response = error_response(err.status, err.message, **err.extra)
        response.headers.update(err.headers)
        if err.status == 401:
            response.headers.setdefault("WWW-Authenticate", 'Bearer realm="gatehouse"')
        return response
    except web.HTTPException as err:
        if err.status < 400 or not _is_api(request.path):
            raise
        if err.status == 405 and await _only_catch_all(request):
            return error_response(404, "not found")
        reason = "not found" if err.status == 404 else (err.text or err.reason).strip()
        response = error_response(err.status, reason.removeprefix(f"{err.status}: "))
        for name in ("Allow", "Retry-After"):
            if name in err.headers:
                response.headers[name] = err.headers[name]
        return response
    except (GatehouseError, vol.Invalid) as err:
        status, message, extra = message_for(err)
        return error_response(status, message, **extra)
    except Exception:
        _LOGGER.exception("Error handling %s %s", request.method, request.path)
        return error_response(500, "internal error")


#: The canonical path of the UI's catch-all GET route (``static``).
_CATCH_ALL = "/{path}"


async def _only_catch_all(request: web.Request) -> bool:
    """Whether no route but the UI's catch-all has this path (so it is unknown)."""
    for resource in request.app.router.resources():
        if resource.canonical == _CATCH_ALL:
            continue
        _match, allowed = await resource.resolve(request)
        if allowed:
            return False
    return True


def _is_api(path: str) -> bool:
    return path.startswith(("/api/", "/auth/")) or path in ("/api", "/metrics")
