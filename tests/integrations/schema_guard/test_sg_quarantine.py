"""The quarantine: SQLite on disk, group commit, PII masking, queries, retention, replay."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from sgtools import TELEMETRY, dumps, make_guard, rescan, write_schema

from gatehouse.integrations.schema_guard.engine import RuleConfig
from gatehouse.integrations.schema_guard.pii import PiiMask
from gatehouse.integrations.schema_guard.replay import replay
from gatehouse.integrations.schema_guard.store import Filters, QuarantineStore, Retention
from gatehouse.integrations.schema_guard.verdict import Accepted
from gatehouse.integrations.schema_guard.writer import QuarantineWriter

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

PII_RULE = RuleConfig("t", "t/{source}", schema="telemetry",
                      pii=("owner.email", "readings.*.k"))


class Bench:
    """A guard wired to a real store and writer, as the runtime wires them."""

    def __init__(self, tmp_path: Path, rules: list[RuleConfig], **store: Any) -> None:
        self.dir = tmp_path / "schemas"
        write_schema(self.dir, "telemetry", 1, TELEMETRY)
        self.guard, self.catalog = make_guard(self.dir, rules, max_bytes=4096)
        self.store = QuarantineStore(tmp_path / "q" / "quarantine.db", **store)
        self.store.open()
        self.writer = QuarantineWriter(self.store, self.guard.mask_for, max_bytes=4096)
        self.guard.sink = self.writer.submit


@asynccontextmanager
async def running(bench: Bench) -> AsyncIterator[Bench]:
    async with anyio.create_task_group() as tg:
        tg.start_soon(bench.writer.run)
        try:
            yield bench
        finally:
            await bench.writer.flush()
            bench.writer.close()
    bench.store.close()


def bad(n: int = 0, **fields: Any) -> bytes:
    """An invalid telemetry document (temp is a string) numbered ``n``."""
    return dumps({"device": "d-1", "ts": 1, "temp": "hot", "n": n, **fields})


async def test_rejected_messages_are_stored_with_every_error(tmp_path: Path) -> None:
    async with running(Bench(tmp_path, [PII_RULE])) as b:
        b.guard.check("t/dev7", dumps({"device": "BAD!", "temp": "x"}))
        await b.writer.flush()
        [row] = await b.writer.query(Filters())
    assert row["topic"] == "t/dev7" and row["rule"] == "t" and row["source"] == "dev7"
    assert row["schema"] == "telemetry" and row["version"] == 1
    assert row["action"] == "quarantine" and row["replayed"] is None
    assert {(e["path"], e["keyword"]) for e in row["errors"]} == {
        ("/device", "pattern"), ("/temp", "type"), ("", "required")}
    assert json.loads(row["payload"]) == {"device": "BAD!", "temp": "x"}
    # the file is the owner's only and really is WAL SQLite
    db = tmp_path / "q" / "quarantine.db"
    assert db.stat().st_mode & 0o777 == 0o600
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_group_commit_takes_a_burst_in_few_rounds(tmp_path: Path) -> None:
    async with running(Bench(tmp_path, [PII_RULE])) as b:
        for i in range(2000):
            b.guard.check(f"t/d{i % 7}", bad(i))
        await b.writer.flush()
        assert b.store.totals.count == 2000
        assert b.store.totals.rounds <= 5
        rows = await b.writer.query(Filters(), limit=2000)
    assert [json.loads(r["payload"])["n"] for r in rows] == list(range(2000))


async def test_pii_is_masked_before_storage_and_in_error_messages(tmp_path: Path) -> None:
    async with running(Bench(tmp_path, [PII_RULE])) as b:
        b.guard.check("t/d", dumps({
            "device": "d-1", "ts": 1, "temp": 1,
            "owner": {"email": 12345},  # a number where a string belongs: quoted in errors
            "readings": [{"k": "serial-A", "v": "x"}, {"k": "serial-B", "v": 2}],
        }))
        await b.writer.flush()
        [row] = await b.writer.query(Filters())
    stored = json.loads(row["payload"])
    assert stored["owner"] == {"email": 0}  # type kept
    assert [r["k"] for r in stored["readings"]] == ["***", "***"]
    assert stored["readings"][0]["v"] == "x"  # not a PII field: kept for diagnosis
    assert row["note"] == "masked"
    messages = {e["path"]: e["message"] for e in row["errors"]}
    assert messages["/owner/email"] == "value masked (PII)"
    assert "12345" not in json.dumps(row["errors"])
    raw = (tmp_path / "q" / "quarantine.db").read_bytes()
    assert b"serial-A" not in raw and b"12345" not in raw


async def test_undecodable_payload_is_withheld_when_pii_is_configured(tmp_path: Path) -> None:
    async with running(Bench(tmp_path, [PII_RULE])) as b:
        b.guard.check("t/d", b'{"owner": {"email": "a@b.c"}, "owner": 1}')
        await b.writer.flush()
        [row] = await b.writer.query(Filters())
    assert row["payload"] is None and row["note"].startswith("withheld")
    assert row["errors"][0]["keyword"] == "duplicate_key"
    assert len(row["sha256"]) == 64 and row["size"] > 0


async def test_large_payloads_live_in_files_oversize_ones_truncated(tmp_path: Path) -> None:
    rule = RuleConfig("t", "t/{source}", schema="telemetry")
    bench = Bench(tmp_path, [rule], inline_max=256)
    big = bad(notes="x" * 1000)
    huge = b"y" * 10_000_000
    async with running(bench) as b:
        b.guard.check("t/d", big)
        b.guard.check("t/d", huge)
        await b.writer.flush()
        first, second = await b.writer.query(Filters())
    assert first["payload"] == big and first["stored"] == len(big)
    files = list((tmp_path / "q" / "payloads").iterdir())
    assert len(files) == 1 and files[0].read_bytes() == big
    assert files[0].stat().st_mode & 0o777 == 0o600
    assert second["truncated"] and second["size"] == 10_000_000
    assert second["payload"] == b"y" * 256
    assert second["errors"][0]["keyword"] == "size"


async def test_queries_by_topic_rule_path_and_time(tmp_path: Path) -> None:
    rules = [PII_RULE, RuleConfig("u", "u/#", schema="telemetry")]
    async with running(Bench(tmp_path, rules)) as b:
        b.guard.check("t/a", bad())
        b.guard.check("t/b", bad(ts=-1))
        b.guard.check("u/x", dumps({"device": "d", "ts": -5, "temp": 1}))
        await b.writer.flush()
        middle = time.time()
        await anyio.sleep(0.01)
        b.guard.check("u/x", bad())
        await b.writer.flush()
        w = b.writer

        async def topics(**kw: Any) -> list[str]:
            return [r["topic"] for r in await w.query(Filters(**kw))]

        assert await topics(topic="t/a") == ["t/a"]
        assert await topics(topic="t/+") == ["t/a", "t/b"]
        assert await topics(topic="#") == ["t/a", "t/b", "u/x", "u/x"]
        assert await topics(topic="u/#/x") == []  # not a filter: matches nothing
        assert await topics(rule="u") == ["u/x", "u/x"]
        assert await topics(path="/ts") == ["t/b", "u/x"]
        assert await topics(since=middle) == ["u/x"]
        assert await topics(until=middle, rule="u") == ["u/x"]
        counts = await w.call(b.store.path_counts, Filters())
        assert counts[0] == {"path": "/temp", "keyword": "type", "count": 3}
        assert {"path": "/ts", "keyword": "minimum", "count": 2} in counts


async def test_retention_by_age_and_by_size(tmp_path: Path) -> None:
    bench = Bench(tmp_path, [PII_RULE], retention=Retention(max_age=3600, max_bytes=2000))
    async with running(bench) as b:
        for i in range(50):
            b.guard.check("t/d", bad(i))  # ~60 bytes each
            await b.writer.flush()
        assert 0 < b.store.totals.nbytes <= 2000
        rows = await b.writer.query(Filters(), limit=100)
        # the newest are kept, oldest evicted
        assert json.loads(rows[-1]["payload"])["n"] == 49
        assert b.store.totals.evicted == 50 - len(rows)
        # age: everything older than an hour goes
        removed = await b.writer.call(b.store.enforce_retention, time.time() + 7200)
        assert removed == len(rows) and b.store.totals.count == 0


async def test_writer_is_bounded_and_counts_the_overflow(tmp_path: Path) -> None:
    bench = Bench(tmp_path, [PII_RULE])
    bench.writer = QuarantineWriter(bench.store, bench.guard.mask_for, max_pending=10)
    bench.guard.sink = bench.writer.submit
    # the writer is not running: nothing drains, the bound holds
    for i in range(25):
        bench.guard.check("t/d", bad(i))
    assert bench.writer.pending == 10 and bench.writer.overflow == 15
    async with running(bench) as b:
        await b.writer.flush()
        assert b.store.totals.count == 10


async def test_unload_commits_what_was_accepted(tmp_path: Path) -> None:
    bench = Bench(tmp_path, [PII_RULE])
    with anyio.CancelScope() as scope:
        async with anyio.create_task_group() as tg:
            tg.start_soon(bench.writer.run)
            await anyio.lowlevel.checkpoint()
            for i in range(100):
                bench.guard.check("t/d", bad(i))
            scope.cancel()
    await bench.writer.drain()  # the entry's unload does this after cancelling tasks
    assert bench.store.totals.count == 100
    assert bench.writer.submit(bench.guard.check("t/d", bad(), store=False), b"x") is None
    bench.store.close()


async def test_replay_dry_run_then_in_order(tmp_path: Path) -> None:
    bench = Bench(tmp_path, [PII_RULE])
    async with running(bench) as b:
        for i in range(10):
            b.guard.check("t/d", bad(temp=200 + i))  # over the v1 maximum of 150
        b.guard.check("t/d", b"nonsense")  # withheld (PII rule, not decodable)
        b.guard.check("t/d", bad(temp="hot"))  # fails any version
        await b.writer.flush()
        # the schema is fixed: v2 allows up to 300
        fixed = dict(TELEMETRY, properties=dict(TELEMETRY["properties"], temp={
            "type": "number", "maximum": 300}))
        write_schema(b.dir, "telemetry", 2, fixed)
        rescan(b.guard, b.catalog)
        dry = await replay(b.writer, b.guard, Filters(), None, dry_run=True)
        assert (dry.examined, dry.passing, dry.failing, dry.unavailable) == (12, 10, 1, 1)
        assert dry.still_failing == {"/temp type": 1}
        assert all(r["replayed"] is None for r in await b.writer.query(Filters()))
        received: list[tuple[Accepted, bytes]] = []

        async def target(verdict: Accepted, payload: bytes) -> None:
            await anyio.lowlevel.checkpoint()
            received.append((verdict, payload))

        done = await replay(b.writer, b.guard, Filters(), target, dry_run=False, batch=3)
        assert done.replayed == 10 and done.error is None
        assert [v.value["temp"] for v, _ in received] == list(range(200, 210))
        assert {v.version for v, _ in received} == {2}
        rows = await b.writer.query(Filters(replayed=True), limit=50)
        assert len(rows) == 10
        again = await replay(b.writer, b.guard, Filters(), target, dry_run=False)
        assert again.replayed == 0 and len(received) == 10  # never delivered twice


async def test_replay_stops_at_a_failing_target_and_keeps_the_rest(tmp_path: Path) -> None:
    bench = Bench(tmp_path, [PII_RULE])
    bench.guard.settings.unmatched = "quarantine"
    async with running(bench) as b:
        for i in range(3):
            verdict = b.guard.check("other/x", dumps({"n": i}))
            assert not verdict.accepted and verdict.errors[0].keyword == "unmatched"
        await b.writer.flush()
        b.guard.settings.unmatched = "allow"  # the operator now allows these topics
        seen: list[bytes] = []

        def target(verdict: Accepted, payload: bytes) -> None:
            if len(seen) == 1:
                raise RuntimeError("transport down")
            seen.append(payload)

        result = await replay(b.writer, b.guard, Filters(), target, dry_run=False)
        assert result.replayed == 1 and "transport down" in (result.error or "")
        left = await b.writer.query(Filters(replayed=False))
        assert len(left) == 2


async def test_purge_and_export_lines(tmp_path: Path) -> None:
    async with running(Bench(tmp_path, [PII_RULE])) as b:
        for i in range(5):
            b.guard.check(f"t/d{i}", bad(i))
        await b.writer.flush()
        assert await b.writer.call(b.store.purge, Filters(topic="t/d0")) == 1
        assert b.store.totals.count == 4


def test_a_store_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version=99")
    store = QuarantineStore(path)
    with pytest.raises(Exception, match="newer than"):
        store.open()


@pytest.mark.parametrize(
    ("paths", "value", "masked"),
    [
        (["a.b"], {"a": {"b": "x", "c": 1}}, {"a": {"b": "***", "c": 1}}),
        (["$.a[1]"], {"a": [1, 2, 3]}, {"a": [1, 0, 3]}),
        (["a[-1]"], {"a": [True, True]}, {"a": [True, False]}),
        (["a.*.k"], {"a": [{"k": "s"}, {"k": 5}, {"j": 1}]},
         {"a": [{"k": "***"}, {"k": 0}, {"j": 1}]}),
        (["a.*"], {"a": {"x": {"deep": 1}, "y": [1]}}, {"a": {"x": {}, "y": []}}),
        (["missing.path"], {"a": 1}, {"a": 1}),
        (["a.b"], {"a": "not an object"}, {"a": "not an object"}),
    ],
)
def test_pii_mask(paths: list[str], value: Any, masked: Any) -> None:
    mask = PiiMask(paths)
    before = json.dumps(value)
    assert mask.mask(value) == masked
    assert json.dumps(value) == before  # the original is never changed


def test_pii_mask_covers_pointers_inside_fields() -> None:
    mask = PiiMask(["owner.email", "users.*.ssn"])
    assert mask.covers("/owner/email") and mask.covers("/owner/email/0")
    assert mask.covers("/users/3/ssn")
    assert not mask.covers("/owner") and not mask.covers("/users/3/name")
    assert not mask.covers("")


class _SlowStore(QuarantineStore):
    """A store whose commit waits for the test (a slow disk, deterministically)."""

    def __init__(self, path: Path, release: threading.Event) -> None:
        super().__init__(path)
        self.release = release
        self.entered = threading.Event()

    def insert(self, entries: Any, *, durable: bool = False) -> list[int]:
        self.entered.set()
        self.release.wait(10)
        return super().insert(entries, durable=durable)


async def test_flush_waits_for_the_round_on_its_way_to_disk(tmp_path: Path) -> None:
    """Regression: flush returned at once when the only round was already taken by the
    writer (nothing pending) but not yet committed."""
    bench = Bench(tmp_path, [PII_RULE])
    release = threading.Event()
    slow = _SlowStore(tmp_path / "slow.db", release)
    slow.open()
    bench.store, bench.writer = slow, QuarantineWriter(slow, bench.guard.mask_for)
    bench.guard.sink = bench.writer.submit
    async with running(bench) as b:
        b.guard.check("t/d", bad())
        await anyio.to_thread.run_sync(slow.entered.wait, 10)
        assert b.writer.pending == 0  # taken, in flight
        flushed = anyio.Event()

        async def flush() -> None:
            await b.writer.flush()
            flushed.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(flush)
            await anyio.lowlevel.checkpoint()
            assert not flushed.is_set() and slow.totals.count == 0
            release.set()
        assert flushed.is_set() and slow.totals.count == 1


def test_pii_values_never_reach_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bench = Bench(tmp_path, [PII_RULE])
    with caplog.at_level(logging.DEBUG, logger="gatehouse.integrations.schema_guard"):
        verdict = bench.guard.check("t/d", dumps({"device": "d-1", "ts": 1, "temp": 1,
                                                  "owner": {"email": 987654321}}))
    assert not verdict.accepted
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "/owner/email: value masked (PII)" in logged
    assert "987654321" not in logged
    bench.store.close()
