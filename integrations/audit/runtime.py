"""``AuditRuntime``: what a loaded audit entry holds, and how it opens its log.

Opening is blocking (key generation, reading the last line, fsync of the directory)
and runs in a worker thread. The writer task, the listeners and the schema_guard
summary loop are started by ``setup_entry``; ``close`` (from ``unload_entry``) writes
what is queued and signs a final checkpoint before the task is cancelled.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from .committer import AuditLog
from .const import (
    CONF_CHECKPOINT_INTERVAL,
    CONF_CHECKPOINT_RECORDS,
    CONF_MAX_FILE_SIZE,
    CONF_MAX_TOTAL_SIZE,
    CONF_QUEUE_SIZE,
    CONF_SUMMARY_INTERVAL,
    DEFAULT_MAX_TOTAL_SIZE,
)
from .keystore import load_or_create
from .listeners import AuditListeners
from .publish import CheckpointPublisher
from .writer import LogWriter, ensure_dir, log_files


def _open_writer(directory: Path, max_file_size: int,
                 max_total_size: int | None = None) -> LogWriter:
    ensure_dir(directory)
    private, verifier = load_or_create(directory, log_exists=bool(log_files(directory)))
    writer = LogWriter(directory, private, verifier, max_file_size=max_file_size,
                       max_total_size=max_total_size)
    writer.open()
    return writer


class AuditRuntime:
    """A loaded audit entry: its directory, log and listeners."""

    def __init__(self, config: Mapping[str, Any], directory: Path, log: AuditLog) -> None:
        self.config = config
        self.directory = directory
        self.log = log
        self.listeners: AuditListeners | None = None
        self.publisher: CheckpointPublisher | None = None
        #: Held while ``browse.verify_now`` walks the files.
        self.verify_lock = anyio.Lock()

    @classmethod
    async def open(cls, config: Mapping[str, Any], directory: Path) -> AuditRuntime:
        writer = await anyio.to_thread.run_sync(
            _open_writer, directory, int(config[CONF_MAX_FILE_SIZE]),
            int(config.get(CONF_MAX_TOTAL_SIZE, DEFAULT_MAX_TOTAL_SIZE)),
        )
        log = AuditLog(
            writer, queue_size=int(config[CONF_QUEUE_SIZE]),
            checkpoint_records=int(config[CONF_CHECKPOINT_RECORDS]),
            checkpoint_interval=float(config[CONF_CHECKPOINT_INTERVAL]),
        )
        return cls(config, directory, log)

    async def summaries(self) -> None:
        """Every ``summary_interval``: schema_guard's rejections since the last one."""
        interval = float(self.config[CONF_SUMMARY_INTERVAL])
        while True:
            await anyio.sleep(interval)
            if self.listeners is not None:
                self.listeners.summarise()

    def diagnostics(self) -> dict[str, Any]:
        found = {"directory": str(self.directory), **self.log.diagnostics()}
        if self.publisher is not None:
            found["publish"] = self.publisher.diagnostics()
        return found
