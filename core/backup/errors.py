"""Errors of backup and restore (all GatehouseError: the CLI prints them as one line)."""

from __future__ import annotations

from ..exceptions import GatehouseError


class BackupError(GatehouseError):
    """A backup could not be made or restored; the message says which file and why."""


class BadPassphraseError(BackupError):
    """The passphrase does not open this encrypted backup."""
