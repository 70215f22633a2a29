"""The pki integration's errors, each a ``GatehouseError``."""

from __future__ import annotations

from gatehouse.core import GatehouseError


class PkiWatchError(GatehouseError):
    """A watched file (or the CA index) could not be read; the message names it."""
