"""Users, long-lived access tokens and browser sessions, persisted in ``.storage/auth``.

Nothing secret is stored in a form that would let a thief of the file log in: passwords
as scrypt hashes, tokens and session cookies as SHA-256 digests of 32 random bytes
(a random 256-bit value needs no slow hash: there is nothing to guess). The file is
written by ``Store`` with mode 0600.

A token or session value is shown exactly once, when it is made; afterwards only its
id, name and dates are listed.

Each user has a ``role`` (owner, admin, user, read_only) and a ``policy`` (what a
non-admin may read, control and call: ``core/permissions.py``). The rules about who may
change whom live here, not in the views, so every way in (REST, a future WebSocket
command, the CLI) applies the same ones: there is one owner, made at onboarding, who
cannot be removed, demoted or given a policy; only the owner changes the owner's
account; nobody changes their own role or policy. A token may carry a ``scope``: a
``metrics`` token reads ``/metrics`` and nothing else (for a Prometheus scraper, whose
credential sits in a config file), and only while its user is an admin.

Storage version 2 added roles, policies and scopes; version 1 files (``is_owner`` /
``is_admin`` flags) are migrated on load: owner → owner, admin → admin, else user.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Final

import anyio.to_thread
import voluptuous as vol

from ..context import new_id
from ..exceptions import GatehouseError
from ..permissions import Permissions, Policy, Role, Unauthorized
from ..storage import Store
from .config import DEFAULT_SESSION_MAX_AGE
from .passwords import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    dummy_record,
    hash_password,
    verify_password,
)

if TYPE_CHECKING:
    from pathlib import Path

_LOGGER = logging.getLogger(__name__)

STORAGE_KEY: Final = "auth"
STORAGE_VERSION: Final = 2
_USERNAME: Final = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
#: A session's expiry is pushed forward on use, but written at most this often.
_TOUCH_GRANULARITY: Final = 3600.0
#: The scope of a token that may read ``/metrics`` and nothing else.
SCOPE_METRICS: Final = "metrics"
TOKEN_SCOPES: Final = frozenset({SCOPE_METRICS})


class AuthError(GatehouseError):
    """A user, token or password request was refused (the message says why)."""


class WrongPassword(AuthError):
    """A password given to prove who you are was wrong (counts against the budget)."""


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(slots=True)
class User:
    id: str
    username: str
    name: str
    password: dict[str, Any]
    role: Role = Role.USER
    #: Narrows what a user or read-only user may do; inert for admins (kept if demoted).
    policy: Policy = field(default_factory=Policy)
    created_at: float = field(default_factory=time.time)

    @property
    def is_owner(self) -> bool:
        return self.role is Role.OWNER

    @property
    def is_admin(self) -> bool:
        return self.role.is_admin

    @property
    def permissions(self) -> Permissions:
        """What this user may do now (made afresh: a role change applies at once)."""
        return Permissions(self.role, self.policy, self.id)

    def public(self) -> dict[str, Any]:
        """What the API shows: never the password record. ``is_owner``/``is_admin`` are
        derived from the role, for clients written for Home Assistant."""
        return {
            "id": self.id,
            "username": self.username,
            "name": self.name,
            "role": str(self.role),
            "policy": self.policy.as_dict(),
            "is_owner": self.is_owner,
            "is_admin": self.is_admin,
            "created_at": self.created_at,
        }

    def stored(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "username": self.username,
            "name": self.name,
            "password": self.password,
            "role": str(self.role),
            "policy": self.policy.as_dict(),
            "created_at": self.created_at,
        }

    @classmethod
    def from_stored(cls, raw: dict[str, Any]) -> User:
        try:
            role = Role(raw["role"])
            policy = Policy.from_dict(raw.get("policy"))
        except (ValueError, vol.Invalid) as err:
            raise AuthError(
                f"stored user {raw.get('username')!r} has an invalid role or policy "
                f"({err}); correct it in .storage/auth"
            ) from err
        return cls(
            id=raw["id"], username=raw["username"], name=raw["name"],
            password=raw["password"], role=role, policy=policy,
            created_at=raw.get("created_at", 0.0),
        )


@dataclass(slots=True)
class AccessToken:
    """A long-lived access token (``Authorization: Bearer``) of one user."""

    id: str
    user_id: str
    name: str
    hash: str
    created_at: float
    last_used_at: float | None = None
    #: ``None``: everything its user may do; ``"metrics"``: ``/metrics`` only.
    scope: str | None = None

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "scope": self.scope,
            "created_at": self.created_at,
            "last_used_at": self.last_used_at,
        }


@dataclass(frozen=True, slots=True)
class Credential:
    """What a long-lived connection (a WebSocket) authenticated with: checked again later.

    ``kind`` is ``"token"`` or ``"session"``; ``id`` the token's or the session's id.
    """

    kind: str
    id: str
    user_id: str


@dataclass(slots=True)
class Session:
    """A browser login; the cookie holds the secret, we hold its digest."""

    id: str
    user_id: str
    hash: str
    created_at: float
    expires_at: float


class AuthStore:
    """The users, tokens and sessions of one host."""

    def __init__(
        self,
        storage_dir: Path,
        *,
        session_lifetime: float,
        session_max_age: float = DEFAULT_SESSION_MAX_AGE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store: Store[dict[str, Any]] = Store(
            storage_dir, STORAGE_KEY, STORAGE_VERSION, migrate=_migrate
        )
        #: Seconds a session lives unused (its expiry slides forward on use) ...
        self.session_lifetime = session_lifetime
        #: ... and at most after its login, however much it is used.
        self.session_max_age = session_max_age
        #: Wall clock (sessions outlive restarts); tests replace it to expire sessions.
        self.clock = clock
        self._users: dict[str, User] = {}
        self._tokens: dict[str, AccessToken] = {}  # by digest
        self._sessions: dict[str, Session] = {}  # by digest
        self._lock = anyio.Lock()
        #: Passwords checked against a hash (scrypt runs); tests and the lockout read it.
        self.password_checks = 0
        self._revoke_listeners: list[Callable[[], None]] = []

    # -- persistence -----------------------------------------------------------------

    async def load(self) -> None:
        raw = await self._store.load() or {}
        self._users = {u["id"]: User.from_stored(u) for u in raw.get("users", [])}
        self._tokens = {t["hash"]: AccessToken(**t) for t in raw.get("tokens", [])}
        now = self.clock()
        sessions = (Session(**s) for s in raw.get("sessions", []))
        self._sessions = {s.hash: s for s in sessions if self._session_alive(s, now)}

    def _data(self) -> dict[str, Any]:
        return {
            "users": [u.stored() for u in self._users.values()],
            "tokens": [asdict(t) for t in self._tokens.values()],
            "sessions": [asdict(s) for s in self._sessions.values()],
        }

    async def _save(self) -> None:
        await self._store.save(self._data())

    def _save_later(self) -> None:
        self._store.delay_save(self._data, 5.0)

    async def flush(self) -> None:
        await self._store.flush()

    # -- revocation ------------------------------------------------------------------

    def on_revoke(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` whenever a token, session or user is taken away, or a
        user's role or policy changes.

        The web server closes the WebSockets whose ``Credential`` is no longer
        ``is_live`` (a connection authenticated once must not outlive its credential),
        and those whose user's rights changed (they reconnect under the new ones).
        """
        self._revoke_listeners.append(listener)

        def remove() -> None:
            if listener in self._revoke_listeners:
                self._revoke_listeners.remove(listener)

        return remove

    def _revoked(self) -> None:
        for listener in list(self._revoke_listeners):
            try:
                listener()
            except Exception:
                _LOGGER.exception("Error in a revocation listener")

    def is_live(self, credential: Credential) -> bool:
        """Whether ``credential`` still authenticates its user (not revoked or expired)."""
        if credential.user_id not in self._users:
            return False
        if credential.kind == "token":
            return any(t.id == credential.id for t in self._tokens.values())
        now = self.clock()
        return any(
            s.id == credential.id and self._session_alive(s, now)
            for s in self._sessions.values()
        )

    # -- users -----------------------------------------------------------------------

    @property
    def has_users(self) -> bool:
        return bool(self._users)

    def users(self) -> list[User]:
        return sorted(self._users.values(), key=lambda u: u.created_at)

    def get_user(self, user_id: str) -> User | None:
        return self._users.get(user_id)

    def _by_username(self, username: str) -> User | None:
        wanted = username.casefold()
        for user in self._users.values():
            if user.username.casefold() == wanted:
                return user
        return None

    async def create_user(
        self,
        username: str,
        password: str,
        *,
        name: str | None = None,
        role: Role | str = Role.USER,
        only_if_first: bool = False,
    ) -> User:
        """Add a user. ``only_if_first``: refuse if any user exists (onboarding).

        There is one owner: ``role="owner"`` only for the first user.
        """
        role = Role(role)
        if not _USERNAME.match(username):
            raise AuthError("username: 1 to 64 letters, digits or . _ @ -")
        check_password_rules(password)
        record = await anyio.to_thread.run_sync(hash_password, password)
        async with self._lock:  # two onboarding requests at once: only one may win
            if only_if_first and self._users:
                raise AuthError("onboarding is done: a user exists already")
            if role is Role.OWNER and self._users:
                raise AuthError(_ONE_OWNER)
            if self._by_username(username) is not None:
                raise AuthError(f"username {username!r} is taken")
            user = User(
                id=new_id(), username=username, name=name or username, password=record,
                role=role,
            )
            self._users[user.id] = user
            await self._save()
        _LOGGER.info("Created user %s (%s)", username, role)
        return user

    def _get(self, user_id: str) -> User:
        user = self._users.get(user_id)
        if user is None:
            raise UnknownUser(f"no user {user_id!r}")
        return user

    @staticmethod
    def _check_actor(by: User | None, target: User, what: str) -> None:
        """``by`` (None: the system) may act on ``target``'s account: an admin, and the
        owner's account only the owner."""
        if by is None:
            return
        by.permissions.check_admin(what)
        if target.is_owner and not by.is_owner:
            raise Unauthorized(f"{what} of the owner", by.id)

    async def update_user(
        self,
        user_id: str,
        *,
        by: User | None,
        name: str | None = None,
        role: Role | str | None = None,
        policy: Policy | None = None,
    ) -> User:
        """Change a user's name, role or policy (``None``: unchanged) as ``by`` asks.

        Raises ``UnknownUser``, ``Unauthorized`` (``by`` may not: see the module
        docstring) or ``AuthError`` (the change itself is impossible).
        """
        target = self._get(user_id)
        new_role = Role(role) if role is not None and Role(role) is not target.role else None
        new_policy = policy if policy is not None and policy != target.policy else None
        self._check_actor(by, target, "changing the account")
        if by is not None and by.id == target.id and (new_role or new_policy):
            raise Unauthorized("changing your own role or policy", by.id)
        if new_role is Role.OWNER:
            raise AuthError(_ONE_OWNER)
        if new_role is not None and target.is_owner:
            raise AuthError("the owner's role cannot change")
        if new_policy is not None and target.is_owner:
            raise AuthError("the owner has no policy: the owner may do everything")
        if name is not None:
            if not name.strip() or len(name) > 128:
                raise AuthError("name: 1 to 128 characters")
            target.name = name
        if new_role is not None:
            target.role = new_role
        if new_policy is not None:
            target.policy = new_policy
        if new_role is not None or new_policy is not None:
            _LOGGER.info("User %s is now %s with policy %s", target.username, target.role,
                         target.policy.as_dict())
            self._revoked()  # before the save's await: no event slips out under old rights
        await self._save()
        return target

    async def remove_user(self, user_id: str, *, by: User | None = None) -> None:
        """Remove a user with its tokens and sessions (``by``: who asks; None: the system)."""
        user = self._get(user_id)
        if user.is_owner:
            raise AuthError("the owner cannot be removed")
        self._check_actor(by, user, "removing the account")
        if by is not None and by.id == user.id:
            raise Unauthorized("removing your own account", by.id)
        del self._users[user_id]
        self._tokens = {k: t for k, t in self._tokens.items() if t.user_id != user_id}
        self._sessions = {k: s for k, s in self._sessions.items() if s.user_id != user_id}
        self._revoked()
        await self._save()

    async def _verify(self, password: str, record: dict[str, Any]) -> bool:
        self.password_checks += 1
        return await anyio.to_thread.run_sync(
            verify_password, password[:MAX_PASSWORD_LENGTH], record
        )

    async def authenticate(self, username: str, password: str) -> User | None:
        """The user if the password is right; as slow for a wrong name as a wrong password."""
        user = self._by_username(username)
        record = user.password if user is not None else dummy_record()
        ok = await self._verify(password, record)
        return user if ok and user is not None else None

    async def change_password(
        self, user: User, current: str, new: str, *, keep_session: str | None = None
    ) -> None:
        """Change a password; every other session of the user is logged out.

        Raises ``WrongPassword`` if ``current`` is wrong (a guess: the caller counts it),
        ``AuthError`` if ``new`` breaks the rules (checked first: no guess was made).
        """
        check_password_rules(new)
        if not await self._verify(current, user.password):
            raise WrongPassword("current_password is wrong")
        user.password = await anyio.to_thread.run_sync(hash_password, new)
        self._sessions = {
            k: s for k, s in self._sessions.items()
            if s.user_id != user.id or s.id == keep_session
        }
        self._revoked()
        await self._save()

    # -- long-lived access tokens ----------------------------------------------------

    async def create_token(
        self, user: User, name: str, *, scope: str | None = None
    ) -> tuple[AccessToken, str]:
        """A new token; returns it and its secret value (shown to the user once).

        ``scope="metrics"``: a token that reads ``/metrics`` only; only admins make one
        (``/metrics`` is theirs to read).
        """
        if not name.strip() or len(name) > 100:
            raise AuthError("name: 1 to 100 characters")
        if scope is not None:
            if scope not in TOKEN_SCOPES:
                raise AuthError(f"scope: one of {sorted(TOKEN_SCOPES)} (or none)")
            user.permissions.check_admin("a metrics token")
        if any(t.user_id == user.id and t.name == name for t in self._tokens.values()):
            raise AuthError(f"a token named {name!r} exists already")
        value = secrets.token_urlsafe(32)
        token = AccessToken(
            id=new_id(), user_id=user.id, name=name, hash=_digest(value),
            created_at=self.clock(), scope=scope,
        )
        self._tokens[token.hash] = token
        await self._save()
        return token, value

    def tokens(self, user_id: str) -> list[AccessToken]:
        return sorted(
            (t for t in self._tokens.values() if t.user_id == user_id), key=lambda t: t.created_at
        )

    async def revoke_token(self, user_id: str, token_id: str, *, by: User | None = None
                           ) -> bool:
        """Revoke a token of ``user_id``; False if it has no such token. ``by``: who
        asks, if not that user itself (an admin; the owner's tokens only the owner)."""
        if by is not None and by.id != user_id:
            self._check_actor(by, self._get(user_id), "revoking the tokens")
        for digest, token in list(self._tokens.items()):
            if token.id == token_id and token.user_id == user_id:
                del self._tokens[digest]
                self._revoked()
                await self._save()
                return True
        return False

    def user_for_token(self, value: str) -> User | None:
        found = self.token_for(value)
        return found[1] if found is not None else None

    def token_for(self, value: str) -> tuple[AccessToken, User] | None:
        """The token of a bearer value and its user (its last use noted), or None."""
        token = self._tokens.get(_digest(value))
        if token is None:
            return None
        user = self._users.get(token.user_id)
        if user is None:
            return None
        now = self.clock()
        if token.last_used_at is None or now - token.last_used_at > _TOUCH_GRANULARITY:
            token.last_used_at = now
            self._save_later()
        return token, user

    # -- sessions --------------------------------------------------------------------

    async def create_session(self, user: User) -> tuple[Session, str]:
        value = secrets.token_urlsafe(32)
        now = self.clock()
        session = Session(
            id=new_id(), user_id=user.id, hash=_digest(value), created_at=now,
            expires_at=now + self.cookie_lifetime,
        )
        self._sessions[session.hash] = session
        await self._save()
        return session, value

    def session_for(self, value: str) -> tuple[Session, User] | None:
        """The live session of a cookie value (its expiry pushed forward), or None."""
        digest = _digest(value)
        session = self._sessions.get(digest)
        if session is None:
            return None
        now = self.clock()
        if not self._session_alive(session, now):
            del self._sessions[digest]
            self._save_later()
            return None
        user = self._users.get(session.user_id)
        if user is None:
            return None
        slid = min(now + self.session_lifetime, session.created_at + self.session_max_age)
        if slid - session.expires_at > _TOUCH_GRANULARITY:
            session.expires_at = slid
            self._save_later()
        return session, user

    async def end_session(self, session_id: str) -> None:
        self._sessions = {k: s for k, s in self._sessions.items() if s.id != session_id}
        self._revoked()
        await self._save()

    def _session_alive(self, session: Session, now: float) -> bool:
        return session.expires_at > now and now < session.created_at + self.session_max_age

    @property
    def cookie_lifetime(self) -> float:
        """How long a new session (and its cookie) may live at most from now."""
        return min(self.session_lifetime, self.session_max_age)

    def session_count(self, user_id: str | None = None) -> int:
        return sum(1 for s in self._sessions.values() if user_id in (None, s.user_id))


_ONE_OWNER: Final = ("there is one owner, made at onboarding: make this user an admin "
                     "instead")


class UnknownUser(AuthError):
    """No user has this id (404 in the API)."""


def _migrate(old_version: int, old_minor: int, data: Any) -> dict[str, Any]:
    """Version 1 → 2: roles from the ``is_owner``/``is_admin`` flags, default policies,
    tokens without a scope (they keep every right their user has)."""
    if old_version != 1:
        raise ValueError(f"no migration from version {old_version}")
    users = []
    for old in data.get("users", []):
        user = {k: v for k, v in old.items() if k not in ("is_owner", "is_admin")}
        if old.get("is_owner"):
            user["role"] = str(Role.OWNER)
        elif old.get("is_admin"):
            user["role"] = str(Role.ADMIN)
        else:
            user["role"] = str(Role.USER)
        user["policy"] = Policy().as_dict()
        users.append(user)
    tokens = [{**t, "scope": None} for t in data.get("tokens", [])]
    return {**data, "users": users, "tokens": tokens}


def check_password_rules(password: str) -> None:
    if not isinstance(password, str) or not (
        MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH
    ):
        raise AuthError(
            f"password: {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters"
        )
