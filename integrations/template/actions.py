"""The tiny action runner of template switches, numbers and buttons: service calls.

An action is Home Assistant's service call, ``{action: domain.name, target: {...},
data: {...}}`` (``service:`` accepted); string values in ``data`` and ``target`` are
templates rendered with the caller's variables (``value`` for a number, ``this``).
The calls run in order, each awaited; one that fails stops the rest with an
``ActionError`` naming the entity and the service, unless it says
``continue_on_error: true``. The full script engine (delays, conditions, choose...)
is the script integration's; template entities only need this.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from gatehouse.core import Context, Host
from gatehouse.core.helpers import TemplateError, render_template

from .errors import ActionError

_LOGGER = logging.getLogger(__name__)


def render_complex(host: Host, value: Any, variables: Mapping[str, Any]) -> Any:
    """``value`` with every string in it rendered as a template (native results)."""
    if isinstance(value, str):
        return render_template(host, value, variables)
    if isinstance(value, Mapping):
        return {key: render_complex(host, item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [render_complex(host, item, variables) for item in value]
    return value


async def run_actions(
    host: Host,
    actions: Sequence[Mapping[str, Any]],
    variables: Mapping[str, Any],
    *,
    owner: str,
    context: Context | None = None,
) -> None:
    """Call each service of ``actions`` in turn (module docstring)."""
    for action in actions:
        name = str(action.get("action", action.get("service")))
        domain, _, service = name.partition(".")
        try:
            data = dict(render_complex(host, action.get("data") or {}, variables))
            target = render_complex(host, action.get("target") or {}, variables)
            if "entity_id" in action:
                data["entity_id"] = render_complex(host, action["entity_id"], variables)
            if isinstance(target, Mapping):
                data.update(target)
            await host.services.call(domain, service, data, blocking=True, context=context)
        except (TemplateError, Exception) as err:
            if action.get("continue_on_error"):
                _LOGGER.warning("%s: action %s failed, continuing: %s", owner, name, err)
                continue
            raise ActionError(f"{owner}: action {name} failed: {err}") from err
