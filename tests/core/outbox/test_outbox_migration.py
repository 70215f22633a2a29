"""Schema upgrades: an ``outbox.db`` written before priorities still delivers everything.

The outbox database outlives upgrades (a backlog queued by the old version is delivered
by the new one); ``outboxtools.SCHEMA_V1`` is a frozen copy of version 1's DDL.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import anyio
import pytest
from outbox_fakes import ScriptedSender
from outboxtools import write_v1_database

from gatehouse.core.outbox import Outbox, OutboxError
from gatehouse.core.outbox.store import HOT_QUERIES, SCHEMA_VERSION, OutboxStore

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

def columns(path: Path, table: str) -> dict[str, tuple[str, int, str | None]]:
    conn = sqlite3.connect(path)
    try:
        return {
            name: (kind, notnull, default)
            for _, name, kind, notnull, default, _ in conn.execute(f"PRAGMA table_info({table})")
        }
    finally:
        conn.close()


def user_version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


async def test_a_version_1_database_is_migrated_and_delivered(db_path: Path) -> None:
    write_v1_database(db_path)
    assert "priority" not in columns(db_path, "messages")

    sender = ScriptedSender()
    async with Outbox.open(db_path) as outbox:
        stats = outbox.stats("d")
        assert (stats.depth, stats.high_priority_depth, stats.dead_letter_depth) == (3, 0, 1)
        outbox.register_destination("d", sender, batch_size=10)
        with anyio.fail_after(5):
            await outbox.wait_drained("d")
        dead = await outbox.dead_letters("d")
        assert [(d.payload, d.priority, d.reason) for d in dead] == [(b"dead0", 0, "HTTP 400")]

    assert sender.accepted == [b"old0", b"old1", b"old2"]
    assert [(m.priority, m.attempts) for m in sender.calls[0]] == [(0, 2), (0, 0), (0, 0)]
    assert user_version(db_path) == SCHEMA_VERSION == 2
    assert columns(db_path, "messages")["priority"] == ("INTEGER", 1, "0")
    assert columns(db_path, "dead_letters")["priority"] == ("INTEGER", 1, "0")


async def test_migrated_messages_keep_their_fields_and_rank_as_normal(db_path: Path) -> None:
    write_v1_database(db_path)
    sender = ScriptedSender()
    async with Outbox.open(db_path) as outbox:
        assert await outbox.requeue_dead_letters(destination="d") == 1
        outbox.register_destination("d", ScriptedSender(_never), batch_size=10)
        await outbox.enqueue("d", b"alarm", priority=10)
        await outbox.enqueue("d", b"low", priority=-10)
    async with Outbox.open(db_path) as outbox:
        outbox.register_destination("d", sender, batch_size=10)
        with anyio.fail_after(5):
            await outbox.wait_drained("d")
    first = sender.calls[0]
    assert [m.payload for m in first] == [b"alarm", b"old0", b"old1", b"old2", b"dead0", b"low"]
    assert [m.priority for m in first] == [10, 0, 0, 0, 0, -10]
    assert first[1].headers == {"topic": "a"}
    assert first[1].created == 1000.0
    assert first[1].attempts >= 3  # two from version 1, one per hand-over since


async def _never(batch: object, call: int) -> list[object]:
    await anyio.sleep_forever()
    raise AssertionError("unreachable")


@pytest.mark.parametrize("upgraded", [True, False], ids=["from version 1", "new file"])
def test_the_hot_queries_are_index_scans(db_path: Path, upgraded: bool) -> None:
    if upgraded:
        write_v1_database(db_path)
    store = OutboxStore(db_path)
    store.open()
    store.close()
    conn = sqlite3.connect(db_path)
    try:
        for name, sql in HOT_QUERIES.items():
            params = (0,) * sql.count("?")
            plan = " | ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params))
            assert "TEMP B-TREE" not in plan, (name, plan)
            assert "SCAN messages" not in plan, (name, plan)
            assert "INDEX messages_by_priority" in plan, (name, plan)
    finally:
        conn.close()


def test_opening_twice_migrates_once_and_a_newer_schema_is_refused(db_path: Path) -> None:
    write_v1_database(db_path)
    for _ in range(2):
        store = OutboxStore(db_path)
        store.open()
        assert store.tally("d").count == 3
        store.close()
    assert user_version(db_path) == SCHEMA_VERSION
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.close()
    store = OutboxStore(db_path)
    with pytest.raises(OutboxError, match="newer"):
        store.open()
    store.close()


def test_a_failed_upgrade_leaves_version_1_untouched(db_path: Path) -> None:
    write_v1_database(db_path)
    # A file some other tool already half-changed: the second ALTER fails, after the
    # first one ran. The upgrade is one transaction, so the first is rolled back too.
    conn = sqlite3.connect(db_path)
    conn.execute("ALTER TABLE dead_letters ADD COLUMN priority INTEGER")
    conn.commit()
    conn.close()
    store = OutboxStore(db_path)
    with pytest.raises(OutboxError, match=r"outbox\.db: cannot upgrade .* 1 to 2 .*duplicate"):
        store.open()
    store.close()
    assert user_version(db_path) == 1
    assert "priority" not in columns(db_path, "messages")
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 3
        indexes = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
    finally:
        conn.close()
    assert "messages_by_priority" not in indexes


def schema_of(path: Path) -> dict[str, object]:
    """Tables' columns and indexes' keys, as SQLite reports them (not the DDL text,
    which ALTER TABLE edits in place rather than rewrites)."""
    conn = sqlite3.connect(path)
    try:
        shape: dict[str, object] = {}
        for kind, name in conn.execute(
            "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name"
        ):
            if kind == "table":
                shape[name] = [row[1:] for row in conn.execute(f"PRAGMA table_info({name})")]
            else:
                shape[name] = [
                    (row[2], row[3]) for row in conn.execute(f"PRAGMA index_xinfo({name})")
                ]
        return shape
    finally:
        conn.close()


def test_an_upgraded_file_has_exactly_the_schema_of_a_new_one(tmp_path: Path) -> None:
    upgraded, new = tmp_path / "upgraded.db", tmp_path / "new.db"
    write_v1_database(upgraded)
    for path in (upgraded, new):
        store = OutboxStore(path)
        store.open()
        store.close()
    assert schema_of(upgraded) == schema_of(new)
    assert "messages_by_destination" not in schema_of(new)  # the priority index serves


def test_the_oldest_message_is_found_across_priority_levels(db_path: Path) -> None:
    store = OutboxStore(db_path)
    store.open()
    try:
        store.insert(
            [
                ("d", b"t0", None, 2, 1000.0, None, 0),
                ("d", b"l0", None, 2, 1500.0, None, -10),
                ("d", b"a0", None, 2, 2000.0, None, 10),
                ("e", b"x", None, 1, 10.0, None, 0),
            ],
            {},
        )
        assert store.tally("d").head_created == 1000.0
        batch, _ = store.fetch("d", 2, now=3000.0)
        assert [m.payload for m in batch] == [b"a0", b"t0"]
        store.settle("d", [batch[1].id], [], now=3000.0)  # t0 leaves: l0 is oldest
        assert store.tally("d").head_created == 1500.0
        store.settle("d", [m.id for m in store.fetch("d", 5, now=3000.0)[0]], [], now=3000.0)
        assert store.tally("d").head_created is None
        assert store.tally("e").head_created == 10.0
    finally:
        store.close()
