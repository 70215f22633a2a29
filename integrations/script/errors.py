"""Every error of the script engine, rooted at ``GatehouseError``.

``ScriptConfigError`` is a configuration mistake found while compiling (it names the
item and the key); the others happen while a run goes on and end up in its trace.
"""

from __future__ import annotations

from gatehouse.core import GatehouseError


class ScriptError(GatehouseError):
    """Base of the engine's errors."""


class ScriptConfigError(ScriptError):
    """A trigger, condition or action that cannot be compiled (names what and where)."""


class ScriptTemplateError(ScriptError):
    """A template failed to render while a run needed its value."""


class ScriptStopped(ScriptError):
    """``stop: ... error: true``: the run ends as failed, with the stop's message."""


class BlueprintError(ScriptError):
    """A blueprint that cannot be read, or an instance whose inputs do not fit it."""


class TriggerUnavailable(ScriptError):
    """A trigger platform that cannot attach here (its integration is missing)."""


class RunStopped(ScriptError):
    """Ends a run early (a ``stop`` action, a failed ``condition`` action, a wait that
    timed out): ``execution`` for the trace, ``response`` for the caller. Control flow
    inside the engine; never reaches a caller."""

    def __init__(self, execution: str, response: object = None,
                 error: str | None = None) -> None:
        super().__init__(execution)
        self.execution = execution
        self.response = response
        self.error = error
