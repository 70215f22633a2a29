"""Configuration problems as data, and the one exception that carries them.

Every problem, whether the YAML could not be read or a value fails its schema, becomes a
:class:`ConfigIssue` that says which file, which line, which key path and what was
expected. They are collected rather than raised one by one, because a user fixing a
configuration wants the whole list at once, not one error per restart. Their ``str`` is
the single line a CLI prints; no traceback is ever part of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..exceptions import GatehouseError

__all__ = ["ConfigInvalid", "ConfigIssue", "format_path", "sorted_issues"]


def format_path(path: Sequence[str | int]) -> str:
    """Render a key path the way users read it: ``demo -> sensors[1] -> unit``.

    List indices attach to the key before them; string keys are joined with arrows.
    """
    text = ""
    for element in path:
        if isinstance(element, int) and not isinstance(element, bool):
            text += f"[{element}]"
        else:
            text += f" -> {element}" if text else str(element)
    return text


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in the configuration.

    ``file`` and ``line`` (1-based) point at the most precise place known: the offending
    key, the list item, or, for a missing key, the mapping that lacks it. Either can be
    ``None`` when no position exists (a missing ``configuration.yaml`` has no line).
    ``path`` is the key path from the top of the configuration, starting with the
    integration domain; ints are list indices. ``message`` is complete, human-readable
    text (including any "did you mean" hint); ``suggestion`` is the machine-readable
    replacement that hint proposes, for tools that want to offer a fix.

    ``root`` is the configuration directory; it only shortens ``file`` when printed
    and takes no part in equality.
    """

    file: Path | None
    line: int | None
    path: tuple[str | int, ...]
    message: str
    domain: str | None = None
    suggestion: str | None = None
    root: Path | None = field(default=None, compare=False, repr=False)

    @property
    def display_file(self) -> str | None:
        """``file`` relative to ``root`` when it lies inside it, else as stored."""
        if self.file is None:
            return None
        if self.root is not None:
            try:
                return self.file.relative_to(self.root).as_posix()
            except ValueError:
                pass
        return str(self.file)

    def __str__(self) -> str:
        parts: list[str] = []
        shown = self.display_file
        if shown is not None:
            parts.append(shown if self.line is None else f"{shown}:{self.line}")
        if self.path:
            parts.append(format_path(self.path))
        # One line, always: a custom validator's message may contain line breaks.
        parts.append(" ".join(self.message.split()))
        return ": ".join(parts)


class ConfigInvalid(GatehouseError):
    """Raised when configuration could not be loaded; carries every issue found.

    ``str()`` of it is a multi-line report meant to be printed as-is, so callers can
    show it without a traceback.
    """

    issues: list[ConfigIssue]

    def __init__(self, issues: Iterable[ConfigIssue]) -> None:
        self.issues = list(issues)
        super().__init__(self.issues)

    def __str__(self) -> str:
        count = len(self.issues)
        noun = "error" if count == 1 else "errors"
        lines = [f"Invalid configuration ({count} {noun}):"]
        lines.extend(f"  {issue}" for issue in self.issues)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"ConfigInvalid({self.issues!r})"


def sorted_issues(
    issues: Iterable[ConfigIssue], file_order: Sequence[Path] = ()
) -> list[ConfigIssue]:
    """Issues in reading order: by file, then line (stable for equal positions).

    Files are ranked by ``file_order`` (the loader passes the order it opened them in,
    so ``configuration.yaml`` comes first and includes follow), others by name after
    those. Sorting is needed because PyYAML fills nested mappings after their parents,
    so issues are *found* out of order; users read files top to bottom.
    """
    rank = {path: index for index, path in reversed(list(enumerate(file_order)))}

    def key(issue: ConfigIssue) -> tuple[int, str, int]:
        file = issue.file
        position = rank.get(file, len(rank)) if file is not None else -1
        return (position, str(file or ""), issue.line or 0)

    return sorted(issues, key=key)
