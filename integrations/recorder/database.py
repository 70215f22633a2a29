"""The SQLite file: opening it (moving a corrupt one aside), writing batches, purging.

Used by the writer thread only (``writer.py``); queries open their own read-only
connections (``queries.py``), which WAL lets run beside the writer.

**Opening.** ``Database.open`` checks that the file is a database of a schema this
code knows: a newer schema raises ``SchemaTooNewError`` (refused, clearly, never
touched); an older one is migrated forward; a file SQLite calls corrupt ("file is not
a database", "malformed") is renamed ``<name>.corrupt-<UTC time>`` (with its -wal and
-shm) and a new database is started, with one ERROR line naming both files. If even
the new file cannot be opened, ``DatabaseUnusableError``: the entry fails, the host
keeps running (no crash loop).

**Writing.** ``write`` takes the ``StateRow`` tuples and ``Event`` objects the loop queued and
commits them in one transaction: entity ids, event types, attribute and event-data
JSON are stored once and referenced (looked up through bounded caches; cleared when a
transaction fails or a purge may have deleted what they point at). States of a
sensitive entity are sealed with the tag cipher (state and attributes together).

**Durability.** WAL with ``synchronous=NORMAL``: a committed transaction survives the
process being killed (it is in the OS's page cache and the WAL); only a power cut can
lose the last commits. So ``kill -9`` loses what was still queued in memory: at most
one commit interval.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import math
import os
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gatehouse.core import Event, State
from gatehouse.core.helpers import TagCipher

from . import schema
from .errors import DatabaseUnusableError, SchemaTooNewError
from .statistics import StatisticsCompiler

_LOGGER = logging.getLogger(__name__)

#: Bounded caches (distinct attribute/event-data values remembered by the writer).
CACHE_SIZE = 16_384
#: Rows deleted per purge transaction, so a purge never holds the writer long.
PURGE_CHUNK = 20_000
#: Rows prepared between two short sleeps of the writer thread. Preparing is Python
#: work under the GIL; without a pause the loop's thread could wait up to the
#: interpreter's switch interval (5 ms) for it. A sleep hands the GIL over at once.
YIELD_EVERY = 256
YIELD_SECONDS = 0.00005


def dumps(value: Any) -> str:
    """Canonical compact JSON: equal mappings give equal text (de-duplication key)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str,
                      ensure_ascii=False)


#: A state as the loop queues it: ``(entity_id, state, last_changed, last_updated,
#: context user id, key1, value1, key2, value2, ...)``, one flat tuple of plain values.
#: Not the ``State``: it (and its attributes proxy) stays visible to the garbage
#: collector while queued, and 20,000 of them a second reaching the oldest generation
#: made full collections of hundreds of milliseconds on the loop. A tuple holding only
#: strings and numbers leaves the collector's view at its first pass; a dict or a
#: nested tuple in it would keep it in view for a pass or for good, hence flat
#: (``bench_recorder.py``, "longest GC").
StateRow = tuple[Any, ...]
_FLAT = itertools.chain.from_iterable


def state_row(state: State) -> StateRow:
    """What the loop queues for ``state`` (well under a microsecond)."""
    context = state._context  # made lazily: ``state.context`` would make one
    return (state.entity_id, state.state, state.last_changed, state.last_updated,
            context.user_id if context is not None else None,
            *_FLAT(state.attributes.items()))


class InitialStates:
    """The states that exist when the recorder starts (queued once, first).

    Entries set up before the recorder (and its own reloads) make states the bus
    listener never saw, so history began with the first change after start and had no
    value before it. Each row is written unless the database already holds that
    entity's state with the same or a later ``last_updated`` (a reload).
    """

    __slots__ = ("rows",)

    def __init__(self, rows: list[StateRow]) -> None:
        self.rows = rows


def _attributes_of(items: tuple[Any, ...]) -> dict[str, Any]:
    return dict(zip(items[::2], items[1::2], strict=True))


