"""File-system helpers for configuration loading that never raise.

A configuration check must report an unreadable file as an issue, not crash on the
``PermissionError`` that ``Path.is_file()`` re-raises; messages show paths the way the
user wrote them (no symlink resolution), while cycle detection compares the real files.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["normalize_path", "path_kind", "real_path", "secret_dirs"]


def path_kind(path: Path) -> str:
    """``"file"``, ``"dir"``, ``"missing"`` or ``"unreadable"``, without raising.

    ``Path.is_file()`` re-raises permission errors; a config check must not.
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "missing"
    except (OSError, ValueError):
        return "unreadable"
    if stat.S_ISDIR(mode):
        return "dir"
    return "file" if stat.S_ISREG(mode) else "unreadable"


def real_path(path: Path) -> Path:
    """``path`` with symlinks resolved (for identity checks); as is if that fails."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # RuntimeError: symlink loop on Python 3.11
        return path


def normalize_path(path: Path) -> Path:
    """Absolute, ``..``-free path without resolving symlinks (messages stay readable)."""
    return Path(os.path.normpath(path.absolute()))


def secret_dirs(start: Path, root: Path) -> list[Path]:
    """Directories searched for ``secrets.yaml``: ``start``, then up to ``root``.

    Like Home Assistant, a file in ``packages/`` may have its own ``secrets.yaml`` and
    falls back to the one next to ``configuration.yaml``. A file outside the config
    directory only looks next to itself and in the root.
    """
    if start == root:
        return [root]
    if root not in start.parents:
        return [start, root]
    dirs = [start]
    while dirs[-1] != root:
        dirs.append(dirs[-1].parent)
    return dirs
