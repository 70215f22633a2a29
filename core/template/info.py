"""What one render produced and read: ``RenderInfo``.

``entities``, ``domains`` and ``all_states`` say which state changes can change the
result (see ``states.py``); ``has_time`` that the clock was read (``now()``...), so the
result can change with time alone. ``rate_limit`` is how often a tracker re-renders at
most: Home Assistant's defaults, once a minute for a template that reads every state,
once a second for one that reads a domain, unlimited for one that reads entities.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from .budget import Collector, TemplateError

#: Seconds between renders of a template that reads every state / a domain.
ALL_STATES_RATE_LIMIT: Final = 60.0
DOMAIN_STATES_RATE_LIMIT: Final = 1.0


@dataclass(frozen=True, slots=True)
class RenderInfo:
    """One render's result (or ``error``) and what it read."""

    result: Any
    entities: frozenset[str]
    domains: frozenset[str]
    all_states: bool
    has_time: bool
    error: TemplateError | None = None

    @classmethod
    def from_collector(
        cls, result: Any, collector: Collector, error: TemplateError | None = None
    ) -> RenderInfo:
        return cls(
            result=result,
            entities=frozenset(collector.entities),
            domains=frozenset(collector.domains),
            all_states=collector.all_states,
            has_time=collector.has_time,
            error=error,
        )

    @property
    def rate_limit(self) -> float:
        """The default rate limit for what this render read (module docstring)."""
        if self.all_states:
            return ALL_STATES_RATE_LIMIT
        if self.domains:
            return DOMAIN_STATES_RATE_LIMIT
        return 0.0

    def reads(self, entity_id: str) -> bool:
        """Whether a change of ``entity_id`` can change the result."""
        return (
            self.all_states
            or entity_id in self.entities
            or entity_id.partition(".")[0] in self.domains
        )
