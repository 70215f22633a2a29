"""Shared helpers for the outbox tests: databases as older versions wrote them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

#: Schema version 1 exactly as the store created it, never to be edited: it is what is
#: on disk in the field, and an upgrade must deliver what it holds.
SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS messages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    destination TEXT    NOT NULL,
    payload     BLOB    NOT NULL,
    headers     TEXT,
    size        INTEGER NOT NULL,
    created     REAL    NOT NULL,
    expires     REAL,
    attempts    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS messages_by_destination ON messages (destination, id);
CREATE INDEX IF NOT EXISTS messages_by_expiry ON messages (destination, expires)
    WHERE expires IS NOT NULL;
CREATE TABLE IF NOT EXISTS dead_letters (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    destination TEXT    NOT NULL,
    payload     BLOB    NOT NULL,
    headers     TEXT,
    size        INTEGER NOT NULL,
    created     REAL    NOT NULL,
    attempts    INTEGER NOT NULL,
    reason      TEXT    NOT NULL,
    dead_at     REAL    NOT NULL
);
CREATE INDEX IF NOT EXISTS dead_letters_by_destination ON dead_letters (destination, id);
"""


def write_v1_database(path: Path, *, bulk: int = 0) -> None:
    """An outbox.db as version 1 left it: three queued messages for ``d`` (the first
    with headers and two earlier attempts), a dead letter, and ``bulk`` more messages
    for ``bulk`` (20-byte payloads ``%020d``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(SCHEMA_V1)
        conn.execute("PRAGMA user_version=1")
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO messages (destination, payload, headers, size, created, expires, "
            "attempts) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                ("d", b"old0", '{"topic":"a"}', 4, 1000.0, None, 2),
                ("d", b"old1", None, 4, 1001.0, None, 0),
                ("d", b"old2", None, 4, 1002.0, None, 0),
            ],
        )
        conn.executemany(
            "INSERT INTO messages (destination, payload, headers, size, created, expires, "
            "attempts) VALUES ('bulk', ?, NULL, 20, 1100.0, NULL, 0)",
            ((b"%020d" % i,) for i in range(bulk)),
        )
        conn.execute(
            "INSERT INTO dead_letters (destination, payload, headers, size, created, "
            "attempts, reason, dead_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            ("d", b"dead0", None, 5, 999.0, 1, "HTTP 400", 999.5),
        )
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