def text_hash(text: str) -> int:
    """A 63-bit hash of the JSON (an index key; equality is checked on the text)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big") >> 1


def is_corruption(err: BaseException) -> bool:
    message = str(err).lower()
    return isinstance(err, sqlite3.DatabaseError) and (
        "not a database" in message or "malformed" in message or "corrupt" in message)


def is_disk_full(err: BaseException) -> bool:
    message = str(err).lower()
    return "disk is full" in message or "database or disk is full" in message \
        or (isinstance(err, OSError) and err.errno == 28)


def connect(path: Path, *, max_page_count: int | None = None) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                           timeout=30.0)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=OFF")
    if max_page_count is not None:
        conn.execute(f"PRAGMA max_page_count={int(max_page_count)}")
    return conn


def move_aside(path: Path) -> Path:
    """Rename ``path`` (and its -wal/-shm) to ``<name>.corrupt-<UTC time>``."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    os.replace(path, target)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            os.replace(side, target.with_name(target.name + suffix))
    return target


def _open_checked(path: Path, max_page_count: int | None) -> sqlite3.Connection:
    conn = connect(path, max_page_count=max_page_count)
    try:
        found = schema.current_version(conn)
        now = time.time()
        if found is None:
            schema.create(conn, now)
        elif found > schema.SCHEMA_VERSION:
            raise SchemaTooNewError(
                f"recorder database {path} has schema version {found}, newer than this "
                f"Gatehouse supports ({schema.SCHEMA_VERSION}); it was left untouched: "
                "upgrade Gatehouse, or move the file aside to start a new one")
        elif found < schema.SCHEMA_VERSION:
            schema.migrate(conn, found, now, lambda line: _LOGGER.warning("%s", line))
        conn.execute("SELECT COUNT(*) FROM states_meta").fetchone()
        conn.execute("PRAGMA quick_check(1)").fetchone()
    except BaseException:
        conn.close()
        raise
    return conn


