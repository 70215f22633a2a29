"""Reading the database: history, logbook rows and statistics (blocking; worker threads).

Each call opens its own read-only connection: WAL lets readers run beside the writer
thread without waiting for it, and a slow query never holds the writer's connection.
Rows come back as plain tuples, newest data included up to the last commit; shaping
them into Home Assistant's JSON is ``history.py``/``logbook.py``'s job.

Sealed rows (sensitive entities) are opened here with the cipher when the caller may
read the entity; without a key the row's state is ``None`` and it is marked, never
raised into the API.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gatehouse.core.helpers import DecryptError, KeyMissingError, TagCipher

_LOGGER = logging.getLogger(__name__)

#: Domains whose attribute changes are significant (HA's ``SIGNIFICANT_DOMAINS``).
SIGNIFICANT_DOMAINS = frozenset({"climate", "device_tracker", "humidifier", "thermostat",
                                 "water_heater"})
#: Domains whose every state keeps its attributes in a minimal response (HA's
#: ``NEED_ATTRIBUTE_DOMAINS``).
NEED_ATTRIBUTE_DOMAINS = frozenset({"climate", "humidifier", "input_datetime",
                                    "thermostat", "water_heater"})


#: One stored state: ``(state, attributes key, last_changed, last_updated)``. A plain
#: tuple, straight from SQLite for most rows (a day at 1 Hz is 86,400 of them: an
#: object per row cost more than the query); the key finds the attributes in
#: ``Found.attributes`` (None: none, or not asked for).
Row = tuple[Any, Any, float, float]


@dataclass(slots=True)
class Found:
    """States per entity (in the order asked) and the attributes their rows name."""

    states: dict[str, list[Row]] = field(default_factory=dict)
    attributes: dict[Any, dict[str, Any]] = field(default_factory=dict)


def connect_ro(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30.0,
                           check_same_thread=False)
    conn.execute("PRAGMA query_only=1")
    return conn


def _chunks(items: Sequence[str], size: int = 500) -> Iterable[Sequence[str]]:
    for index in range(0, len(items), size):
        yield items[index:index + size]


def _open_sealed(cipher: TagCipher | None, text: str) -> tuple[str | None, dict[str, Any]]:
    if cipher is None:
        return None, {"encrypted": True}
    try:
        opened = json.loads(cipher.open(text))
    except (KeyMissingError, DecryptError, ValueError) as err:
        _LOGGER.debug("Recorder: a sealed state could not be opened: %s", err)
        return None, {"encrypted": True}
    return str(opened["s"]), dict(opened.get("a") or {})


def _meta_ids(conn: sqlite3.Connection, entity_ids: Sequence[str]) -> dict[int, str]:
    found: dict[int, str] = {}
    for chunk in _chunks(entity_ids):
        marks = ",".join("?" * len(chunk))
        for metadata_id, entity_id in conn.execute(
                f"SELECT metadata_id, entity_id FROM states_meta WHERE entity_id IN ({marks})",
                tuple(chunk)):
            found[int(metadata_id)] = str(entity_id)
    return found


def all_entity_ids(path: Path) -> list[str]:
    conn = connect_ro(path)
    try:
        return [str(r[0]) for r in conn.execute("SELECT entity_id FROM states_meta")]
    finally:
        conn.close()


def states_during(
    path: Path, entity_ids: Sequence[str], start: float, end: float, *,
    cipher: TagCipher | None, significant_only: bool, no_attributes: bool,
    include_start_state: bool = True,
) -> Found:
    """Per entity (in the order asked): its states in [start, end), oldest first,
    preceded (``include_start_state``) by the state it had at ``start``, dated
    ``start`` as Home Assistant does."""
    conn = connect_ro(path)
    try:
        metas = _meta_ids(conn, entity_ids)
        found = Found()
        select = ("SELECT s.state, " + ("NULL" if no_attributes else "s.attributes_id")
                  + ", COALESCE(s.last_changed_ts, s.last_updated_ts), s.last_updated_ts"
                  " FROM states s ")
        for metadata_id, entity_id in sorted(metas.items(),
                                             key=lambda m: entity_ids.index(m[1])):
            significant = significant_only and entity_id.split(".", 1)[0] \
                not in SIGNIFICANT_DOMAINS
            rows: list[Row] = []
            if include_start_state:
                before = conn.execute(
                    select + "WHERE s.metadata_id = ? AND s.last_updated_ts < ? "
                    "ORDER BY s.last_updated_ts DESC LIMIT 1", (metadata_id, start)).fetchone()
                if before is not None:
                    rows.append((before[0], before[1], start, start))
            where = "WHERE s.metadata_id = ? AND s.last_updated_ts >= ? AND s.last_updated_ts < ?"
            if significant:
                where += " AND s.last_changed_ts IS NULL"
            rows += conn.execute(select + where + " ORDER BY s.last_updated_ts",
                                 (metadata_id, start, end)).fetchall()
            if not rows:
                continue
            sealed = conn.execute(
                "SELECT 1 FROM states WHERE metadata_id = ? AND enc = 1 LIMIT 1",
                (metadata_id,)).fetchone()
            if sealed is not None:
                rows = _open_rows(conn, metadata_id, rows, cipher, found, no_attributes)
            found.states[entity_id] = rows
        if not no_attributes:
            _load_attributes(conn, found)
        return found
    finally:
        conn.close()


def _open_rows(conn: sqlite3.Connection, metadata_id: int, rows: list[Row],
               cipher: TagCipher | None, found: Found, no_attributes: bool) -> list[Row]:
    """Rows of an entity that has sealed rows: each sealed one opened (state and
    attributes; the attributes under a key of their own)."""
    sealed = {r[0] for r in conn.execute(
        "SELECT state FROM states WHERE metadata_id = ? AND enc = 1", (metadata_id,))}
    out: list[Row] = []
    for row in rows:
        if row[0] not in sealed:
            out.append(row)
            continue
        state, attributes = _open_sealed(cipher, row[0])
        key = None
        if not no_attributes:
            key = ("sealed", len(found.attributes))
            found.attributes[key] = attributes
        out.append((state, key, row[2], row[3]))
    return out


def _load_attributes(conn: sqlite3.Connection, found: Found) -> None:
    wanted = {key for rows in found.states.values() for _, key, _, _ in rows
              if isinstance(key, int)}
    ids = sorted(wanted)
    for index in range(0, len(ids), 500):
        chunk = ids[index:index + 500]
        for attributes_id, text in conn.execute(
                "SELECT attributes_id, shared_attrs FROM state_attributes WHERE attributes_id "
                f"IN ({','.join('?' * len(chunk))})", chunk):
            found.attributes[attributes_id] = json.loads(text)


#: Rows per page of ``HistoryPages`` (and per piece of the REST answer): ~1-2 ms of
#: reading and as much of encoding; 1,000 to 5,000 measured alike (bench_recorder.py).
PAGE_ROWS = 2000
#: The attributes key of a sealed row in ``HistoryPages`` (the writer gives a sealed
#: row no shared attributes, so a real key is an attributes id >= 1 or None).
SEALED = -1


class HistoryPages:
    """The rows of a history query page by page, for an answer sent while it is read
    (``resttext.rest_text``; a ``RowSource``). Rows are ``Row`` tuples as in ``Found``
    but ``last_changed`` is None where it equals ``last_updated`` (as stored: no
    float made per row) and the key of a sealed row is ``SEALED`` (found by SQL per row,
    no scan of the entity's rows first); attributes are read and encoded per id when
    first met (``resolve``). The same rows, in the same order, as ``states_during``.

    WHY a query per page (keyset: ``last_updated_ts``, then how many rows with that
    time were sent): between pages no read transaction stays open, so a client that
    reads slowly holds no WAL snapshot (checkpoints go on) and no more than a page of
    rows in memory. Rows that share one time are skipped with OFFSET, so thousands
    of rows of one entity at one exact float time would cost a rescan per page; the
    host never writes those (``last_updated`` is its clock's). A row written between
    two pages at a time already passed is not in the answer, as it would not be in a
    snapshot. Blocking: call from a worker thread; ``close`` when done."""

    def __init__(self, path: Path, entity_ids: Sequence[str], start: float, end: float, *,
                 cipher: TagCipher | None, significant_only: bool, no_attributes: bool,
                 include_start_state: bool = True, minimal: bool = False,
                 page_rows: int = PAGE_ROWS,
                 encode: Callable[[Any], str] = json.dumps) -> None:
        self.path = path
        self.entity_ids = list(entity_ids)
        self.start, self.end = start, end
        self.cipher = cipher
        self.significant_only = significant_only
        self.no_attributes = no_attributes
        self.include_start_state = include_start_state
        #: Rows after an entity's first are ``{"state", "last_changed"}``: their
        #: attributes ids are not read (unless the domain keeps them).
        self.minimal = minimal
        self.page_rows = page_rows
        #: How ``resolve`` writes attributes: ``json.dumps`` for REST's text, compact
        #: (``wstext.compact``) for the WebSocket's.
        self.encode = encode
        self._conn: sqlite3.Connection | None = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def entities(self) -> Iterator[tuple[str, Iterator[list[Row]]]]:
        conn = self._conn = connect_ro(self.path)
        metas = _meta_ids(conn, self.entity_ids)
        order = {entity_id: index for index, entity_id in enumerate(self.entity_ids)}
        for metadata_id, entity_id in sorted(metas.items(), key=lambda m: order[m[1]]):
            yield entity_id, self._pages(conn, metadata_id, entity_id)

    def _pages(self, conn: sqlite3.Connection, metadata_id: int,
               entity_id: str) -> Iterator[list[Row]]:
        domain = entity_id.split(".", 1)[0]
        bare = "CASE WHEN s.enc THEN -1 END"
        key = bare if self.no_attributes else "CASE WHEN s.enc THEN -1 ELSE s.attributes_id END"
        later_key = bare if self.minimal and domain not in NEED_ATTRIBUTE_DOMAINS else key

        def select(key_sql: str) -> str:
            return (f"SELECT s.state, {key_sql}, s.last_changed_ts, s.last_updated_ts "
                    "FROM states s WHERE s.metadata_id = ? AND s.last_updated_ts ")

        first = True
        if self.include_start_state:
            before = conn.execute(
                select(key) + "< ? ORDER BY s.last_updated_ts DESC LIMIT 1",
                (metadata_id, self.start)).fetchone()
            if before is not None:
                first = False
                yield [(before[0], before[1], self.start, self.start)]
        rest = ">= ? AND s.last_updated_ts < ?"
        if self.significant_only and domain not in SIGNIFICANT_DOMAINS:
            rest += " AND s.last_changed_ts IS NULL"
        rest += " ORDER BY s.last_updated_ts LIMIT ? OFFSET ?"
        low, skip, size = self.start, 0, self.page_rows
        while True:
            rows: list[Row] = conn.execute(
                select(key if first else later_key) + rest,
                (metadata_id, low, self.end, size, skip)).fetchall()
            if rows:
                yield rows
                first = False
            if len(rows) < size:
                return
            last = rows[-1][3]
            ties = 1
            while ties < len(rows) and rows[-1 - ties][3] == last:
                ties += 1
            if last == low:  # the whole page had the time of the one before
                skip += ties
            else:
                low, skip = last, ties

    def resolve(self, state: Any, key: Any) -> tuple[Any, str, bool]:
        if key is None:
            return state, "{}", True
        if key == SEALED:
            opened, attributes = _open_sealed(self.cipher, state)
            return opened, "{}" if self.no_attributes else self.encode(attributes), False
        assert self._conn is not None
        found = self._conn.execute(
            "SELECT shared_attrs FROM state_attributes WHERE attributes_id = ?",
            (key,)).fetchone()
        return state, self.encode(json.loads(found[0])) if found else "{}", True


@dataclass(slots=True)
class LogRow:
    """A state change or an event, for the logbook."""

    when: float
    entity_id: str | None
    state: str | None
    attributes: dict[str, Any]
    event_type: str | None
    data: dict[str, Any]
    user_id: str | None


def logbook_rows(path: Path, start: float, end: float, entity_ids: Sequence[str] | None,
                 event_types: Sequence[str], cipher: TagCipher | None,
                 limit: int = 100_000) -> list[LogRow]:
    """State changes (not attribute-only updates) and the given event types in
    [start, end), oldest first.

    At most ``limit`` states and ``limit`` events are read (an answer is held whole);
    when either is cut, both are cut at the earlier cut, so that the answer is a
    complete part of the period (not states ending early beside events going on), and
    the cut is logged with how to get the rest."""
    conn = connect_ro(path)
    try:
        out: list[LogRow] = []
        cut: float | None = None  # rows from here on are not all read
        params: list[Any] = [start, end]
        where = ("WHERE s.last_updated_ts >= ? AND s.last_updated_ts < ? "
                 "AND s.last_changed_ts IS NULL")
        if entity_ids is not None:
            metas = _meta_ids(conn, entity_ids)
            if not metas:
                where += " AND 0"
            else:
                where += f" AND s.metadata_id IN ({','.join('?' * len(metas))})"
                params.extend(metas)
        for stored, updated, enc, entity_id, shared in conn.execute(
                "SELECT s.state, s.last_updated_ts, s.enc, m.entity_id, a.shared_attrs "
                "FROM states s JOIN states_meta m ON s.metadata_id = m.metadata_id "
                "LEFT JOIN state_attributes a ON s.attributes_id = a.attributes_id "
                + where + " ORDER BY s.last_updated_ts LIMIT ?", (*params, limit)):
            state: str | None = stored
            if enc:
                state, attributes = _open_sealed(cipher, stored)
            else:
                attributes = json.loads(shared) if shared else {}
            out.append(LogRow(updated, entity_id, state, attributes, None, {}, None))
        if len(out) >= limit:
            cut = out[-1].when
        if event_types:
            marks = ",".join("?" * len(event_types))
            read, last_event = 0, 0.0
            for event_type, fired, enc, shared, user in conn.execute(
                    "SELECT t.event_type, e.time_fired_ts, e.enc, d.shared_data, "
                    "e.context_user_id FROM events e "
                    "JOIN event_types t ON e.event_type_id = t.event_type_id "
                    "LEFT JOIN event_data d ON e.data_id = d.data_id "
                    f"WHERE e.time_fired_ts >= ? AND e.time_fired_ts < ? "
                    f"AND t.event_type IN ({marks}) ORDER BY e.time_fired_ts LIMIT ?",
                    (start, end, *event_types, limit)):
                read += 1
                last_event = fired
                data: dict[str, Any] = {}
                if shared:
                    if enc:
                        if cipher is None:
                            continue
                        try:
                            data = json.loads(cipher.open(shared))
                        except (KeyMissingError, DecryptError, ValueError):
                            continue
                    else:
                        data = json.loads(shared)
                entity_id = data.get("entity_id")
                if entity_ids is not None and entity_id not in entity_ids:
                    continue
                out.append(LogRow(fired, entity_id if isinstance(entity_id, str) else None,
                                  None, {}, event_type, data, user))
            if read >= limit:
                cut = last_event if cut is None else min(cut, last_event)
        out.sort(key=lambda r: r.when)
        if cut is not None:
            out = [row for row in out if row.when < cut]
            _LOGGER.warning(
                "Recorder: logbook cut at %d rows of each kind: entries from %s on are "
                "left out; ask for a shorter period or fewer entities", limit,
                datetime.fromtimestamp(cut, UTC).isoformat())
        return out
    finally:
        conn.close()


def statistics_during(path: Path, statistic_ids: Sequence[str], start: float,
                      end: float, period: str) -> dict[str, list[tuple[float, float | None,
                                                                          float | None,
                                                                          float | None]]]:
    """``(start_ts, mean, min, max)`` per statistic id; ``period`` is ``5minute`` or
    ``hour`` (``day``/``week``/``month`` are folded from the hours)."""
    table = "statistics_short_term" if period == "5minute" else "statistics"
    conn = connect_ro(path)
    try:
        out: dict[str, list[tuple[float, float | None, float | None, float | None]]] = {}
        for chunk in _chunks(list(statistic_ids)):
            marks = ",".join("?" * len(chunk))
            for statistic_id, start_ts, mean, low, high in conn.execute(
                    f"SELECT m.statistic_id, s.start_ts, s.mean, s.min, s.max FROM {table} s "
                    "JOIN statistics_meta m ON s.metadata_id = m.id "
                    f"WHERE m.statistic_id IN ({marks}) AND s.start_ts >= ? AND s.start_ts < ? "
                    "ORDER BY m.statistic_id, s.start_ts", (*chunk, start, end)):
                out.setdefault(statistic_id, []).append((start_ts, mean, low, high))
        return out
    finally:
        conn.close()


def statistic_units(path: Path) -> dict[str, str | None]:
    conn = connect_ro(path)
    try:
        return {str(s): u for s, u in conn.execute(
            "SELECT statistic_id, unit_of_measurement FROM statistics_meta")}
    finally:
        conn.close()
