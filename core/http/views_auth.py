"""Onboarding, login and logout, and the account settings API (users, tokens, password).

The browser UI logs in with ``POST /auth/login`` and from then on sends the session
cookie (HttpOnly: page scripts cannot read it; SameSite=Strict: other sites cannot make
the browser send it; Secure over HTTPS). Scripts and Prometheus use long-lived tokens
made under ``/api/auth/tokens`` (with ``"scope": "metrics"``, an admin makes a token
that reads ``/metrics`` and nothing else). Every password check (a login, the current
password of a password change) draws on a budget per client address and per user name,
reserved before the slow hash (``ratelimit``); a used budget answers 429 with
``Retry-After``.

Every user manages its own password and tokens. Users (their role and policy) and other
users' tokens are for admins; the rules about the owner's account and one's own role are
the auth store's (``auth_store``), so they hold however a change arrives.
"""

from __future__ import annotations

import logging
from typing import Any

import voluptuous as vol
from aiohttp import web

from ..permissions import Policy, Role
from .auth import SESSION_COOKIE, admin_only, any_user, check_host, check_origin, public
from .auth_store import TOKEN_SCOPES, AuthError, Session, User, WrongPassword
from .body import read_body, read_json
from .errors import HttpError, json_response
from .forwarded import address_in, parse_address
from .ratelimit import Attempt, Throttled, address_key, user_key
from .runtime import SESSION_KEY, UNVERIFIED_FORWARD_KEY, current_user, rt
from .security_events import fire_security_event

_LOGGER = logging.getLogger(__name__)

routes = web.RouteTableDef()

_CREDENTIALS = vol.Schema({
    vol.Required("username"): vol.All(str, vol.Length(min=1, max=64)),
    vol.Required("password"): vol.All(str, vol.Length(min=1, max=1024)),
    vol.Optional("name"): vol.All(str, vol.Length(min=1, max=128)),
})


def _client(request: web.Request) -> str:
    return request.remote or "unknown"


async def _start_session(request: web.Request, user: User, body: dict[str, Any]) -> web.Response:
    runtime = rt(request)
    _session, value = await runtime.auth.create_session(user)
    response = json_response(body)
    response.set_cookie(
        SESSION_COOKIE, value, httponly=True, samesite="Strict", secure=request.secure,
        path="/", max_age=int(runtime.auth.cookie_lifetime),
    )
    return response


# -- onboarding ------------------------------------------------------------------------


@routes.get("/api/onboarding")
@public
async def onboarding_status(request: web.Request) -> web.Response:
    return json_response({"done": rt(request).auth.has_users})


@routes.post("/api/onboarding/users")
@public
async def onboarding_create_owner(request: web.Request) -> web.Response:
    """Create the owner: allowed exactly once, while no user exists at all."""
    runtime = rt(request)
    if runtime.auth.has_users:
        raise HttpError(403, "onboarding is done: log in instead")
    check_origin(request, required=False)
    check_host(request)
    _check_onboarding_client(request)
    body = await read_body(request, _CREDENTIALS)
    try:
        user = await runtime.auth.create_user(
            body["username"], body["password"], name=body.get("name"), role=Role.OWNER,
            only_if_first=True,
        )
    except AuthError as err:
        if runtime.auth.has_users:  # another request won the race
            raise HttpError(403, "onboarding is done: log in instead") from err
        raise
    _LOGGER.info("Onboarding: created the owner %s", user.username)
    fire_security_event(request, "user.create", "ok", user_id=user.id, name=user.username,
                        target=f"user:{user.username}", details={"role": "owner"})
    return await _start_session(request, user, {"user": user.public()})


