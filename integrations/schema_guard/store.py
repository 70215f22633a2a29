"""The quarantine's SQLite file: rejected messages, their errors, and their payloads.

Blocking, like every SQLite call; ``writer.py`` runs it in a worker thread, one call at
a time (one connection, one capacity limiter), so the event loop never waits on disk.

* WAL journal, ``synchronous=NORMAL``: a quarantined message is evidence, not a promise
  made to a sender; losing the last commits to a power cut (not to a crash: WAL
  survives that) is the accepted cost of not paying an fsync per round. A caller who
  must know it is on disk before acknowledging (the proxy) awaits ``quarantine()``,
  whose round is committed with ``synchronous=FULL``.
* Payloads up to ``inline_max`` bytes live in the row; bigger ones in a file beside the
  database (``payloads/<id>.bin``, 0600), so the table stays small to scan. Payloads
  over the size limit are kept truncated to their first ``inline_max`` bytes (they can
  never pass, the head is for diagnosis) with their size and SHA-256.
* Every violation is a row of ``errors`` (path, keyword, message): per-path counts and
  "which messages failed at /temp" are index lookups.
* Retention by age and by total size, oldest first, after every round.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

from .errors import QuarantineError, RuleError
from .rules import TopicPattern
from .violation import Violation

SCHEMA_VERSION: Final = 2

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS messages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    received    REAL    NOT NULL,
    topic       TEXT    NOT NULL,
    rule        TEXT,
    schema      TEXT,
    version     INTEGER,
    source      TEXT,
    action      TEXT    NOT NULL,
    size        INTEGER NOT NULL,
    stored      INTEGER NOT NULL,
    sha256      TEXT    NOT NULL,
    payload     BLOB,
    file        TEXT,
    note        TEXT,
    replayed    REAL,
    transport   TEXT
);
CREATE INDEX IF NOT EXISTS messages_by_topic ON messages (topic, id);
CREATE INDEX IF NOT EXISTS messages_by_rule ON messages (rule, id);
CREATE INDEX IF NOT EXISTS messages_by_time ON messages (received);
CREATE TABLE IF NOT EXISTS errors (
    message_id  INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    path        TEXT    NOT NULL,
    keyword     TEXT    NOT NULL,
    message     TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS errors_by_message ON errors (message_id);
CREATE INDEX IF NOT EXISTS errors_by_path ON errors (path, message_id);
"""


def _topic_matches(pattern: str, topic: str) -> bool:
    """SQL ``topic_matches(filter, topic)``: MQTT wildcards in queries (a bad filter
    matches nothing rather than failing the query)."""
    try:
        return _pattern(pattern).match(topic.split("/"))
    except RuleError:
        return False


@lru_cache(maxsize=64)
def _pattern(text: str) -> TopicPattern:
    return TopicPattern.parse(text)


@dataclass(slots=True)
class Entry:
    """A rejected message as it is written (payload already masked if it must be)."""

    received: float
    topic: str
    rule: str | None
    schema: str | None
    version: int | None
    source: str | None
    action: str
    errors: Sequence[Violation]
    size: int
    sha256: str
    payload: bytes | None
    note: str | None = None
    transport: str | None = None


