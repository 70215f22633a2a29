"""The outbox's SQLite file: one table of queued messages, one of dead letters.

Every method here is synchronous and blocking; the :class:`~.Outbox` calls them in a
worker thread, one at a time (a capacity limiter of one), so the single connection is
never used concurrently and the event loop never waits on the disk.

Durability choices:

* WAL journal: a commit appends to one file instead of rewriting pages twice, and
  readers never block the writer.
* ``synchronous=FULL`` for every transaction that *accepts* data (enqueue, requeue):
  in WAL mode FULL fsyncs the log at each commit, so a message whose ``enqueue()``
  returned survives kill -9 *and* power loss. NORMAL would only fsync at checkpoints,
  which survives a process crash but can lose the last commits on power loss.
* ``synchronous=NORMAL`` for delivery bookkeeping (attempt counters, deleting acked
  rows, moving rows to the dead letters, expiry): losing such a commit to a power cut
  only means a message is delivered again, which at-least-once allows, and it saves an
  fsync per delivered batch. Because the WAL is append-only, the next FULL commit
  fsyncs these frames too, so ordering on disk is never violated.

Priorities (schema version 2): each row has a ``priority``; a destination's queue is
read in ``(priority DESC, id)`` order through the ``messages_by_priority`` index, whose
columns are declared in that order so the fetch is a plain index scan (no sort, however
long the backlog). Eviction walks the priority levels upwards, oldest first in each,
and the oldest message (for its age) is the oldest of each level's head, one seek per
level present: the same index serves everything, so ``messages_by_destination``
(destination, id) of version 1 is dropped rather than kept up to date on every insert
and delete. Serving rows out of their physical (id) order costs locality: a backlog
with alarms and low-priority messages interleaved in telemetry drains about 1.7 µs
per message slower than a one-priority one (each page is touched once per priority;
``scripts/bench/bench_outbox.py``).

Upgrades run inside one transaction at open (``_MIGRATIONS``): a kill -9 during one
leaves the previous version intact, and the next open runs it again.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..storage import FILE_MODE, make_private_dir, make_private_file
from .models import DeadLetter, OutboxError, OutboxFull, OutboxMessage, OutboxTooNewError

SCHEMA_VERSION = 2

PRIORITY_MIN = -(2**31)
PRIORITY_MAX = 2**31 - 1
"""Priorities are 32-bit signed: anything wider is a caller's bug, refused at enqueue
before it could fail a group commit shared with other callers' messages."""

_RECLAIM_THRESHOLD_PAGES = 256  # 1 MiB with the default page size
_RECLAIM_CHUNK_PAGES = 4096

# AUTOINCREMENT keeps ids from ever being reused once the table empties, so a sender may
# use OutboxMessage.id as an idempotency key at the destination.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    destination TEXT    NOT NULL,
    payload     BLOB    NOT NULL,
    headers     TEXT,
    size        INTEGER NOT NULL,
    created     REAL    NOT NULL,
    expires     REAL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    priority    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS messages_by_priority ON messages (destination, priority DESC, id);
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
    dead_at     REAL    NOT NULL,
    priority    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS dead_letters_by_destination ON dead_letters (destination, id);
"""

# From version n to n + 1; run in the transaction that also applies _SCHEMA. Adding a
# column with a constant default does not rewrite the table, so this is quick even
# with a large backlog; building the new index reads it once.
_MIGRATIONS: Mapping[int, str] = {
    1: """