def _check_onboarding_client(request: web.Request) -> None:
    """Onboarding only from ``onboarding_networks`` (by default: local networks).

    Whoever onboards becomes the owner, so a fresh host that the internet can reach must
    not be claimable from there. Behind a proxy that is not in ``trusted_proxies`` the
    real client is unknown (the proxy is often on loopback): refused too.
    """
    runtime = rt(request)
    if request.get(UNVERIFIED_FORWARD_KEY):
        _LOGGER.warning("Onboarding through an untrusted proxy (%s) refused", _client(request))
        raise HttpError(403, "onboarding through a proxy needs it in http: trusted_proxies "
                             "(with use_x_forwarded_for: true), so that the real client "
                             "address is known")
    if not address_in(parse_address(request.remote), runtime.onboarding_networks):
        _LOGGER.warning("Onboarding from %s refused: not in onboarding_networks",
                        _client(request))
        raise HttpError(403, "onboarding is only possible from a local network (http: "
                             "onboarding_networks); create the owner from there")


# -- login and logout ------------------------------------------------------------------


_LOGIN = vol.Schema({
    vol.Required("username"): vol.All(str, vol.Length(min=1, max=64)),
    vol.Required("password"): vol.All(str, vol.Length(min=1, max=1024)),
})


@routes.post("/auth/login")
@public
async def login(request: web.Request) -> web.Response:
    runtime = rt(request)
    check_origin(request, required=False)
    body = await read_body(request, _LOGIN)
    address = _client(request)
    name = body["username"][:64]
    attempt = _reserve(request, body["username"])
    user = await runtime.auth.authenticate(body["username"], body["password"])
    if user is None:
        _LOGGER.warning("Failed login for user %r from %s", name, address)
        fire_security_event(request, "auth.login", "failed", name=name)
        _failed(request, attempt, address, name)
        raise HttpError(401, "invalid username or password")
    attempt.succeeded()
    fire_security_event(request, "auth.login", "ok", user_id=user.id, name=user.username)
    return await _start_session(request, user, {"user": user.public()})


def _reserve(request: web.Request, username: str) -> Attempt:
    """A slot of the guessing budget of this address and user, or 429 (see ratelimit)."""
    try:
        return rt(request).limiter.reserve(
            (address_key(_client(request)), user_key(username))
        )
    except Throttled as err:
        # Not audited one by one (a flood of refused guesses would flood the log): the
        # lockout itself was, when it began (``_failed``).
        raise _too_many(err.retry_after) from None


def _too_many(retry: int) -> HttpError:
    return HttpError(429, f"too many failed logins; try again in {retry} s",
                     headers={"Retry-After": str(retry)})


def _failed(request: web.Request, attempt: Attempt, address: str, name: str) -> None:
    """Count a wrong password; 429 instead of the caller's error if that used the budget."""
    locked = attempt.failed()
    if locked is not None:
        _LOGGER.warning("Locking out %s for %d s after repeated failed password checks "
                        "(%s)", address, locked, ", ".join(attempt.keys))
        fire_security_event(request, "auth.lockout", "locked", name=name,
                            details={"retry_after": locked})
        raise _too_many(locked)


@routes.post("/auth/logout")
@any_user
async def logout(request: web.Request) -> web.Response:
    session: Session | None = request.get(SESSION_KEY)
    if session is None:
        raise HttpError(400, "not logged in with a session (tokens are revoked instead)")
    await rt(request).auth.end_session(session.id)
    user = current_user(request)
    fire_security_event(request, "auth.logout", "ok", user_id=user.id, name=user.username)
    response = json_response({"message": "logged out"})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


# -- the current user ------------------------------------------------------------------


@routes.get("/api/auth/current_user")
@any_user
async def get_current_user(request: web.Request) -> web.Response:
    user = current_user(request)
    return json_response({**user.public(), "session": SESSION_KEY in request})


_PASSWORD = vol.Schema({
    vol.Required("current_password"): str,
    vol.Required("new_password"): str,
})


