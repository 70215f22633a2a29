"""The schema_guard integration's errors, each a ``GatehouseError``.

A message that fails validation is not an error here: it is a ``Rejected`` verdict
(``api.py``). These are for what goes wrong around the messages: a schema file that
cannot be used, and a quarantine that cannot store.
"""

from __future__ import annotations

from gatehouse.core import GatehouseError

from .violation import Violation


class SchemaGuardError(GatehouseError):
    """Base of the errors below."""


class SchemaLoadError(SchemaGuardError):
    """A schema file cannot be read or compiled; the message names the file and why."""

    def __init__(self, file: str, reason: str) -> None:
        super().__init__(f"{file}: {reason}")
        self.file = file
        self.reason = reason


class RuleError(SchemaGuardError):
    """A rule's topic pattern or options are not usable (named in the message)."""


class QuarantineError(SchemaGuardError):
    """The quarantine store failed (disk, database) or is closed."""


class QuarantineFull(QuarantineError):
    """More rejected messages are waiting for their commit than the bound allows."""


class GuardUnavailable(QuarantineError):
    """No schema_guard entry is loaded (for calls that need one)."""


class PayloadRefused(SchemaGuardError):
    """A payload failed a decode check (size, UTF-8, depth, strict JSON); ``violation``
    says which and why. Raised and caught inside the guard: callers see a verdict."""

    def __init__(self, violation: Violation) -> None:
        super().__init__(violation.message)
        self.violation = violation