ALTER TABLE messages ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
ALTER TABLE dead_letters ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
DROP INDEX IF EXISTS messages_by_destination;
""",
}

_FETCH = (
    "SELECT id, payload, headers, created, attempts, priority FROM messages "
    "WHERE destination = ? ORDER BY priority DESC, id LIMIT ?"
)
_LOWEST_LEVEL_ABOVE = (
    "SELECT priority FROM messages WHERE destination = ? AND priority > ? "
    "ORDER BY priority LIMIT 1"
)
_LEVEL_OLDEST_FIRST = (
    "SELECT id, size FROM messages WHERE destination = ? AND priority = ? ORDER BY id"
)
# Downwards, in index order: the next level below ``?`` and its first (oldest) row.
_NEXT_LEVEL_HEAD = (
    "SELECT priority, id, created FROM messages WHERE destination = ? AND priority < ? "
    "ORDER BY priority DESC, id LIMIT 1"
)

HOT_QUERIES: Mapping[str, str] = {
    "fetch": _FETCH,
    "evict: next level": _LOWEST_LEVEL_ABOVE,
    "evict: rows of a level": _LEVEL_OLDEST_FIRST,
    "oldest: next level's head": _NEXT_LEVEL_HEAD,
}
"""The queries that run per batch or per commit; a test checks each is an index scan."""

Row = tuple[str, bytes, str | None, int, float, float | None, int]
"""An enqueued message as inserted: destination, payload, headers JSON, size, created,
expires, priority."""


@dataclass(frozen=True, slots=True)
class Bound:
    """A destination's size bound as the store enforces it."""

    max_messages: int | None
    max_bytes: int | None
    drop_oldest: bool

    def excess(self, count: int, nbytes: int) -> tuple[int, int]:
        """How many messages and bytes are over the bound (0 when within)."""
        over_n = count - self.max_messages if self.max_messages is not None else 0
        over_b = nbytes - self.max_bytes if self.max_bytes is not None else 0
        return max(0, over_n), max(0, over_b)


@dataclass(slots=True)
class Tally:
    """Size of one destination's queue, kept in memory so stats never touch the disk.

    ``count``/``nbytes``/``high``/``head_created`` describe committed rows (``high``:
    those with a priority above 0, for the stats) and are changed only by the store,
    inside the same thread call as the transaction that changed the rows.
    ``pending``/``pending_bytes``/``pending_high``/``pending_since`` describe messages
    accepted by ``enqueue`` and waiting for their group commit; the event loop adds to
    them and the commit moves them over. Both halves change under :attr:`OutboxStore.lock`, so
    ``count + pending`` is exact at every instant, which the ``refuse`` policy relies on.
    """

    count: int = 0
    nbytes: int = 0
    head_created: float | None = None
    high: int = 0
    pending: int = 0
    pending_bytes: int = 0
    pending_high: int = 0
    pending_since: float | None = None
    dead: int = 0


@dataclass(frozen=True, slots=True)
class InsertResult:
    """What a group commit did beyond inserting: evictions per destination."""

    dropped: Mapping[str, int]


def encode_headers(headers: Mapping[str, str] | None) -> str | None:
    """Headers as stored: compact JSON, or NULL for none (the common case)."""
    if not headers:
        return None
    return json.dumps(dict(headers), separators=(",", ":"))


def _id_list(ids: Iterable[int]) -> str:
    """Row ids as one JSON parameter (``json_each``): no limit on how many, one plan."""
    return json.dumps(list(ids))


def _decode_headers(raw: str | None) -> Mapping[str, str]:
    if raw is None:
        return {}
    decoded: dict[str, str] = json.loads(raw)
    return decoded


