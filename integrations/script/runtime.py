"""``ScriptRuntime``: the scripts of the loaded entry and the ones that failed to load."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .items import Item
from .runner import Script

if TYPE_CHECKING:
    from .entity import ScriptEntity


@dataclass(eq=False)
class LoadedScript:
    item: Item
    script: Script
    entity: ScriptEntity


@dataclass(eq=False)
class ScriptRuntime:
    """``scripts`` by key; ``invalid`` the items that did not compile (with why)."""

    scripts: dict[str, LoadedScript] = field(default_factory=dict)
    invalid: list[Item] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
