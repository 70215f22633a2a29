"""Backups of a config dir: one archive (optionally encrypted), restore into an empty dir.

``gatehouse backup create|restore|list|prune`` (cli.py); the archive layout and the
SQLite snapshots are in archive.py, the passphrase encryption in crypto.py.
"""

from __future__ import annotations

from .archive import FORMAT_VERSION, BackupInfo, create_backup, restore_backup
from .errors import BackupError, BadPassphraseError

__all__ = [
    "FORMAT_VERSION",
    "BackupError",
    "BackupInfo",
    "BadPassphraseError",
    "create_backup",
    "restore_backup",
]
