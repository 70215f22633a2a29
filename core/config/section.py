"""One section of ``configuration.yaml``, loaded again while the host runs.

``automation.reload`` and ``script.reload`` re-read their section without restarting
the host (Home Assistant's reload services), and the web UI's editor must know which
file a section was ``!include``d from to write back into it. ``check_config`` answers
neither: it validates every section and drops positions. ``load_section`` loads the
file (and what it includes) and hands back the one section *located*, with the file it
came from, leaving validation to the caller: an automation list is validated item by
item, so that one broken automation does not stop the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigIssue
from .nodes import UNRESOLVED, NodeDict, node_location
from .yaml_loader import CONFIG_FILE, _load_tree

__all__ = ["LoadedSection", "describe_location", "load_section"]


@dataclass(frozen=True)
class LoadedSection:
    """``value``: the located section (``None`` when absent or unreadable); ``file``:
    where it was written (the included file, or ``configuration.yaml`` when inline;
    ``None`` when absent); ``issues``: what the loader could not read."""

    value: Any
    file: Path | None
    issues: list[ConfigIssue] = field(default_factory=list)


def load_section(config_dir: Path | str, domain: str) -> LoadedSection:
    """Load ``configuration.yaml`` in ``config_dir`` and return its ``domain`` section.

    Blocking (file I/O): call it from a worker thread in async code. Never raises for
    a configuration problem: the loader's problems are in ``issues``.
    """
    root = Path(config_dir)
    outcome = _load_tree(root / CONFIG_FILE, root)
    tree = outcome.value
    if not isinstance(tree, NodeDict) or domain not in tree:
        return LoadedSection(None, None, list(outcome.issues))
    value = tree[domain]
    if value is UNRESOLVED:
        return LoadedSection(None, None, list(outcome.issues))
    where = node_location(value)
    file = where.file if where is not None else root / CONFIG_FILE
    return LoadedSection(value, file, list(outcome.issues))


def describe_location(value: object) -> str | None:
    """``file:line`` of a located value (for messages), or None if it has no position."""
    where = node_location(value)
    if where is None:
        return None
    return f"{where.file.name}:{where.line}"
