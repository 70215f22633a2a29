"""Who is calling, and may they: the authentication and request-checking middleware.

Every route requires an authenticated user unless its handler is marked otherwise:

* ``@public`` — health, onboarding (which refuses once a user exists), login;
* ``@in_band_auth`` — the WebSocket, which authenticates inside its protocol;
* ``@frontend`` — UI files: public ones (the login page) are served to anyone, the rest
  redirect a browser without a session to ``/login.html?next=...``.

A request authenticates with ``Authorization: Bearer <long-lived token>`` or with the
session cookie set by ``POST /auth/login``. Requests that change something
(POST/PUT/PATCH/DELETE) on a cookie session must carry an ``Origin`` header naming this
server by one of its own names, or a configured origin (``origins``): a cookie is sent
by the browser whatever page made the request, a bearer token only by code that holds
it, so token clients are exempt. Unknown paths answer 401 too without credentials, so
that the route table cannot be probed anonymously.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Final, TypeVar
from urllib.parse import quote

from aiohttp import hdrs, web

from . import origins
from .errors import Handler, HttpError
from .runtime import SESSION_KEY, USER_KEY, HttpRuntime, rt

SESSION_COOKIE: Final = "gatehouse_session"
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
LOGIN_PAGE: Final = "/login.html"

_POLICY: Final = "__gatehouse_auth__"
_ADMIN: Final = "__gatehouse_admin__"
POLICY_REQUIRED: Final = "required"
POLICY_PUBLIC: Final = "public"
POLICY_IN_BAND: Final = "in_band"
POLICY_FRONTEND: Final = "frontend"

F = TypeVar("F", bound=Callable[..., object])


def _mark(name: str, value: object) -> Callable[[F], F]:
    def mark(handler: F) -> F:
        setattr(handler, name, value)
        return handler

    return mark


#: No credentials needed (the handler guards itself where it must).
public = _mark(_POLICY, POLICY_PUBLIC)
#: Authenticates inside its own protocol (the WebSocket).
in_band_auth = _mark(_POLICY, POLICY_IN_BAND)
#: UI files: redirect to the login page instead of answering 401.
frontend = _mark(_POLICY, POLICY_FRONTEND)
#: Only admins (the owner and users made admin) may call it: others get 403.
admin_only = _mark(_ADMIN, True)


def policy_of(handler: object) -> str:
    return str(getattr(handler, _POLICY, POLICY_REQUIRED))


def is_admin_only(handler: object) -> bool:
    return bool(getattr(handler, _ADMIN, False))


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
    """Set ``USER_KEY`` (and ``SESSION_KEY``) from a bearer token or the session cookie.

    A bearer header that is present but wrong is an error (401) rather than a fall-back
    to the cookie: a client that sends a token means to use it.
    """
    runtime = rt(request)
    header = request.headers.get(hdrs.AUTHORIZATION)
    if header is not None:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise HttpError(401, "unsupported authorization: use 'Bearer <token>'")
        user = runtime.auth.user_for_token(value.strip())
        if user is None:
            raise HttpError(401, "invalid access token")
        request[USER_KEY] = user
        return
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        found = runtime.auth.session_for(cookie)
        if found is not None:
            request[SESSION_KEY], request[USER_KEY] = found


def login_redirect(request: web.Request) -> web.HTTPFound:
    target = request.rel_url.path_qs
    return web.HTTPFound(f"{LOGIN_PAGE}?next={quote(target, safe='/')}")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    route_handler = request.match_info.handler
    policy = policy_of(route_handler)
    if policy in (POLICY_PUBLIC, POLICY_IN_BAND):
        # Optional here (a handler may look at who calls), and a stale token must not
        # break the health check or the login page.
        with contextlib.suppress(HttpError):
            authenticate(request)
        return await handler(request)
    if policy == POLICY_FRONTEND and not request.path.startswith(("/api/", "/auth/")):
        from .static import is_public_file

        if is_public_file(request.match_info.get("path", "")):
            return await handler(request)
        authenticate(request)
        if USER_KEY not in request:
            raise login_redirect(request)
        return await handler(request)
    authenticate(request)
    if USER_KEY not in request:
        raise HttpError(401, "authentication required")
    if SESSION_KEY in request and request.method not in SAFE_METHODS:
        check_origin(request, required=True)
    if is_admin_only(route_handler) and not request[USER_KEY].is_admin:
        raise HttpError(403, "admin rights required")
    return await handler(request)


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
