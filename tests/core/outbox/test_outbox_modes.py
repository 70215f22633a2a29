"""File modes of the outbox (issue 9): pending payloads are for the owner's eyes only.

The outbox database holds every message not yet delivered (payloads, headers). It was
created 0644 in a 0755 ``.storage/`` while the JSON stores next to it were 0600, so
any local user could read what was queued. SQLite gives the ``-wal`` and ``-shm``
files the database file's mode, so the database is created 0600 before SQLite opens
it, and an existing installation's looser files are tightened when it is opened.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from gatehouse.core import ConfigEntry
from gatehouse.core.outbox import DeliveryOutcome, OutboxMessage, get_outbox
from gatehouse.core.outbox.store import OutboxStore
from gatehouse.core.testing import make_host


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def outbox_files(db: Path) -> list[Path]:
    return [p for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")) if p.exists()]


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """The common default umask, under which files are created world-readable."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


class _Never:
    async def send(self, batch: Sequence[OutboxMessage]) -> Sequence[DeliveryOutcome]:
        return [DeliveryOutcome.RETRY] * len(batch)


@pytest.mark.anyio
async def test_after_a_host_ran_storage_and_outbox_are_private(
    config_dir: Path, loose_umask: None
) -> None:
    storage = config_dir / ".storage"
    db = storage / "outbox.db"
    host = make_host(config_dir)
    async with host.running():
        # An entry, so that the JSON stores have something to write too.
        await host.config_entries.add(ConfigEntry(domain="demo", title="D", data={"name": "D"}))
        outbox = await get_outbox(host)
        unregister = outbox.register_destination("sink", _Never())
        await outbox.enqueue("sink", b"a pending secret")
        running = outbox_files(db)
        assert {p.name for p in running} == {"outbox.db", "outbox.db-wal", "outbox.db-shm"}
        assert {p.name: mode(p) for p in running} == {p.name: 0o600 for p in running}
        assert mode(storage) == 0o700
        unregister()
    after = outbox_files(db)
    assert db in after
    assert {p.name: mode(p) for p in after} == {p.name: 0o600 for p in after}
    assert mode(storage) == 0o700
    stores = {p.name: mode(p) for p in storage.iterdir() if p.name.startswith("core.")}
    assert "core.config_entries" in stores
    assert stores == dict.fromkeys(stores, 0o600)


def test_an_existing_loose_database_is_made_private_when_opened(
    tmp_path: Path, loose_umask: None
) -> None:
    db = tmp_path / "outbox.db"
    # An installation from before: a WAL database whose files are all 0644 (a reader
    # keeps -wal and -shm in place while we open it).
    other = sqlite3.connect(db)
    other.execute("PRAGMA journal_mode=WAL")
    other.execute("CREATE TABLE t (x)")
    other.execute("INSERT INTO t VALUES (1)")
    other.commit()
    try:
        for path in outbox_files(db):
            path.chmod(0o644)
        assert len(outbox_files(db)) == 3
        store = OutboxStore(db)
        store.open()
        try:
            assert {p.name: mode(p) for p in outbox_files(db)} == {
                "outbox.db": 0o600, "outbox.db-wal": 0o600, "outbox.db-shm": 0o600,
            }
        finally:
            store.close()
    finally:
        other.close()


def test_a_new_database_is_created_private(tmp_path: Path, loose_umask: None) -> None:
    db = tmp_path / "queue" / "outbox.db"
    store = OutboxStore(db)
    store.open()
    try:
        store.conn.execute("CREATE TABLE IF NOT EXISTS probe (x)")
        assert {p.name: mode(p) for p in outbox_files(db)} == {
            p.name: 0o600 for p in outbox_files(db)
        }
        assert Path(f"{db}-wal").exists()
        assert mode(db.parent) == 0o700  # a directory it had to make
    finally:
        store.close()
