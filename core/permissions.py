"""Who may do what: roles, per-user policies, and the decisions made from them.

Pure and host-free, so the service registry, the REST API, the WebSocket and the
metrics endpoint all ask the same object the same questions (in the spirit of Home
Assistant's permissions, smaller):

* **roles** — ``owner`` (everything; cannot be removed), ``admin`` (everything but the
  owner's own account: users, config entries, admin-only services, every event),
  ``user`` (reads and controls what its policy allows, calls non-admin services),
  ``read_only`` (reads what its policy allows, calls nothing);
* **policy** — per user, entity-id globs it may ``read`` and ``control`` and service
  globs (``domain.service``) it may call; the defaults allow everything a role allows,
  so a policy only ever narrows;
* **admin-only services** — a service registered with ``admin_only=True`` (raw
  ``mqtt.publish``, ``nats.publish``/``request``, Modbus and OPC UA writes: anything that
  reaches a device or a broker without an entity in between) is refused to non-admins
  whatever their policy says.

Events: a non-admin may subscribe only to the event types in ``USER_EVENTS``, and
``state_changed`` reaches it only for entities it may read; ``call_service`` (which
carries every caller's service data) is admin-only.
"""

from __future__ import annotations

import enum
import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Final

import voluptuous as vol

from .exceptions import GatehouseError


class Role(enum.StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    USER = "user"
    READ_ONLY = "read_only"

    @property
    def is_admin(self) -> bool:
        return self in (Role.OWNER, Role.ADMIN)


#: Event types a non-admin may subscribe to (``state_changed`` filtered per entity).
USER_EVENTS: Final = frozenset(
    {"state_changed", "entity_registry_updated", "device_registry_updated",
     "area_registry_updated",
     "config_entry_changed", "service_registered", "service_removed"}
)


class Unauthorized(GatehouseError):
    """The caller may not do this; the message says what was refused (not why in detail:
    the policy itself is not disclosed to the caller)."""

    def __init__(self, what: str, user_id: str | None = None) -> None:
        super().__init__(f"not allowed: {what}")
        self.what = what
        self.user_id = user_id


_GLOB_CHARS: Final = re.compile(r"^[a-z0-9_.*?\[\]!-]+$")


def _glob(value: Any) -> str:
    if not isinstance(value, str) or not _GLOB_CHARS.match(value):
        raise vol.Invalid("expected a glob of lower-case ids, like 'sensor.*' or 'switch.pump'")
    return value


POLICY_SCHEMA: Final = vol.Schema(
    {
        vol.Optional("read", default=["*"]): [_glob],
        vol.Optional("control"): [_glob],
        vol.Optional("services", default=["*"]): [_glob],
    }
)


class _Globs:
    """A set of globs compiled into one regular expression (``*`` alone: everything)."""

    __slots__ = ("_all", "_regex", "globs")

    def __init__(self, globs: Iterable[str]) -> None:
        self.globs = tuple(globs)
        self._all = "*" in self.globs
        joined = "|".join(fnmatch.translate(g) for g in self.globs) or "(?!)"
        self._regex = re.compile(joined)

    def matches(self, name: str) -> bool:
        return self._all or self._regex.match(name) is not None


@dataclass(frozen=True)
class Policy:
    """What a non-admin user may touch: entity globs to read and control, service globs
    to call. ``control`` defaults to ``read``. Admins are not limited by a policy."""

    read: tuple[str, ...] = ("*",)
    control: tuple[str, ...] | None = None
    services: tuple[str, ...] = ("*",)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> Policy:
        data = POLICY_SCHEMA(dict(raw or {}))
        control = data.get("control")
        return cls(
            read=tuple(data["read"]),
            control=tuple(control) if control is not None else None,
            services=tuple(data["services"]),
        )

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"read": list(self.read), "services": list(self.services)}
        if self.control is not None:
            out["control"] = list(self.control)
        return out

    @cached_property
    def _read(self) -> _Globs:
        return _Globs(self.read)

    @cached_property
    def _control(self) -> _Globs:
        return _Globs(self.control if self.control is not None else self.read)

    @cached_property
    def _services(self) -> _Globs:
        return _Globs(self.services)


@dataclass(frozen=True)
class Permissions:
    """The decisions for one user; build it with ``Permissions.of(role, policy)``."""

    role: Role
    policy: Policy = field(default_factory=Policy)
    user_id: str | None = None

    @classmethod
    def of(cls, role: Role | str, policy: Policy | Mapping[str, Any] | None = None,
           user_id: str | None = None) -> Permissions:
        if not isinstance(policy, Policy):
            policy = Policy.from_dict(policy)
        return cls(Role(role), policy, user_id)

    @property
    def is_admin(self) -> bool:
        return self.role.is_admin

    def can_read(self, entity_id: str) -> bool:
        return self.is_admin or self.policy._read.matches(entity_id)

    def can_control(self, entity_id: str) -> bool:
        if self.is_admin:
            return True
        return (
            self.role is Role.USER
            and self.policy._read.matches(entity_id)
            and self.policy._control.matches(entity_id)
        )

    def can_subscribe(self, event_type: str | None) -> bool:
        """``None`` means every event type (``subscribe_events`` without a type)."""
        return self.is_admin or (event_type is not None and event_type in USER_EVENTS)

    def check_call(
        self, domain: str, service: str, *, admin_only: bool, entity_ids: Iterable[str] = ()
    ) -> None:
        """Raise ``Unauthorized`` unless this user may call ``domain.service`` on
        ``entity_ids`` (the entities the call targets, if any)."""
        if self.is_admin:
            return
        name = f"{domain}.{service}"
        if self.role is Role.READ_ONLY:
            raise Unauthorized(f"{name} (read-only user)", self.user_id)
        if admin_only:
            raise Unauthorized(f"{name} (admin only)", self.user_id)
        if not self.policy._services.matches(name):
            raise Unauthorized(name, self.user_id)
        for entity_id in entity_ids:
            if not self.can_control(entity_id):
                raise Unauthorized(f"{name} on {entity_id}", self.user_id)

    def check_admin(self, what: str) -> None:
        if not self.is_admin:
            raise Unauthorized(f"{what} (admin only)", self.user_id)


#: The system itself (automations, integrations): not limited by any policy.
SYSTEM: Final = Permissions(Role.OWNER)


def target_entities(data: Mapping[str, Any]) -> list[str]:
    """The entity ids a call's validated data targets (``entity_id``: one or a list)."""
    value = data.get("entity_id")
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable):
        return [str(v) for v in value]
    return []
