"""Errors of the recorder, all rooted at ``GatehouseError``."""

from __future__ import annotations

from gatehouse.core import GatehouseError, StoreTooNewError


class RecorderError(GatehouseError):
    """Something the recorder cannot do."""


class SchemaTooNewError(RecorderError, StoreTooNewError):
    """The database was written by a newer recorder: refused, never downgraded."""


class DatabaseUnusableError(RecorderError):
    """The database could not be opened, not even after moving a corrupt file aside."""


class RecorderUnavailableError(RecorderError):
    """No recorder entry is loaded (the API answers 404 saying so)."""


class AnswerTooLargeError(RecorderError):
    """A WebSocket history answer (one message, held whole) would pass its size bound."""
