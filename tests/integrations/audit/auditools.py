"""Shared helpers of the audit tests: a sample log on disk, reading it back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gatehouse.integrations.audit.committer import AuditLog
from gatehouse.integrations.audit.const import CHECKPOINTS_FILE
from gatehouse.integrations.audit.keystore import load_or_create
from gatehouse.integrations.audit.note import Verifier
from gatehouse.integrations.audit.writer import LogWriter, Pending, ensure_dir, log_files

ALICE: dict[str, str | None] = {"user_id": "u1", "name": "alice", "ip": "192.0.2.7"}


def open_writer(directory: Path, max_file_size: int = 4000) -> LogWriter:
    ensure_dir(directory)
    private, verifier = load_or_create(directory)
    writer = LogWriter(directory, private, verifier, max_file_size=max_file_size)
    writer.open()
    return writer


def sample_log(
    directory: Path, records: int = 250, *, checkpoint_every: int = 100,
    max_file_size: int = 4000, final_checkpoint: bool = True,
) -> Verifier:
    """A log of ``records`` records (plus checkpoints), rotated every ~``max_file_size``."""
    writer = open_writer(directory, max_file_size)
    for index in range(records):
        due = (index + 1) % checkpoint_every == 0 or (final_checkpoint and index + 1 == records)
        writer.write_batch([Pending("service.call", ALICE, f"light.l{index % 7}", "ok",
                                    {"n": index})], due)
    writer.close()
    return load_or_create(directory)[1]


def make_log(writer: LogWriter, *, queue_size: int = 10_000, checkpoint_records: int = 1000,
             checkpoint_interval: float = 300.0) -> AuditLog:
    return AuditLog(writer, queue_size=queue_size, checkpoint_records=checkpoint_records,
                    checkpoint_interval=checkpoint_interval)


def read_files(directory: Path) -> list[tuple[str, bytes]]:
    return [(p.name, p.read_bytes()) for p in log_files(directory)]


def checkpoints_bytes(directory: Path) -> bytes:
    return (directory / CHECKPOINTS_FILE).read_bytes()


def records(directory: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for _, data in read_files(directory)
            for line in data.splitlines()]


def actions(directory: Path) -> list[str]:
    return [r["action"] for r in records(directory)]
