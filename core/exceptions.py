"""One exception hierarchy for the whole house.

Kept in a leaf module (it imports nothing from Gatehouse) so that every other module,
and every integration, can raise and catch these without import cycles. Errors carry
their subject as attributes so that callers (the CLI, the API) can render them without
parsing messages.
"""

from __future__ import annotations

from typing import Any


class GatehouseError(Exception):
    """Base of every error Gatehouse raises on purpose."""


class InvalidEntityId(GatehouseError, ValueError):
    """An entity id is not of the form ``<domain>.<object_id>``."""

    def __init__(self, entity_id: str) -> None:
        super().__init__(
            f"invalid entity id {entity_id!r}: expected '<domain>.<object_id>' "
            "with lowercase letters, digits and underscores"
        )
        self.entity_id = entity_id


class InvalidStateError(GatehouseError, ValueError):
    """A state value is not acceptable (too long, wrong type)."""


class ServiceNotFound(GatehouseError):
    """A service call named a service nobody registered."""

    def __init__(self, domain: str, service: str, suggestion: str | None = None) -> None:
        hint = f" (did you mean '{suggestion}'?)" if suggestion else ""
        super().__init__(f"service {domain}.{service} not found{hint}")
        self.domain = domain
        self.service = service
        self.suggestion = suggestion


class ServiceValidationError(GatehouseError):
    """Service data did not match the service's schema."""

    def __init__(self, domain: str, service: str, message: str) -> None:
        super().__init__(f"invalid data for {domain}.{service}: {message}")
        self.domain = domain
        self.service = service
        self.detail = message


class ServiceResponseError(GatehouseError):
    """A caller asked for response data from a service that gives none (or vice versa)."""


class HostStoppingError(GatehouseError):
    """Work was requested while the host is shutting down."""


class StorageError(GatehouseError):
    """A stored file could not be read, migrated or written."""


class StoreTooNewError(StorageError):
    """Data written by a newer release than this one (a JSON store, a database).

    Not corruption: the data is good and this code too old for it. Nothing may start on
    it or write to it (no silent downgrade), so a config entry whose set-up raises this
    stops the whole host with the message, exit code ``EXIT_STORE_TOO_NEW``.
    """


#: The exit code of a host that refused data from a newer release (sysexits EX_CONFIG).
EXIT_STORE_TOO_NEW = 78


class ConfigEntryError(GatehouseError):
    """Base for config entry lifecycle errors raised by integrations."""


class ConfigEntryNotReady(ConfigEntryError):
    """The device or service behind an entry is not reachable yet: retry with backoff."""


class ConfigEntryAuthFailed(ConfigEntryError):
    """Credentials were refused: do not retry until the user fixes them."""


class UnknownEntry(GatehouseError, KeyError):
    """No config entry has that id."""

    def __init__(self, entry_id: str) -> None:
        super().__init__(entry_id)
        self.entry_id = entry_id

    def __str__(self) -> str:
        return f"no config entry with id {self.entry_id!r}"


class OperationNotAllowed(GatehouseError):
    """A lifecycle operation is not allowed in the entry's current state."""


class IntegrationNotFound(GatehouseError):
    """No plugin provides that domain."""

    def __init__(self, domain: str, suggestion: str | None = None) -> None:
        hint = f" (did you mean '{suggestion}'?)" if suggestion else ""
        super().__init__(f"integration {domain!r} not found{hint}")
        self.domain = domain
        self.suggestion = suggestion


class ManifestError(GatehouseError):
    """An integration's manifest.json is missing or invalid."""

    def __init__(self, domain: str, problems: list[str]) -> None:
        super().__init__(f"invalid manifest for {domain!r}: " + "; ".join(problems))
        self.domain = domain
        self.problems = problems


class DependencyError(GatehouseError):
    """Integration dependencies are missing or form a cycle."""


class FlowError(GatehouseError):
    """A config flow was driven wrongly (unknown flow, unknown step)."""


class UnknownFlow(FlowError):
    """No flow in progress has that id."""


class AbortFlow(FlowError):
    """Raised inside a flow step to abort it with a reason (e.g. already_configured)."""

    def __init__(self, reason: str, placeholders: dict[str, Any] | None = None) -> None:
        super().__init__(f"flow aborted: {reason}")
        self.reason = reason
        self.placeholders = placeholders or {}


class PayloadError(GatehouseError, ValueError):
    """A message payload holds no value of the expected shape (not UTF-8, not JSON, no such
    path, a failing template, an unknown on/off word); ``str()`` says why.

    Raised by the payload readers of ``gatehouse.core.helpers``; callers count it and go
    on with the next message, because a malformed message must never stop an ingest loop.
    """
