"""Archives kept in ``<config>/backups``: list them, delete all but the newest N."""

from __future__ import annotations

from pathlib import Path

from .archive import BACKUP_DIR


def list_backups(config_dir: Path) -> list[Path]:
    """Archives in ``<config>/backups``, oldest first (names carry a sortable UTC time)."""
    folder = config_dir / BACKUP_DIR
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("gatehouse-*.tar.gz*")
                  if p.is_file() and not p.name.endswith(".partial"))


def prune(config_dir: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` archives; returns what was deleted."""
    if keep < 1:
        raise ValueError("keep at least one backup")
    doomed = list_backups(config_dir)[:-keep]
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed
