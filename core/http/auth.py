"""Who is calling, and may they: the authentication and request-checking middleware.

Every route declares who may call it, with one of the markers below (``access_of``
reads it back; the route walk in ``tests/core/http`` checks each route against its own
table). A route without a marker is for admins only, so a route added in a hurry is
closed rather than open:

* ``@public`` — health, onboarding (which refuses once a user exists), login;
* ``@in_band_auth`` — the WebSocket, which authenticates inside its protocol;
* ``@frontend`` — UI files: public ones (the login page) are served to anyone, the rest
  redirect a browser without a session to ``/login.html?next=...``;
* ``@any_user`` — every logged-in user, read-only ones included; what the handler
  answers is filtered by the user's permissions (``PERMISSIONS_KEY``);
* ``@admin_only`` — admins (and the owner); others get 403;
* ``@metrics_access`` — ``/metrics``: admins, and tokens with the ``metrics`` scope.

A request authenticates with ``Authorization: Bearer <long-lived token>`` or with the
session cookie set by ``POST /auth/login``. A token with the ``metrics`` scope is
refused (403) by every route but ``/metrics``. Requests that change something
(POST/PUT/PATCH/DELETE) on a cookie session must carry an ``Origin`` header naming this
server by one of its own names, or a configured origin (``origins``): a cookie is sent
by the browser whatever page made the request, a bearer token only by code that holds
it, so token clients are exempt. Unknown paths answer 401 too without credentials, so
that the route table cannot be probed anonymously.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Callable
from typing import Final, TypeVar
from urllib.parse import quote

from aiohttp import hdrs, web

from ..context import acting_as
from . import origins
from .auth_store import SCOPE_METRICS
from .errors import Handler, HttpError
from .runtime import PERMISSIONS_KEY, SESSION_KEY, TOKEN_KEY, USER_KEY, HttpRuntime, rt

SESSION_COOKIE: Final = "gatehouse_session"
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
LOGIN_PAGE: Final = "/login.html"


class Access(enum.StrEnum):
    """Who may call a route (see the module docstring)."""

    PUBLIC = "public"
    IN_BAND = "in_band"
    FRONTEND = "frontend"
    USER = "user"
    ADMIN = "admin"
    METRICS = "metrics"


_ACCESS: Final = "__gatehouse_access__"
#: What a route without a marker requires.
DEFAULT_ACCESS: Final = Access.ADMIN

F = TypeVar("F", bound=Callable[..., object])


def require(access: Access) -> Callable[[F], F]:
    """Mark a route handler with who may call it."""

    def mark(handler: F) -> F:
        setattr(handler, _ACCESS, access)
        return handler

    return mark


#: No credentials needed (the handler guards itself where it must).
public = require(Access.PUBLIC)
#: Authenticates inside its own protocol (the WebSocket).
in_band_auth = require(Access.IN_BAND)
#: UI files: redirect to the login page instead of answering 401.
frontend = require(Access.FRONTEND)
#: Any logged-in user; the handler filters by ``PERMISSIONS_KEY``.
any_user = require(Access.USER)
#: Only admins (the owner and users made admin) may call it: others get 403.
admin_only = require(Access.ADMIN)
#: Admins, and tokens with the ``metrics`` scope.
metrics_access = require(Access.METRICS)


def access_of(handler: object) -> Access:
    return Access(getattr(handler, _ACCESS, DEFAULT_ACCESS))


def allowed_origin(runtime: HttpRuntime, request: web.Request, origin: str) -> bool:
    """``origin`` is a configured one, or this server reached by one of its own names.

    Not merely "equal to the Host header": a DNS-rebinding page controls both (see
    ``origins``).
    """
    return origins.origin_allowed(
        origin, f"{request.scheme}://{request.host}",
        trusted=runtime.trusted_origins, allowed=runtime.allowed_hosts,
    )


def check_host(request: web.Request) -> None:
    """Refuse (403) a request that reached this server by a name that is not its own."""
    runtime = rt(request)
    name = origins.host_of(request.host)
    if not origins.host_allowed(runtime.allowed_hosts, name):
        raise HttpError(403, f"this server was reached as {name!r}, which is not one of "
                             "its names; add it to http: allowed_hosts if it is")


def check_origin(request: web.Request, *, required: bool) -> None:
    """Refuse (403) a request whose Origin is foreign, or missing when ``required``."""
    origin = request.headers.get(hdrs.ORIGIN)
    if origin is None or origin == "null":
        if required:
            raise HttpError(403, "origin required: requests that change something need an "
                                 "Origin header naming this server")
        return
    if not allowed_origin(rt(request), request, origin):
        raise HttpError(403, f"origin {origin[:100]!r} is not allowed (not this server by "
                             "one of its names: see http: allowed_hosts, external_url, "
                             "trusted_origins)")


def authenticate(request: web.Request) -> None:
    """Set ``USER_KEY`` (and ``TOKEN_KEY`` or ``SESSION_KEY``) from a bearer token or
    the session cookie.

    A bearer header that is present but wrong is an error (401) rather than a fall-back
    to the cookie: a client that sends a token means to use it.
    """
    runtime = rt(request)
    header = request.headers.get(hdrs.AUTHORIZATION)
    if header is not None:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise HttpError(401, "unsupported authorization: use 'Bearer <token>'")
        by_token = runtime.auth.token_for(value.strip())
        if by_token is None:
            raise HttpError(401, "invalid access token")
        request[TOKEN_KEY], request[USER_KEY] = by_token
        return
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        by_session = runtime.auth.session_for(cookie)
        if by_session is not None:
            request[SESSION_KEY], request[USER_KEY] = by_session


def login_redirect(request: web.Request) -> web.HTTPFound:
    target = request.rel_url.path_qs
    return web.HTTPFound(f"{LOGIN_PAGE}?next={quote(target, safe='/')}")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    access = access_of(request.match_info.handler)
    if access in (Access.PUBLIC, Access.IN_BAND):
        # Optional here (a handler may look at who calls), and a stale token must not
        # break the health check or the login page.
        with contextlib.suppress(HttpError):
            authenticate(request)
        return await handler(request)
    if access is Access.FRONTEND and not request.path.startswith(("/api/", "/auth/")):
        from .static import is_public_file

        if is_public_file(request.match_info.get("path", "")):
            return await handler(request)
        authenticate(request)
        if USER_KEY not in request:
            raise login_redirect(request)
        _authorize(request, access)
        return await handler(request)
    authenticate(request)
    if USER_KEY not in request:
        raise HttpError(401, "authentication required")
    if SESSION_KEY in request and request.method not in SAFE_METHODS:
        check_origin(request, required=True)
    _authorize(request, access)
    with acting_as(request[USER_KEY].id):  # who caused what the handler changes
        return await handler(request)


def _authorize(request: web.Request, access: Access) -> None:
    """Refuse (403) what the authenticated caller may not do; note what it may."""
    token = request.get(TOKEN_KEY)
    if token is not None and token.scope == SCOPE_METRICS and access is not Access.METRICS:
        raise HttpError(403, "this token may only read /metrics")
    user = request[USER_KEY]
    if access in (Access.ADMIN, Access.METRICS) and not user.is_admin:
        raise HttpError(403, "admin rights required")
    request[PERMISSIONS_KEY] = user.permissions


#: Served on every response; the UI must not use inline scripts or styles (CSP).
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
#: Panel pages may be framed by the UI itself (a panel of kind "html").
_PANEL_FRAMING: Final = {
    "Content-Security-Policy": SECURITY_HEADERS["Content-Security-Policy"].replace(
        "frame-ancestors 'none'", "frame-ancestors 'self'"
    ),
    "X-Frame-Options": "SAMEORIGIN",
}


@web.middleware
async def headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as err:  # redirects and aiohttp's own errors get them too
        _apply_headers(request, err)
        raise
    if not response.prepared:
        _apply_headers(request, response)
    return response


#: Sent over HTTPS only: browsers then refuse plain HTTP to this name for a year. Not
#: ``includeSubDomains``: other hosts under the same domain are not ours to decide.
HSTS: Final = "max-age=31536000"


def _apply_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if rt(request).https:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    if request.path.startswith("/panels/"):
        response.headers.update(_PANEL_FRAMING)
    if request.path.startswith(("/api/", "/auth/")) or request.path == "/metrics":
        response.headers.setdefault("Cache-Control", "no-store")
