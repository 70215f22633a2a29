"""``AutomationRuntime``: the automations of the loaded entry, and the broken ones."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gatehouse.integrations.script.api import Item

if TYPE_CHECKING:
    from .automation import Automation


@dataclass(eq=False)
class AutomationRuntime:
    """``automations`` by id; ``invalid`` those that did not compile (with why)."""

    automations: dict[str, Automation] = field(default_factory=dict)
    invalid: list[Item] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    disabled: set[str] = field(default_factory=set)
