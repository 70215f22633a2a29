"""Errors of the automation integration, rooted at ``GatehouseError``."""

from __future__ import annotations

from gatehouse.core import GatehouseError


class AutomationError(GatehouseError):
    """An automation that is not there, not editable, or does not compile."""