class Database:
    """The writer's connection and what it caches (see the module docstring)."""

    def __init__(self, path: Path, conn: sqlite3.Connection,
                 cipher: TagCipher | None = None, *, moved_aside: Path | None = None) -> None:
        self.path = path
        self.conn = conn
        self.cipher = cipher
        #: Where a corrupt file was moved when this database was started (or None).
        self.moved_aside = moved_aside
        self.statistics = StatisticsCompiler()
        self._meta: dict[str, int] = {}
        self._event_types: dict[str, int] = {}
        self._attrs: dict[str, int] = {}
        self._data: dict[str, int] = {}
        #: Per entity: the attribute items last stored, their id, whether they say
        #: ``state_class: measurement``, and as a dict (most states keep their
        #: attributes; an equality test of the items skips the JSON and the dict).
        self._last_attrs: dict[int, tuple[tuple[Any, ...], int, bool,
                                          Mapping[str, Any]]] = {}
        self._stat_meta: dict[str, int] = {}
        self._measured: dict[int, int] = {}  # states_meta id -> statistics_meta id
        self.run_id = 0
        self.rows_written = 0
        #: The connection is stuck in a transaction it could not roll back: the
        #: writer opens the file again (see ``writer.py``).
        self.broken = False

    @classmethod
    def open(cls, path: Path, cipher: TagCipher | None = None, *,
             max_page_count: int | None = None) -> Database:
        """Open or create ``path`` (see the module docstring); blocking."""
        moved: Path | None = None
        try:
            conn = _open_checked(path, max_page_count)
        except sqlite3.DatabaseError as err:
            if not is_corruption(err):
                raise DatabaseUnusableError(f"recorder database {path}: {err}") from err
            moved = move_aside(path)
            _LOGGER.error(
                "Recorder database %s is corrupt (%s): moved it aside to %s and started a "
                "new, empty database", path, err, moved)
            try:
                conn = _open_checked(path, max_page_count)
            except sqlite3.DatabaseError as again:
                raise DatabaseUnusableError(
                    f"recorder database {path}: a new database could not be started "
                    f"either: {again}") from again
        db = cls(path, conn, cipher, moved_aside=moved)
        db._start_run()
        return db

    def _start_run(self) -> None:
        with self.conn:
            self.conn.execute("UPDATE recorder_runs SET closed_incorrectly = 1, end_ts = "
                              "start_ts WHERE end_ts IS NULL")
            cur = self.conn.execute("INSERT INTO recorder_runs (start_ts) VALUES (?)",
                                    (time.time(),))
            self.run_id = int(cur.lastrowid or 0)

    def close(self) -> None:
        try:
            with self.conn:
                self.conn.execute("UPDATE recorder_runs SET end_ts = ? WHERE run_id = ?",
                                  (time.time(), self.run_id))
        except sqlite3.Error as err:
            _LOGGER.warning("Recorder: could not mark the run as closed: %s", err)
        self.conn.close()

    def forget_caches(self) -> None:
        """After a failed transaction or a purge: ids in the caches may not exist."""
        self._meta.clear()
        self._event_types.clear()
        self._attrs.clear()
        self._data.clear()
        self._last_attrs.clear()
        self._stat_meta.clear()
        self._measured.clear()

    # -- ids -------------------------------------------------------------------------

    def _metadata_id(self, entity_id: str) -> int:
        found = self._meta.get(entity_id)
        if found is not None:
            return found
        found = self._meta[entity_id] = self._name_id(
            "states_meta", "metadata_id", "entity_id", entity_id)
        return found

    def _name_id(self, table: str, id_col: str, name_col: str, name: str) -> int:
        """The id of ``name`` in a name table (``states_meta``, ``event_types``), made
        on first use (the callers cache it)."""
        row = self.conn.execute(f"SELECT {id_col} FROM {table} WHERE {name_col} = ?",
                                (name,)).fetchone()
        if row is not None:
            return int(row[0])
        cur = self.conn.execute(f"INSERT INTO {table} ({name_col}) VALUES (?)", (name,))
        return int(cur.lastrowid or 0)

    def _shared_id(self, cache: dict[str, int], table: str, id_col: str, text_col: str,
                   text: str) -> int:
        found = cache.get(text)
        if found is not None:
            return found
        hashed = text_hash(text)
        row = self.conn.execute(
            f"SELECT {id_col} FROM {table} WHERE hash = ? AND {text_col} = ?",
            (hashed, text)).fetchone()
        if row is None:
            cur = self.conn.execute(
                f"INSERT INTO {table} (hash, {text_col}) VALUES (?, ?)", (hashed, text))
            found = int(cur.lastrowid or 0)
        else:
            found = int(row[0])
        if len(cache) >= CACHE_SIZE:
            cache.clear()
        cache[text] = found
        return found

    def _event_type_id(self, event_type: str) -> int:
        found = self._event_types.get(event_type)
        if found is not None:
            return found
        found = self._event_types[event_type] = self._name_id(
            "event_types", "event_type_id", "event_type", event_type)
        return found

    def _statistic_id(self, entity_id: str, unit: Any) -> int:
        found = self._stat_meta.get(entity_id)
        if found is not None:
            return found
        row = self.conn.execute("SELECT id FROM statistics_meta WHERE statistic_id = ?",
                                (entity_id,)).fetchone()
        unit_text = None if unit is None else str(unit)
        if row is None:
            cur = self.conn.execute(
                "INSERT INTO statistics_meta (statistic_id, unit_of_measurement) VALUES (?, ?)",
                (entity_id, unit_text))
            found = int(cur.lastrowid or 0)
        else:
            found = int(row[0])
            self.conn.execute("UPDATE statistics_meta SET unit_of_measurement = ? WHERE id = ?",
                              (unit_text, found))
        self._stat_meta[entity_id] = found
        return found

    # -- writing ---------------------------------------------------------------------

    def write(self, items: Sequence[StateRow | State | InitialStates | Event[Any]],
              now: float | None = None) -> int:
        """Commit ``items`` (and the statistics they close) in one transaction."""
        conn = self.conn
        states: list[tuple[Any, ...]] = []
        events: list[tuple[Any, ...]] = []
        cipher = self.cipher
        stats = self.statistics
        conn.execute("BEGIN")
        try:
            for index, item in enumerate(items):
                if isinstance(item, tuple):
                    states.append(self._state_row(item, cipher, stats))
                elif isinstance(item, State):
                    states.append(self._state_row(state_row(item), cipher, stats))
                elif isinstance(item, InitialStates):
                    states.extend(self._state_row(row, cipher, stats)
                                  for row in item.rows if self._not_recorded(row))
                else:
                    events.append(self._event_row(item, cipher))
                if index % YIELD_EVERY == YIELD_EVERY - 1:
                    time.sleep(YIELD_SECONDS)
            if states:
                conn.executemany(
                    "INSERT INTO states (metadata_id, state, attributes_id, last_changed_ts,"
                    " last_updated_ts, context_user_id, enc) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    states)
            if events:
                conn.executemany(
                    "INSERT INTO events (event_type_id, data_id, time_fired_ts,"
                    " context_user_id, enc) VALUES (?, ?, ?, ?, ?)", events)
            stats.roll(time.time() if now is None else now)
            short, hourly = stats.take()
            if short:
                conn.executemany(
                    "INSERT OR REPLACE INTO statistics_short_term (metadata_id, start_ts, mean,"
                    " min, max) VALUES (?, ?, ?, ?, ?)", short)
            if hourly:
                conn.executemany(
                    "INSERT OR REPLACE INTO statistics (metadata_id, start_ts, mean, min, max)"
                    " VALUES (?, ?, ?, ?, ?)", hourly)
            conn.execute("COMMIT")
        except BaseException:
            self.forget_caches()
            try:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            except sqlite3.Error as err:  # a full disk can fail the rollback too
                _LOGGER.warning("Recorder: rollback failed (%s); the connection is "
                                "opened again", err)
            if conn.in_transaction:
                self.broken = True
            raise
        self.rows_written += len(states) + len(events)
        return len(states) + len(events)

    def _not_recorded(self, row: StateRow) -> bool:
        """Whether ``row`` is newer than the entity's last recorded state."""
        found = self.conn.execute(
            "SELECT max(last_updated_ts) FROM states WHERE metadata_id = ?",
            (self._metadata_id(row[0]),)).fetchone()
        return found is None or found[0] is None or float(found[0]) < float(row[3])

    def _state_row(self, queued: StateRow, cipher: TagCipher | None,
                   stats: StatisticsCompiler) -> tuple[Any, ...]:
        entity_id, state, last_changed, updated, user = queued[:5]
        items = queued[5:]
        metadata_id = self._metadata_id(entity_id)
        changed = None if last_changed == updated else last_changed
        if cipher is not None and cipher.is_sensitive(entity_id):
            plain = dumps({"s": state, "a": _attributes_of(items)}).encode()
            sealed = cipher.seal(entity_id, plain)
            return (metadata_id, sealed.decode(), None, changed, updated, user, 1)
        if not items:
            return (metadata_id, state, None, changed, updated, user, 0)
        last = self._last_attrs.get(metadata_id)
        if last is not None and last[0] == items:
            attributes_id = last[1]
            if not last[2]:
                return (metadata_id, state, attributes_id, changed, updated, user, 0)
            attributes: Mapping[str, Any] = last[3]
        else:
            attributes = _attributes_of(items)
            attributes_id = self._shared_id(self._attrs, "state_attributes", "attributes_id",
                                            "shared_attrs", dumps(attributes))
            self._last_attrs[metadata_id] = (
                items, attributes_id, attributes.get("state_class") == "measurement",
                attributes)
        if attributes.get("state_class") == "measurement":
            try:
                value = float(state)
            except ValueError:
                pass
            else:
                stat = self._measured.get(metadata_id)
                if stat is None:
                    stat = self._measured[metadata_id] = self._statistic_id(
                        entity_id, attributes.get("unit_of_measurement"))
                stats.add(stat, updated, value)
        return (metadata_id, state, attributes_id, changed, updated, user, 0)

    def _event_row(self, event: Event[Any], cipher: TagCipher | None) -> tuple[Any, ...]:
        type_id = self._event_type_id(str(event.event_type))
        data = dict(event.data)
        user = event.context.user_id
        entity_id = data.get("entity_id")
        if data and cipher is not None and isinstance(entity_id, str) \
                and cipher.is_sensitive(entity_id):
            text = cipher.seal(entity_id, dumps(data).encode()).decode()
            sealed_id = self._shared_id(self._data, "event_data", "data_id", "shared_data",
                                        text)
            return (type_id, sealed_id, event.time_fired, user, 1)
        data_id = self._shared_id(self._data, "event_data", "data_id", "shared_data",
                                  dumps(data)) if data else None
        return (type_id, data_id, event.time_fired, user, 0)

    # -- purging ---------------------------------------------------------------------

    def purge(self, keep_days: float, statistics_keep_days: float,
              now: float | None = None, *, pause: Callable[[], None] | None = None) -> int:
        """Delete states and events older than ``keep_days``, statistics older than
        ``statistics_keep_days``, then the attributes and data nobody references.
        Chunked transactions; ``pause`` runs between them (the writer commits there)."""
        now = time.time() if now is None else now
        cutoff = now - keep_days * 86400.0
        stat_cutoff = now - statistics_keep_days * 86400.0
        deleted = 0
        for table, column, limit in (("states", "last_updated_ts", cutoff),
                                     ("events", "time_fired_ts", cutoff),
                                     ("statistics_short_term", "start_ts", stat_cutoff),
                                     ("statistics", "start_ts", stat_cutoff)):
            key = {"states": "state_id", "events": "event_id"}.get(table, "id")
            while True:
                with self.conn:
                    cur = self.conn.execute(
                        f"DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM {table} "
                        f"WHERE {column} < ? LIMIT ?)", (limit, PURGE_CHUNK))
                deleted += cur.rowcount
                if cur.rowcount < PURGE_CHUNK:
                    break
                if pause is not None:
                    pause()
        with self.conn:
            self._delete_orphans()
            self.conn.execute("DELETE FROM recorder_runs WHERE end_ts < ?", (cutoff,))
        self.forget_caches()
        return deleted

    def _delete_orphans(self) -> None:
        """Attributes and event data no row refers to any more (after a purge or trim;
        in the caller's transaction)."""
        self.conn.execute(
            "DELETE FROM state_attributes WHERE attributes_id NOT IN "
            "(SELECT attributes_id FROM states WHERE attributes_id IS NOT NULL)")
        self.conn.execute(
            "DELETE FROM event_data WHERE data_id NOT IN "
            "(SELECT data_id FROM events WHERE data_id IS NOT NULL)")


    def used_bytes(self) -> int:
        """Bytes in pages that hold data (free pages are reused before the file grows)."""
        pages = self.conn.execute("PRAGMA page_count").fetchone()[0]
        free = self.conn.execute("PRAGMA freelist_count").fetchone()[0]
        size = self.conn.execute("PRAGMA page_size").fetchone()[0]
        return int((pages - free) * size)

    def trim_to(self, max_bytes: int, *, pause: Callable[[], None] | None = None) -> int:
        """Delete the oldest states and events (in chunks) until the used pages fit
        ``max_bytes`` with a tenth to spare; statistics stay. Returns rows deleted."""
        target = max_bytes * 0.9
        deleted = 0
        while (used := self.used_bytes()) > target:
            share = (used - target) / used  # about this share of the rows must go
            round_deleted = 0
            for table, key, column in (("states", "state_id", "last_updated_ts"),
                                       ("events", "event_id", "time_fired_ts")):
                rows = self.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                chunk = max(100, min(PURGE_CHUNK, int(rows * share) + 1))
                with self.conn:
                    cur = self.conn.execute(
                        f"DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM {table} "
                        f"ORDER BY {column} LIMIT ?)", (chunk,))
                round_deleted += cur.rowcount
            with self.conn:
                self._delete_orphans()
            deleted += round_deleted
            if round_deleted == 0:
                break  # only statistics and metadata left: nothing more to give
            if pause is not None:
                pause()
        if deleted:
            self.forget_caches()
        return deleted


def finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