class OutboxStore:
    """Blocking access to the outbox database; see the module docstring for durability."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.lock = threading.Lock()
        self.tallies: dict[str, Tally] = {}
        self.transactions = 0
        self.enqueue_transactions = 0
        self.enqueued_rows = 0
        self._conn: sqlite3.Connection | None = None
        self._synchronous = ""

    # ----------------------------------------------------------------- lifecycle

    def _make_private(self) -> None:
        """The database and its ``-wal``/``-shm`` files, 0600 (see ``open``)."""
        for path in (self.path, Path(f"{self.path}-wal"), Path(f"{self.path}-shm")):
            make_private_file(path)

    def open(self) -> None:
        """Open (creating if needed) the database and load every destination's tally.

        The queue holds pending payloads, so its files are the owner's only: a new
        database file is created 0600 before SQLite opens it (SQLite gives the ``-wal``
        and ``-shm`` files the database's mode), a missing directory is made 0700, and
        the files of an existing installation are tightened to 0600 if they were not.
        """
        if not self.path.parent.exists():
            make_private_dir(self.path.parent)
        with suppress(FileExistsError):
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
        self._make_private()
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            if conn.execute("PRAGMA user_version").fetchone()[0] == 0:
                # Only possible before the first table exists (and before WAL mode is
                # set): lets a drained backlog give its pages back to the file system.
                conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise OutboxError(f"{self.path}: cannot use WAL journal mode (got {mode})")
            # Another process (a CLI looking at the queue) may hold a lock briefly.
            conn.execute("PRAGMA busy_timeout=5000")
            # After a checkpoint, shrink a WAL that a burst blew up, instead of keeping
            # its high-water mark on a small flash disk forever.
            conn.execute("PRAGMA journal_size_limit=67108864")
            conn.execute("PRAGMA foreign_keys=OFF")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise OutboxTooNewError(
                    f"{self.path}: schema version {version} is newer than this "
                    f"Gatehouse understands ({SCHEMA_VERSION})"
                )
            conn.execute("PRAGMA synchronous=FULL")
            if version != SCHEMA_VERSION:
                # A new file (version 0) gets _SCHEMA as it is; an older one is upgraded.
                upgrades = range(version, SCHEMA_VERSION) if version else range(0)
                steps = "".join(_MIGRATIONS[v] for v in upgrades)
                # One transaction: the upgrade is all there or not at all after a crash.
                try:
                    conn.executescript(
                        f"BEGIN IMMEDIATE;{steps}{_SCHEMA}"
                        f"PRAGMA user_version={SCHEMA_VERSION};COMMIT;"
                    )
                except sqlite3.Error as exc:
                    if not version:
                        raise
                    raise OutboxError(
                        f"{self.path}: cannot upgrade the outbox from schema version "
                        f"{version} to {SCHEMA_VERSION} (the file is left as it was): {exc}"
                    ) from exc
            self._make_private()  # -wal and -shm exist now
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        self._set_synchronous("FULL")
        self._load_tallies()

    def close(self) -> None:
        """Checkpoint and close; safe to call when never opened."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            # Fold the WAL back into the database so the next open starts small.
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass
        finally:
            conn.close()

    @property
    def conn(self) -> sqlite3.Connection:
        """The open connection; raises if the store is closed."""
        if self._conn is None:
            raise OutboxError("outbox store is not open")
        return self._conn

    def tally(self, destination: str) -> Tally:
        """The tally for ``destination``, created empty on first use."""
        with self.lock:
            tally = self.tallies.get(destination)
            if tally is None:
                tally = self.tallies[destination] = Tally()
            return tally

    def _load_tallies(self) -> None:
        conn = self.conn
        rows = conn.execute(
            "SELECT destination, count(*), coalesce(sum(size), 0), "
            "coalesce(sum(priority > 0), 0) FROM messages GROUP BY destination"
        ).fetchall()
        dead = dict(
            conn.execute(
                "SELECT destination, count(*) FROM dead_letters GROUP BY destination"
            ).fetchall()
        )
        with self.lock:
            for destination, count, nbytes, high in rows:
                tally = self.tallies.setdefault(destination, Tally())
                tally.count, tally.nbytes, tally.high = count, nbytes, high
            for destination, count in dead.items():
                self.tallies.setdefault(destination, Tally()).dead = count
        for destination, *_ in rows:
            self._refresh_head(destination)

    # ----------------------------------------------------------------- helpers

    def _set_synchronous(self, level: str) -> None:
        if self._synchronous != level:
            self.conn.execute(f"PRAGMA synchronous={level}")
            self._synchronous = level

    @contextmanager
    def _transaction(self, *, durable: bool) -> Iterator[sqlite3.Connection]:
        """One write transaction; ``durable`` picks synchronous=FULL over NORMAL."""
        conn = self.conn
        self._set_synchronous("FULL" if durable else "NORMAL")
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self.transactions += 1

    def _refresh_head(self, destination: str) -> None:
        """Re-read the creation time of the destination's oldest stored message.

        The oldest is the lowest id, found as the lowest of each priority level's first
        row: one index seek per level present (usually one to three).
        """
        conn = self.conn
        oldest: tuple[int, float] | None = None
        level = PRIORITY_MAX + 1
        while True:
            row = conn.execute(_NEXT_LEVEL_HEAD, (destination, level)).fetchone()
            if row is None:
                break
            level, row_id, created = row
            if oldest is None or row_id < oldest[0]:
                oldest = (row_id, created)
        with self.lock:
            self.tallies.setdefault(destination, Tally()).head_created = (
                None if oldest is None else float(oldest[1])
            )

    def _trim(self, conn: sqlite3.Connection, destination: str, bound: Bound) -> tuple[int, int]:
        """Evict rows until ``destination`` is within ``bound``: lowest priority first,
        oldest first within a priority.

        So an alarm is never evicted while telemetry is queued, and when the queue is
        all alarms the oldest alarm goes (a new telemetry message arriving at a queue
        full of alarms is itself the one evicted). Runs inside the caller's
        transaction, after the new rows were inserted, so the eviction and the insert
        that caused it commit (or vanish) together.
        """
        with self.lock:
            tally = self.tallies.setdefault(destination, Tally())
            count, nbytes = tally.count, tally.nbytes
        excess_n, excess_b = bound.excess(count, nbytes)
        removed = removed_bytes = removed_high = 0
        level = PRIORITY_MIN - 1
        while removed < excess_n or removed_bytes < excess_b:
            row = conn.execute(_LOWEST_LEVEL_ABOVE, (destination, level)).fetchone()
            if row is None:
                break
            level = row[0]
            in_level = 0
            last_id: int | None = None
            cursor = conn.execute(_LEVEL_OLDEST_FIRST, (destination, level))
            for row_id, size in cursor:
                if removed >= excess_n and removed_bytes >= excess_b:
                    break
                removed += 1
                in_level += 1
                removed_bytes += size
                last_id = row_id
            cursor.close()
            if last_id is not None:
                conn.execute(
                    "DELETE FROM messages WHERE destination = ? AND priority = ? AND id <= ?",
                    (destination, level, last_id),
                )
            if level > 0:
                removed_high += in_level
        if removed:
            with self.lock:
                tally.count -= removed
                tally.nbytes -= removed_bytes
                tally.high -= removed_high
        return removed, removed_bytes

    # ----------------------------------------------------------------- enqueue

    def insert(self, rows: Sequence[Row], bounds: Mapping[str, Bound]) -> InsertResult:
        """Durably insert one group commit's rows; evict per ``drop_oldest`` bounds.

        On success the rows move from the tallies' pending half to their stored half;
        on failure nothing changes here and the caller un-counts the pending rows.
        """
        per_destination: dict[str, tuple[int, int, int]] = {}
        for row in rows:
            n, b, h = per_destination.get(row[0], (0, 0, 0))
            per_destination[row[0]] = (n + 1, b + row[3], h + (row[6] > 0))
        dropped: dict[str, int] = {}
        moved = False
        try:
            with self._transaction(durable=True) as conn:
                conn.executemany(
                    "INSERT INTO messages (destination, payload, headers, size, created, "
                    "expires, priority) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
                # Move the rows from pending to stored now, in one step under the lock,
                # so _trim sees the post-insert size and count + pending never counts a
                # row twice (a refuse check racing this commit must not see a phantom).
                moved = True
                with self.lock:
                    for destination, (n, b, h) in per_destination.items():
                        tally = self.tallies.setdefault(destination, Tally())
                        tally.count += n
                        tally.nbytes += b
                        tally.high += h
                        tally.pending -= n
                        tally.pending_bytes -= b
                        tally.pending_high -= h
                        if tally.pending <= 0:
                            tally.pending = tally.pending_bytes = tally.pending_high = 0
                            tally.pending_since = None
                for destination, bound in bounds.items():
                    if bound.drop_oldest and destination in per_destination:
                        evicted, _ = self._trim(conn, destination, bound)
                        if evicted:
                            dropped[destination] = evicted
        except BaseException:
            # Back to "not stored, still pending": the caller releases pending rows.
            self._reload_counts(per_destination)
            if moved:
                with self.lock:
                    for destination, (n, b, h) in per_destination.items():
                        tally = self.tallies[destination]
                        tally.pending += n
                        tally.pending_bytes += b
                        tally.pending_high += h
            raise
        self.enqueue_transactions += 1
        self.enqueued_rows += len(rows)
        for destination in per_destination:
            if destination in dropped or self.tallies[destination].head_created is None:
                self._refresh_head(destination)
        return InsertResult(dropped)

    def _reload_counts(self, destinations: Iterable[str]) -> None:
        """Re-read stored counts after a failed transaction left the tallies unsure."""
        try:
            for destination in destinations:
                count, nbytes, high = self.conn.execute(
                    "SELECT count(*), coalesce(sum(size), 0), coalesce(sum(priority > 0), 0) "
                    "FROM messages WHERE destination = ?",
                    (destination,),
                ).fetchone()
                (dead,) = self.conn.execute(
                    "SELECT count(*) FROM dead_letters WHERE destination = ?",
                    (destination,),
                ).fetchone()
                with self.lock:
                    tally = self.tallies.setdefault(destination, Tally())
                    tally.count, tally.nbytes, tally.high = count, nbytes, high
                    tally.dead = dead
        except sqlite3.Error:
            # The connection itself is failing; the original error is the one to report.
            pass

    # ----------------------------------------------------------------- delivery

    def fetch(self, destination: str, limit: int, now: float) -> tuple[list[OutboxMessage], int]:
        """Drop expired rows, then return the first ``limit`` messages, marked as sent.

        First means highest priority, then lowest id: the batch may span priorities
        but is in queue order, so every priority's messages are a FIFO prefix of that
        priority's queue. The attempt counter is bumped *before* the sender sees the
        batch, so that after a crash mid-send the next process knows these are
        redeliveries. Returns the batch and the number of rows that expired.
        """
        with self._transaction(durable=False) as conn:
            expired = conn.execute(
                "DELETE FROM messages WHERE destination = ? AND expires IS NOT NULL "
                "AND expires <= ? RETURNING size, priority",
                (destination, now),
            ).fetchall()
            rows = conn.execute(_FETCH, (destination, limit)).fetchall()
            if rows:
                conn.execute(
                    "UPDATE messages SET attempts = attempts + 1 "
                    "WHERE id IN (SELECT value FROM json_each(?))",
                    (_id_list(row[0] for row in rows),),
                )
        if expired:
            with self.lock:
                tally = self.tallies.setdefault(destination, Tally())
                tally.count -= len(expired)
                tally.nbytes -= sum(size for size, _ in expired)
                tally.high -= sum(1 for _, priority in expired if priority > 0)
            self._refresh_head(destination)
        elif not rows:
            with self.lock:
                self.tallies.setdefault(destination, Tally()).head_created = None
        batch = [
            OutboxMessage(
                id=row_id,
                destination=destination,
                payload=payload,
                headers=_decode_headers(headers),
                created=created,
                attempts=attempts,
                priority=priority,
            )
            for row_id, payload, headers, created, attempts, priority in rows
        ]
        return batch, len(expired)

    def settle(
        self,
        destination: str,
        ids: Sequence[int],
        rejects: Sequence[tuple[int, str]],
        now: float,
    ) -> int:
        """Remove the settled messages ``ids``; move ``rejects`` (among them) to dead letters.

        By id, not by id range: a batch that spans priorities is not a contiguous id
        range (an alarm has a higher id than the telemetry it overtook). Returns how
        many rows were actually removed (fewer than ``ids`` when the overflow policy
        evicted some of them while they were in flight).
        """
        with self._transaction(durable=False) as conn:
            dead = 0
            for row_id, reason in rejects:
                dead += conn.execute(
                    "INSERT INTO dead_letters (destination, payload, headers, size, created, "
                    "attempts, reason, dead_at, priority) SELECT destination, payload, "
                    "headers, size, created, attempts, ?, ?, priority FROM messages WHERE id = ?",
                    (reason, now, row_id),
                ).rowcount
            removed = conn.execute(
                "DELETE FROM messages WHERE id IN (SELECT value FROM json_each(?)) "
                "RETURNING size, priority",
                (_id_list(ids),),
            ).fetchall()
        with self.lock:
            tally = self.tallies.setdefault(destination, Tally())
            tally.count -= len(removed)
            tally.nbytes -= sum(size for size, _ in removed)
            tally.high -= sum(1 for _, priority in removed if priority > 0)
            tally.dead += dead
            emptied = tally.count == 0
        self._refresh_head(destination)
        if emptied:
            self._reclaim()
        return len(removed)

    def _reclaim(self) -> None:
        """Hand free pages back once a backlog has drained, a bounded chunk at a time.

        Only when a queue just became empty: vacuuming during a drain would shuffle
        pages that the next burst needs again. The file shrinks at the next checkpoint.
        """
        (free,) = self.conn.execute("PRAGMA freelist_count").fetchone()
        if free >= _RECLAIM_THRESHOLD_PAGES:
            self._set_synchronous("NORMAL")
            # executescript steps the pragma to completion; execute() would free a page.
            self.conn.executescript(f"PRAGMA incremental_vacuum({_RECLAIM_CHUNK_PAGES});")
            self.transactions += 1

    # ----------------------------------------------------------------- dead letters

    @staticmethod
    def _filter(
        ids: Iterable[int] | None,
        destination: str | None,
        older_than: float | None = None,
    ) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if ids is not None:
            # One JSON parameter instead of one per id: no limit on how many.
            clauses.append("id IN (SELECT value FROM json_each(?))")
            params.append(json.dumps([int(i) for i in ids]))
        if destination is not None:
            clauses.append("destination = ?")
            params.append(destination)
        if older_than is not None:
            clauses.append("dead_at < ?")
            params.append(older_than)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def dead_letters(self, destination: str | None, limit: int) -> list[DeadLetter]:
        """Dead letters, oldest first."""
        where, params = self._filter(None, destination)
        rows = self.conn.execute(
            "SELECT id, destination, payload, headers, created, attempts, reason, dead_at, "
            f"priority FROM dead_letters{where} ORDER BY id LIMIT ?",
            (*params, limit),
        ).fetchall()
        return [
            DeadLetter(
                id=row_id,
                destination=dest,
                payload=payload,
                headers=_decode_headers(headers),
                created=created,
                attempts=attempts,
                reason=reason,
                dead_at=dead_at,
                priority=priority,
            )
            for row_id, dest, payload, headers, created, attempts, reason, dead_at, priority in rows
        ]

    def requeue(
        self,
        ids: Iterable[int] | None,
        destination: str | None,
        now: float,
        ttls: Mapping[str, float | None],
        bounds: Mapping[str, Bound],
    ) -> tuple[int, dict[str, int], set[str]]:
        """Move dead letters back to the tail of their queues (durably).

        They keep their priority, get new ids (so they sort after everything of their
        priority queued meanwhile) and a fresh TTL from the destination's current
        setting. A ``refuse`` bound that would be
        exceeded raises :class:`OutboxFull` and requeues nothing.
        Returns (requeued count, evictions per destination, destinations touched).
        """
        where, params = self._filter(ids, destination)
        added: dict[str, tuple[int, int, int]] = {}
        dropped: dict[str, int] = {}
        try:
            with self._transaction(durable=True) as conn:
                rows = conn.execute(
                    "SELECT id, destination, payload, headers, size, created, attempts, "
                    f"priority FROM dead_letters{where} ORDER BY id",
                    params,
                ).fetchall()
                for _, dest, _, _, size, _, _, priority in rows:
                    n, b, h = added.get(dest, (0, 0, 0))
                    added[dest] = (n + 1, b + size, h + (priority > 0))
                self._check_refuse(added, bounds)
                for _, dest, payload, headers, size, created, attempts, priority in rows:
                    ttl = ttls.get(dest)
                    expires = None if ttl is None else now + ttl
                    conn.execute(
                        "INSERT INTO messages (destination, payload, headers, size, created, "
                        "expires, attempts, priority) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (dest, payload, headers, size, created, expires, attempts, priority),
                    )
                conn.execute(f"DELETE FROM dead_letters{where}", params)
                with self.lock:
                    for dest, (n, b, h) in added.items():
                        tally = self.tallies.setdefault(dest, Tally())
                        tally.count += n
                        tally.nbytes += b
                        tally.high += h
                        tally.dead -= n
                for dest in added:
                    bound = bounds.get(dest)
                    if bound is not None and bound.drop_oldest:
                        evicted, _ = self._trim(conn, dest, bound)
                        if evicted:
                            dropped[dest] = evicted
        except BaseException:
            self._reload_counts(added)
            raise
        for dest in added:
            self._refresh_head(dest)
        return len(rows), dropped, set(added)

    def _check_refuse(
        self, added: Mapping[str, tuple[int, int, int]], bounds: Mapping[str, Bound]
    ) -> None:
        for dest, (n, b, _) in added.items():
            bound = bounds.get(dest)
            if bound is None or bound.drop_oldest:
                continue
            with self.lock:
                tally = self.tallies.setdefault(dest, Tally())
                over = bound.excess(
                    tally.count + tally.pending + n,
                    tally.nbytes + tally.pending_bytes + b,
                )
            if over != (0, 0):
                raise OutboxFull(dest, "requeueing the dead letters would exceed the bound")

    def purge(
        self,
        ids: Iterable[int] | None,
        destination: str | None,
        older_than: float | None,
    ) -> int:
        """Delete dead letters for good; returns how many."""
        where, params = self._filter(ids, destination, older_than)
        with self._transaction(durable=False) as conn:
            gone = conn.execute(
                f"DELETE FROM dead_letters{where} RETURNING destination", params
            ).fetchall()
        with self.lock:
            for (dest,) in gone:
                self.tallies.setdefault(dest, Tally()).dead -= 1
        return len(gone)