@routes.post("/api/auth/password")
@any_user
async def change_password(request: web.Request) -> web.Response:
    """Change your password; your other sessions are logged out, this one is kept.

    The current password is a password check like a login's, so it draws on the same
    budget (a stolen session must not become a password oracle).
    """
    body = await read_body(request, _PASSWORD)
    user = current_user(request)
    session: Session | None = request.get(SESSION_KEY)
    attempt = _reserve(request, user.username)
    try:
        await rt(request).auth.change_password(
            user, body["current_password"], body["new_password"],
            keep_session=session.id if session is not None else None,
        )
    except WrongPassword:
        _LOGGER.warning("Wrong current password for user %r from %s", user.username,
                        _client(request))
        fire_security_event(request, "user.password", "failed", user_id=user.id,
                            name=user.username, target=f"user:{user.username}")
        _failed(request, attempt, _client(request), user.username)
        raise
    except AuthError:
        attempt.cancelled()  # refused before the check (the new password breaks a rule)
        raise
    attempt.succeeded()
    fire_security_event(request, "user.password", "ok", user_id=user.id, name=user.username,
                        target=f"user:{user.username}")
    return json_response({"message": "password changed"})


# -- users (admins) --------------------------------------------------------------------


def _role(value: object) -> Role:
    """A role an admin may give: not ``owner`` (there is one, made at onboarding)."""
    try:
        role = Role(str(value))
    except ValueError:
        role = None
    if role is None or role is Role.OWNER:
        raise vol.Invalid("expected one of admin, user, read_only (the owner is made at "
                          "onboarding)")
    return role


@routes.get("/api/auth/users")
@admin_only
async def list_users(request: web.Request) -> web.Response:
    return json_response([u.public() for u in rt(request).auth.users()])


_NEW_USER = _CREDENTIALS.extend({
    vol.Exclusive("role", "role"): _role,
    # Before roles: {"is_admin": true} made an admin. Still understood.
    vol.Exclusive("is_admin", "role"): bool,
})


@routes.post("/api/auth/users")
@admin_only
async def create_user(request: web.Request) -> web.Response:
    body = await read_body(request, _NEW_USER)
    role = body.get("role") or (Role.ADMIN if body.get("is_admin") else Role.USER)
    user = await rt(request).auth.create_user(
        body["username"], body["password"], name=body.get("name"), role=role
    )
    by = current_user(request)
    _LOGGER.info("%s created user %s (%s)", by.username, user.username, user.role)
    fire_security_event(request, "user.create", "ok", user_id=by.id, name=by.username,
                        target=f"user:{user.username}", details={"role": str(user.role)})
    return json_response(user.public(), status=201)


_UPDATE_USER = vol.Schema({
    vol.Optional("name"): vol.All(str, vol.Length(min=1, max=128)),
    # Any role here, "owner" included: the owner's unchanged role is not a change, and
    # the auth store says why any other use of it is refused.
    vol.Optional("role"): vol.In([str(role) for role in Role]),
})


@routes.post("/api/auth/users/{user_id}")
@admin_only
async def update_user(request: web.Request) -> web.Response:
    """Change a user's name or role (not the owner's role, not your own)."""
    body = await read_body(request, _UPDATE_USER)
    by = current_user(request)
    user = await rt(request).auth.update_user(
        request.match_info["user_id"], by=by, name=body.get("name"), role=body.get("role"),
    )
    action = "permission.change" if "role" in body else "user.update"
    fire_security_event(request, action, "ok", user_id=by.id, name=by.username,
                        target=f"user:{user.username}",
                        details={"changed": sorted(body), "role": str(user.role)})
    return json_response(user.public())


@routes.post("/api/auth/users/{user_id}/policy")
@admin_only
async def set_policy(request: web.Request) -> web.Response:
    """Replace a user's policy: ``{"read", "control"?, "services"}`` glob lists (a key
    left out: everything, ``control``: the same as ``read``). Errors name the field and
    the line (the UI edits one glob per line)."""
    policy = _policy(await read_json(request))
    by = current_user(request)
    user = await rt(request).auth.update_user(
        request.match_info["user_id"], by=by, policy=policy
    )
    fire_security_event(request, "permission.change", "ok", user_id=by.id, name=by.username,
                        target=f"user:{user.username}", details={"changed": ["policy"]})
    return json_response(user.public())