@dataclass(frozen=True, slots=True)
class Filters:
    """Which stored messages a query, purge, export or replay is about."""

    topic: str | None = None
    rule: str | None = None
    path: str | None = None
    since: float | None = None
    until: float | None = None
    replayed: bool | None = None
    ids: tuple[int, ...] | None = None

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if self.topic is not None:
            if "+" in self.topic or "#" in self.topic or "{" in self.topic:
                clauses.append("topic_matches(?, m.topic)")
            else:
                clauses.append("m.topic = ?")
            params.append(self.topic)
        if self.rule is not None:
            clauses.append("m.rule = ?")
            params.append(self.rule)
        if self.path is not None:
            clauses.append("m.id IN (SELECT message_id FROM errors WHERE path = ?)")
            params.append(self.path)
        if self.since is not None:
            clauses.append("m.received >= ?")
            params.append(self.since)
        if self.until is not None:
            clauses.append("m.received < ?")
            params.append(self.until)
        if self.replayed is not None:
            clauses.append("m.replayed IS NOT NULL" if self.replayed else "m.replayed IS NULL")
        if self.ids is not None:
            clauses.append("m.id IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(list(self.ids)))
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


@dataclass(slots=True)
class Totals:
    count: int = 0
    nbytes: int = 0
    inserted: int = 0
    rounds: int = 0
    expired: int = 0
    evicted: int = 0


@dataclass(slots=True)
class Retention:
    max_age: float | None = 7 * 86400.0
    max_bytes: int | None = 256 * 1024 * 1024


@dataclass(slots=True)
class QuarantineStore:
    """Blocking access to the quarantine database (see the module docstring)."""

    path: Path
    inline_max: int = 65_536
    retention: Retention = field(default_factory=Retention)
    totals: Totals = field(default_factory=Totals)
    _conn: sqlite3.Connection | None = None

    @property
    def payload_dir(self) -> Path:
        return self.path.parent / "payloads"

    # -- lifecycle ----------------------------------------------------------------------

    def open(self) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with suppress(FileExistsError):
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            if str(conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]).lower() != "wal":
                raise QuarantineError(f"{self.path}: cannot use WAL journal mode")
            conn.execute("PRAGMA busy_timeout=5000")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise QuarantineError(f"{self.path}: schema version {version} is newer than "
                                      f"this Gatehouse understands ({SCHEMA_VERSION})")
            conn.executescript(_SCHEMA)
            if version == 1:  # before the transport column (phase 2: where it acts)
                columns = {r[1] for r in conn.execute("PRAGMA table_info(messages)")}
                if "transport" not in columns:
                    conn.execute("ALTER TABLE messages ADD COLUMN transport TEXT")
            conn.create_function("topic_matches", 2, _topic_matches, deterministic=True)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            self.totals.count, self.totals.nbytes = conn.execute(
                "SELECT count(*), coalesce(sum(stored), 0) FROM messages").fetchone()
        except sqlite3.Error as err:
            conn.close()
            raise QuarantineError(f"{self.path}: {err}") from err
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with suppress(sqlite3.Error):
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.close()

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise QuarantineError("the quarantine store is not open")
        return self._conn

    # -- writing ------------------------------------------------------------------------

    def _payload_columns(self, entry: Entry) -> tuple[int, bytes | None, str | None]:
        """(bytes stored, inline payload, file name) — writes the file when large."""
        payload = entry.payload
        if payload is None:
            return 0, None, None
        if len(payload) <= self.inline_max:
            return len(payload), payload, None
        self.payload_dir.mkdir(mode=0o700, exist_ok=True)
        name = f"{uuid.uuid4().hex}.bin"
        fd = os.open(self.payload_dir / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
        return len(payload), None, name

    def insert(self, entries: Sequence[Entry], *, durable: bool = False) -> list[int]:
        """Write one round in one transaction; returns the new ids, in order."""
        conn = self.conn
        conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        ids: list[int] = []
        files: list[str] = []
        added = 0
        try:
            conn.execute("BEGIN IMMEDIATE")
            for entry in entries:
                stored, inline, file = self._payload_columns(entry)
                if file is not None:
                    files.append(file)
                added += stored
                cursor = conn.execute(
                    "INSERT INTO messages (received, topic, rule, schema, version, source, "
                    "action, size, stored, sha256, payload, file, note, transport) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (entry.received, entry.topic, entry.rule, entry.schema, entry.version,
                     entry.source, entry.action, entry.size, stored, entry.sha256, inline,
                     file, entry.note, entry.transport),
                )
                row_id = cursor.lastrowid
                assert row_id is not None
                ids.append(row_id)
                conn.executemany(
                    "INSERT INTO errors (message_id, path, keyword, message) VALUES (?, ?, ?, ?)",
                    [(row_id, v.path, v.keyword, v.message) for v in entry.errors],
                )
            conn.execute("COMMIT")
        except BaseException as err:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            for file in files:
                with suppress(OSError):
                    (self.payload_dir / file).unlink()
            if isinstance(err, sqlite3.Error | OSError):
                raise QuarantineError(f"{self.path}: {err}") from err
            raise
        self.totals.count += len(ids)
        self.totals.nbytes += added
        self.totals.inserted += len(ids)
        self.totals.rounds += 1
        self.enforce_retention(time.time())
        return ids

    def enforce_retention(self, now: float) -> int:
        """Delete what is too old, then the oldest until within the size bound."""
        removed = 0
        if self.retention.max_age is not None:
            gone = self._delete("WHERE received < ?", [now - self.retention.max_age])
            self.totals.expired += gone
            removed += gone
        max_bytes = self.retention.max_bytes
        while max_bytes is not None and self.totals.nbytes > max_bytes and self.totals.count:
            excess = self.totals.nbytes - max_bytes
            # the oldest rows whose stored bytes cover the excess, in one statement
            row = self.conn.execute(
                "SELECT id FROM (SELECT id, sum(stored) OVER (ORDER BY id) AS running "
                "FROM messages) WHERE running >= ? ORDER BY id LIMIT 1", (excess,)
            ).fetchone()
            if row is None:
                break
            gone = self._delete("WHERE id <= ?", [row[0]])
            self.totals.evicted += gone
            removed += gone
            if not gone:
                break
        return removed

    def _delete(self, where: str, params: Sequence[Any]) -> int:
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            rows = conn.execute(
                f"DELETE FROM messages {where} RETURNING stored, file", list(params)
            ).fetchall()
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        for _, file in rows:
            if file:
                with suppress(OSError):
                    (self.payload_dir / file).unlink()
        self.totals.count -= len(rows)
        self.totals.nbytes -= sum(stored for stored, _ in rows)
        return len(rows)

    def purge(self, filters: Filters) -> int:
        where, params = filters.where()
        if not where:
            return self._delete("", [])
        return self._delete(f"WHERE id IN (SELECT m.id FROM messages m{where})", params)

    def mark_replayed(self, ids: Sequence[int], at: float) -> None:
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                "UPDATE messages SET replayed = ? WHERE id IN (SELECT value FROM json_each(?))",
                (at, json.dumps(list(ids))),
            )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    # -- reading ------------------------------------------------------------------------

    def payload_of(self, inline: bytes | None, file: str | None) -> bytes | None:
        if inline is not None:
            return bytes(inline)
        if file is None:
            return None
        try:
            return (self.payload_dir / file).read_bytes()
        except OSError:
            return None

    def query(self, filters: Filters, *, limit: int = 100, after_id: int = 0,
              payloads: bool = True) -> list[dict[str, Any]]:
        """Messages matching ``filters`` in id (arrival) order, with their errors."""
        where, params = filters.where()
        glue = " AND " if where else " WHERE "
        rows = self.conn.execute(
            "SELECT m.id, m.received, m.topic, m.rule, m.schema, m.version, m.source, "
            "m.action, m.size, m.stored, m.sha256, m.payload, m.file, m.note, m.replayed, "
            "m.transport "
            f"FROM messages m{where}{glue}m.id > ? ORDER BY m.id LIMIT ?",
            [*params, after_id, limit],
        ).fetchall()
        if not rows:
            return []
        errors: dict[int, list[dict[str, str]]] = {}
        for message_id, path, keyword, message in self.conn.execute(
            "SELECT message_id, path, keyword, message FROM errors WHERE message_id IN "
            "(SELECT value FROM json_each(?)) ORDER BY rowid",
            (json.dumps([r[0] for r in rows]),),
        ):
            errors.setdefault(message_id, []).append(
                {"path": path, "keyword": keyword, "message": message})
        found = []
        for (row_id, received, topic, rule, schema, version, source, action, size, stored,
             sha256, inline, file, note, replayed, transport) in rows:
            item: dict[str, Any] = {
                "id": row_id, "received": received, "topic": topic, "rule": rule,
                "schema": schema, "version": version, "source": source, "action": action,
                "size": size, "stored": stored,
                "truncated": bool(note and note.startswith("truncated")),
                "sha256": sha256, "note": note, "replayed": replayed,
                "errors": errors.get(row_id, []), "transport": transport,
            }
            if payloads:
                item["payload"] = self.payload_of(inline, file)
            found.append(item)
        return found

    def iterate(self, filters: Filters, batch: int = 500) -> Iterator[dict[str, Any]]:
        after = 0
        while True:
            rows = self.query(filters, limit=batch, after_id=after)
            if not rows:
                return
            yield from rows
            after = rows[-1]["id"]

    def path_counts(self, filters: Filters, limit: int = 50) -> list[dict[str, Any]]:
        """The error paths that fail most: (path, keyword, messages), most first."""
        where, params = filters.where()
        rows = self.conn.execute(
            "SELECT e.path, e.keyword, count(DISTINCT e.message_id) AS n FROM errors e "
            f"JOIN messages m ON m.id = e.message_id{where} "
            "GROUP BY e.path, e.keyword ORDER BY n DESC, e.path LIMIT ?",
            [*params, limit],
        ).fetchall()
        return [{"path": p, "keyword": k, "count": n} for p, k, n in rows]


def make_entry(
    *, received: float, topic: str, rule: str | None, schema: str | None,
    version: int | None, source: str | None, action: str, errors: Sequence[Violation],
    payload: bytes, stored: bytes | None, note: str | None = None,
    transport: str | None = None,
) -> Entry:
    """An ``Entry``: ``payload`` is what arrived (sized and hashed), ``stored`` what is
    kept of it (masked, truncated, or None when withheld)."""
    return Entry(received, topic, rule, schema, version, source, action, errors,
                 len(payload), hashlib.sha256(payload).hexdigest(), stored, note, transport)
