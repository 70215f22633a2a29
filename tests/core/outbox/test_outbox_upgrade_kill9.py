"""kill -9 in the middle of the schema upgrade: the file stays version 1, intact.

The upgrade to version 2 (priorities) runs in one transaction. With a backlog big
enough, building the new index spills pages into the WAL before the commit; the child
is killed once more than a megabyte of them is there, while a reader still sees
version 1. SQLite must then ignore those uncommitted frames: the next open sees the old
file, upgrades it and finds every message.
"""

from __future__ import annotations

import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from outboxtools import write_v1_database

from gatehouse.core.outbox.store import SCHEMA_VERSION, OutboxStore

pytestmark = pytest.mark.timeout(120)

BULK = 300_000
SPILLED = 1_000_000
"""Bytes of uncommitted WAL frames that prove the kill landed inside the upgrade."""

CHILD = (
    "import sys\n"
    "from gatehouse.core.outbox.store import OutboxStore\n"
    "store = OutboxStore(sys.argv[1])\n"
    "print('OPENING', flush=True)\n"
    "store.open()\n"
    "print('OPEN', flush=True)\n"
)


def version_and_columns(db: Path) -> tuple[int, set[str], int, int]:
    conn = sqlite3.connect(db)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        names = {row[1] for row in conn.execute("PRAGMA table_info(messages)")}
        (queued,) = conn.execute("SELECT count(*) FROM messages").fetchone()
        (dead,) = conn.execute("SELECT count(*) FROM dead_letters").fetchone()
        return version, names, queued, dead
    finally:
        conn.close()


def kill_during_upgrade(db: Path) -> int | None:
    """Start an upgrade in a child and SIGKILL it once its transaction has spilled
    into the WAL; the WAL's size at the kill. None when the child got through the
    upgrade before that (a loaded machine)."""
    wal = Path(f"{db}-wal")
    with subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    ) as child:
        assert child.stdout is not None
        assert child.stdout.readline() == b"OPENING\n"
        deadline = time.monotonic() + 60
        # Polling a file size: nothing else can tell from outside that SQLite is
        # halfway through writing a transaction, and the window is a fraction of a
        # second, so the poll is tight.
        while not (wal.exists() and wal.stat().st_size > SPILLED):
            if child.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.0005)
        size = wal.stat().st_size if wal.exists() else 0
        child.send_signal(signal.SIGKILL)
        code = child.wait()
    # The reader below sees committed data only: version 1 means the kill was in time.
    if code != -signal.SIGKILL or size <= SPILLED or version_and_columns(db)[0] != 1:
        return None
    return size


def test_kill_9_during_the_upgrade_leaves_version_1_and_the_next_open_upgrades(
    tmp_path: Path,
) -> None:
    template = tmp_path / "template" / "outbox.db"
    write_v1_database(template, bulk=BULK)
    db = tmp_path / "config" / "outbox.db"
    for _attempt in range(3):
        shutil.rmtree(db.parent, ignore_errors=True)
        db.parent.mkdir()
        shutil.copy(template, db)
        spilled = kill_during_upgrade(db)
        if spilled is not None:
            break
    else:
        pytest.fail("three children finished the upgrade before they could be killed")

    # What the killed upgrade left: version 1, every row, no trace of the new column,
    # although more than a megabyte of its frames had reached the WAL.
    assert spilled > SPILLED
    version, names, queued, dead = version_and_columns(db)
    assert (version, "priority" in names, queued, dead) == (1, False, BULK + 3, 1)

    store = OutboxStore(db)
    store.open()
    try:
        assert store.tally("bulk").count == BULK
        assert store.tally("d").count == 3
        assert store.tally("d").dead == 1
        batch, _ = store.fetch("d", 10, now=2000.0)
        assert [(m.payload, m.priority, m.attempts) for m in batch] == [
            (b"old0", 0, 2), (b"old1", 0, 0), (b"old2", 0, 0),
        ]
    finally:
        store.close()
    version, names, queued, dead = version_and_columns(db)
    assert (version, "priority" in names, queued, dead) == (SCHEMA_VERSION, True, BULK + 3, 1)
