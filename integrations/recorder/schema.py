"""The database schema, versioned, with forward migrations only.

Laid out as Home Assistant's recorder (``homeassistant/components/recorder/db_schema.py``)
so an operator who knows it finds the same tables: ``states`` reference
``states_meta`` (the entity id once) and ``state_attributes`` (the attributes JSON once
per distinct value, found by ``hash``); ``events`` reference ``event_types`` and
``event_data`` the same way. Times are POSIX seconds (``*_ts``), ``last_changed_ts`` is
NULL when it equals ``last_updated_ts`` (most rows), as in HA.

Ours: ``states.enc`` is 1 when ``state`` holds a sealed envelope (a sensitive entity:
state and attributes encrypted together, no shared attributes row that could leak);
``events.enc`` likewise for ``event_data``. No index on ``states.attributes_id`` (HA
has one): it cost a third of each insert, and only the daily purge's orphan sweep
would use it, which scans once instead.

``SCHEMA_VERSION`` is written into ``schema_changes`` on creation and by each
migration. A database of a newer version is refused (never "downgraded"): opening it
would corrupt what the newer recorder expects.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Final

SCHEMA_VERSION: Final = 2

#: Version 1: states, attributes, events, runs.
_V1: Final = (
    """CREATE TABLE schema_changes (
        change_id INTEGER PRIMARY KEY, schema_version INTEGER NOT NULL,
        changed_ts REAL NOT NULL)""",
    """CREATE TABLE recorder_runs (
        run_id INTEGER PRIMARY KEY, start_ts REAL NOT NULL, end_ts REAL,
        closed_incorrectly INTEGER NOT NULL DEFAULT 0)""",
    """CREATE TABLE states_meta (
        metadata_id INTEGER PRIMARY KEY, entity_id TEXT NOT NULL UNIQUE)""",
    """CREATE TABLE state_attributes (
        attributes_id INTEGER PRIMARY KEY, hash INTEGER NOT NULL, shared_attrs TEXT NOT NULL)""",
    "CREATE INDEX ix_state_attributes_hash ON state_attributes (hash)",
    """CREATE TABLE states (
        state_id INTEGER PRIMARY KEY, metadata_id INTEGER NOT NULL,
        state TEXT, attributes_id INTEGER, last_changed_ts REAL,
        last_updated_ts REAL NOT NULL, context_user_id TEXT,
        enc INTEGER NOT NULL DEFAULT 0)""",
    "CREATE INDEX ix_states_metadata_id_last_updated_ts ON states (metadata_id, last_updated_ts)",
    "CREATE INDEX ix_states_last_updated_ts ON states (last_updated_ts)",
    """CREATE TABLE event_types (
        event_type_id INTEGER PRIMARY KEY, event_type TEXT NOT NULL UNIQUE)""",
    """CREATE TABLE event_data (
        data_id INTEGER PRIMARY KEY, hash INTEGER NOT NULL, shared_data TEXT NOT NULL)""",
    "CREATE INDEX ix_event_data_hash ON event_data (hash)",
    """CREATE TABLE events (
        event_id INTEGER PRIMARY KEY, event_type_id INTEGER NOT NULL, data_id INTEGER,
        time_fired_ts REAL NOT NULL, context_user_id TEXT, enc INTEGER NOT NULL DEFAULT 0)""",
    "CREATE INDEX ix_events_time_fired_ts ON events (time_fired_ts)",
    "CREATE INDEX ix_events_data_id ON events (data_id)",
)

#: Version 2: long-term statistics (5-minute and hourly mean/min/max).
_V2: Final = (
    """CREATE TABLE statistics_meta (
        id INTEGER PRIMARY KEY, statistic_id TEXT NOT NULL UNIQUE,
        unit_of_measurement TEXT)""",
    """CREATE TABLE statistics_short_term (
        id INTEGER PRIMARY KEY, metadata_id INTEGER NOT NULL, start_ts REAL NOT NULL,
        mean REAL, min REAL, max REAL, UNIQUE (metadata_id, start_ts))""",
    """CREATE TABLE statistics (
        id INTEGER PRIMARY KEY, metadata_id INTEGER NOT NULL, start_ts REAL NOT NULL,
        mean REAL, min REAL, max REAL, UNIQUE (metadata_id, start_ts))""",
    "CREATE INDEX ix_statistics_short_term_start_ts ON statistics_short_term (start_ts)",
    "CREATE INDEX ix_statistics_start_ts ON statistics (start_ts)",
)

#: Statements that bring a database of version ``n - 1`` to version ``n``.
MIGRATIONS: Final[dict[int, tuple[str, ...]]] = {2: _V2}
#: The statements of each version from scratch (tests build old databases with it).
VERSIONS: Final[dict[int, tuple[str, ...]]] = {1: _V1, 2: _V2}


def current_version(conn: sqlite3.Connection) -> int | None:
    """The schema version written in the database; None for an empty database."""
    found = conn.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name='schema_changes'"
    ).fetchone()
    if found is None:
        return None
    row = conn.execute("SELECT MAX(schema_version) FROM schema_changes").fetchone()
    return int(row[0]) if row and row[0] is not None else None


def create(conn: sqlite3.Connection, now: float, version: int = SCHEMA_VERSION) -> None:
    """Make an empty database of ``version`` (the newest unless a test asks)."""
    with conn:
        for step in range(1, version + 1):
            for statement in VERSIONS[step]:
                conn.execute(statement)
        conn.execute("INSERT INTO schema_changes (schema_version, changed_ts) VALUES (?, ?)",
                     (version, now))


def migrate(conn: sqlite3.Connection, found: int, now: float,
            log: Callable[[str], None]) -> None:
    """Apply each migration after ``found``, one transaction each (a crash between
    two leaves a database of a known intermediate version)."""
    for version in range(found + 1, SCHEMA_VERSION + 1):
        log(f"migrating the recorder database from schema {version - 1} to {version}")
        with conn:
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_changes (schema_version, changed_ts) VALUES (?, ?)",
                (version, now))
