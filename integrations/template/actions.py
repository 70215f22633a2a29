"""The actions of template switches, numbers and buttons, run by the script engine.

``turn_on``, ``turn_off``, ``set_value`` and ``press`` are Home Assistant action
sequences (service calls with ``action:``/``service:``, ``target``, templated ``data``,
and everything else a script may do: delays, conditions, ``choose``...). They are
compiled once, when the entity is made, by the ``script`` integration's engine
(``gatehouse.integrations.script.api``, a dependency), so a malformed action fails the
set-up naming the entity and field; a run that fails raises ``ActionError`` naming the
entity and the engine's reason, so the service call that pressed the button fails too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gatehouse.core import Context, Host
from gatehouse.integrations.script.api import Script, ScriptConfigError

from .errors import ActionError, TemplateEntityError

#: Concurrent runs of one action list (a switch toggled repeatedly).
_MAX_RUNS = 100


class Actions:
    """One compiled action sequence of one entity."""

    def __init__(self, host: Host, sequence: Any, owner: str) -> None:
        self.owner = owner
        try:
            self._script = Script(host, sequence, domain="script", item_id=owner, name=owner,
                                  mode="parallel", max_runs=_MAX_RUNS, stored_traces=0)
        except ScriptConfigError as err:
            raise TemplateEntityError(f"{owner}: {err}") from err

    async def run(self, variables: Mapping[str, Any], context: Context | None,
                  owner: str) -> None:
        """Run once; ``ActionError`` naming ``owner`` (the entity and field) on failure."""
        result = await self._script.run(variables, context)
        if result.error is not None:
            raise ActionError(f"{owner} failed: {result.error}")