def _policy(data: Any) -> Policy:
    if not isinstance(data, dict):
        raise HttpError(400, "the policy must be a JSON object")
    try:
        return Policy.from_dict(data)
    except vol.Invalid as err:
        problems = err.errors if isinstance(err, vol.MultipleInvalid) else [err]
        errors: dict[str, str] = {}
        for problem in problems:
            path = [str(p) for p in problem.path]
            field = path[0] if path else "base"
            where = (f"line {int(path[1]) + 1}: "
                     if len(path) > 1 and path[1].isdigit() else "")
            errors.setdefault(field, f"{where}{problem.msg}")
        message = "invalid policy: " + "; ".join(f"{k}: {v}" for k, v in errors.items())
        raise HttpError(400, message, errors=errors) from err


@routes.delete("/api/auth/users/{user_id}")
@admin_only
async def delete_user(request: web.Request) -> web.Response:
    user_id = request.match_info["user_id"]
    by = current_user(request)
    removed = rt(request).auth.get_user(user_id)
    await rt(request).auth.remove_user(user_id, by=by)
    target = f"user:{removed.username}" if removed is not None else f"user_id:{user_id}"
    fire_security_event(request, "user.remove", "ok", user_id=by.id, name=by.username,
                        target=target)
    return json_response({"removed": user_id})


@routes.get("/api/auth/users/{user_id}/tokens")
@admin_only
async def list_user_tokens(request: web.Request) -> web.Response:
    """Another user's tokens (names and dates: never a value)."""
    auth = rt(request).auth
    user_id = request.match_info["user_id"]
    if auth.get_user(user_id) is None:
        raise HttpError(404, f"no user {user_id!r}")
    return json_response([t.public() for t in auth.tokens(user_id)])


@routes.delete("/api/auth/users/{user_id}/tokens/{token_id}")
@admin_only
async def revoke_user_token(request: web.Request) -> web.Response:
    """Revoke another user's token (a leaked one) without removing the user."""
    user_id, token_id = request.match_info["user_id"], request.match_info["token_id"]
    by = current_user(request)
    if not await rt(request).auth.revoke_token(user_id, token_id, by=by):
        raise HttpError(404, f"no token {token_id!r}")
    fire_security_event(request, "token.revoke", "ok", user_id=by.id, name=by.username,
                        target=f"user_id:{user_id}", details={"token_id": token_id})
    return json_response({"revoked": token_id})


# -- long-lived access tokens ----------------------------------------------------------


@routes.get("/api/auth/tokens")
@any_user
async def list_tokens(request: web.Request) -> web.Response:
    user = current_user(request)
    return json_response([t.public() for t in rt(request).auth.tokens(user.id)])


_NEW_TOKEN = vol.Schema({
    vol.Required("name"): vol.All(str, vol.Length(min=1, max=100)),
    vol.Optional("scope"): vol.Any(None, vol.In(sorted(TOKEN_SCOPES))),
})


@routes.post("/api/auth/tokens")
@any_user
async def create_token(request: web.Request) -> web.Response:
    """Make a token; its value is in this answer only, never again. ``"scope":
    "metrics"`` (admins): a token that reads ``/metrics`` and nothing else."""
    body = await read_body(request, _NEW_TOKEN)
    user = current_user(request)
    token, value = await rt(request).auth.create_token(
        user, body["name"], scope=body.get("scope")
    )
    fire_security_event(request, "token.create", "ok", user_id=user.id, name=user.username,
                        details={"token_name": body["name"], "scope": body.get("scope")})
    return json_response({**token.public(), "token": value}, status=201)


@routes.delete("/api/auth/tokens/{token_id}")
@any_user
async def revoke_token(request: web.Request) -> web.Response:
    user = current_user(request)
    token_id = request.match_info["token_id"]
    if not await rt(request).auth.revoke_token(user.id, token_id):
        raise HttpError(404, f"no token {token_id!r}")
    fire_security_event(request, "token.revoke", "ok", user_id=user.id, name=user.username,
                        details={"token_id": token_id})
    return json_response({"revoked": token_id})
