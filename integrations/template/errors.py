"""Errors of the template integration."""

from gatehouse.core import GatehouseError


class TemplateEntityError(GatehouseError):
    """A template entity's configuration or action failed (the message names it)."""


class ActionError(TemplateEntityError):
    """An action of a template switch, number or button could not be run."""
