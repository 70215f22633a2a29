"""Which states are exported, and at which outbox priority.

Both come from the shared helpers (``ENTITY_FILTER_FIELDS``/``entity_filter`` and
``PRIORITY_FIELDS``/``priority_rules`` in ``gatehouse.core.helpers``), so ``include``,
``exclude`` and ``priority`` mean the same here as for every other exporter. They are
looked up by name at import time: while the shared filter is not in the helpers yet,
a stand-in with the same keys (``domains``, ``entities``, ``entity_globs``, device
ids in ``devices``, and ``attributes`` as conditions: ``{attribute: value or
[values]}``; no ``areas``) keeps the integration usable, with a simpler precedence
(an exclude selector always wins), and every state leaves at priority 0.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping
from typing import Any, Final

import voluptuous as vol

import gatehouse.core.helpers as _helpers
from gatehouse.core import Host, State


def _values(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


_SELECTOR: Final = vol.Schema(
    {
        vol.Optional("domains", default=list): [str],
        vol.Optional("entities", default=list): [str],
        vol.Optional("entity_globs", default=list): [str],
        vol.Optional("devices", default=list): [str],
        vol.Optional("attributes", default=dict): {str: _values},
    }
)

_shared_fields: Any = getattr(_helpers, "ENTITY_FILTER_FIELDS", None)
_shared_filter: Any = getattr(_helpers, "entity_filter", None)
_shared_priority_fields: Any = getattr(_helpers, "PRIORITY_FIELDS", None)
_shared_priority: Any = getattr(_helpers, "priority_rules", None)

#: ``include``/``exclude`` keys to splice into the entry's schema.
FILTER_FIELDS: Final[dict[Any, Any]] = (
    dict(_shared_fields)
    if _shared_fields is not None
    else {vol.Optional("include"): _SELECTOR, vol.Optional("exclude"): _SELECTOR}
)
#: ``priority`` rules (nothing while the shared helper is missing).
PRIORITY_FIELDS: Final[dict[Any, Any]] = (
    dict(_shared_priority_fields) if _shared_priority_fields is not None else {}
)


def _selects(host: Host, selector: Mapping[str, Any], entity_id: str) -> bool:
    if (
        entity_id.partition(".")[0] in selector.get("domains", ())
        or entity_id in selector.get("entities", ())
        or any(fnmatch.fnmatchcase(entity_id, g) for g in selector.get("entity_globs", ()))
    ):
        return True
    devices = selector.get("devices")
    if devices:
        entry = host.entity_registry.get(entity_id)
        if entry is not None and entry.device_id in devices:
            return True
    return False


def _has(selector: Mapping[str, Any]) -> bool:
    return any(selector.get(k) for k in ("domains", "entities", "entity_globs", "devices"))


def _attributes_match(selector: Mapping[str, Any], state: State) -> bool:
    wanted = selector.get("attributes") or {}
    return all(state.attributes.get(k) in v for k, v in wanted.items())


def _local_filter(host: Host, config: Mapping[str, Any]) -> Callable[[State], bool]:
    include = config.get("include") or {}
    exclude = config.get("exclude") or {}
    if not include and not exclude:
        return lambda _state: True

    def accept(state: State) -> bool:
        entity_id = state.entity_id
        if _has(exclude) and _selects(host, exclude, entity_id):
            return False
        if _has(include) and not _selects(host, include, entity_id):
            return False
        # Attribute conditions, as the shared filter has them: all must hold.
        if include.get("attributes") and not _attributes_match(include, state):
            return False
        return not (exclude.get("attributes") and _attributes_match(exclude, state))

    return accept


def state_filter(host: Host, config: Mapping[str, Any]) -> Callable[[State], bool]:
    """The entry's filter over states."""
    if _shared_filter is not None:
        chosen: Callable[[State], bool] = _shared_filter(host, config)
        return chosen
    return _local_filter(host, config)


def state_priority(host: Host, config: Mapping[str, Any]) -> Callable[[State], int] | None:
    """The entry's priority rules, or None when it has none (every state at 0)."""
    if _shared_priority is None or not config.get("priority"):
        return None
    rules: Callable[[State], int] = _shared_priority(host, config)
    return rules
