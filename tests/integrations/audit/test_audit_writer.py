"""The log's files and its writer task: modes, schema, chain across files, group
commit, overflow, timed checkpoints, crash repair and restart."""

from __future__ import annotations

import stat
import threading
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from auditools import ALICE, actions, make_log, open_writer, records, sample_log

from gatehouse.core.testing import wait_until
from gatehouse.integrations.audit.const import (
    CHECKPOINTS_FILE,
    PRIVATE_KEY_FILE,
    PUBLIC_KEY_FILE,
)
from gatehouse.integrations.audit.errors import AuditFormatError
from gatehouse.integrations.audit.keystore import load_or_create
from gatehouse.integrations.audit.note import verify
from gatehouse.integrations.audit.record import genesis, line_hash, parse
from gatehouse.integrations.audit.verify import verify_path

pytestmark = pytest.mark.anyio


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_are_private_and_records_follow_the_schema(tmp_path: Path) -> None:
    directory = tmp_path / "audit"
    verifier = sample_log(directory, records=30, max_file_size=2000)
    assert _mode(directory) == 0o700
    for path in directory.iterdir():
        if path.name != PUBLIC_KEY_FILE:
            assert _mode(path) == 0o600, path.name
    assert load_or_create(directory)[1] == verifier  # the same key the next time
    first = (directory / "audit-000001.jsonl").read_bytes().splitlines()[0]
    record = parse(first)
    assert record["prev"] == genesis(verifier.name)
    assert record["seq"] == 1 and record["v"] == 1
    assert record["actor"] == ALICE
    assert set(record) == {"v", "seq", "time", "actor", "action", "target", "result",
                           "details", "prev"}
    assert (directory / PRIVATE_KEY_FILE).read_bytes().startswith(b"-----BEGIN PRIVATE KEY")


def test_rotation_chains_the_first_record_of_a_file_to_the_last_of_the_previous(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "audit"
    sample_log(directory, records=60, max_file_size=4096)
    one = (directory / "audit-000001.jsonl").read_bytes().splitlines()
    two = (directory / "audit-000002.jsonl").read_bytes().splitlines()
    assert (directory / "audit-000001.jsonl").stat().st_size <= 4096
    assert parse(two[0])["prev"] == line_hash(one[-1])
    assert parse(two[0])["seq"] == parse(one[-1])["seq"] + 1


def test_a_checkpoint_is_a_record_and_a_line_of_the_checkpoints_file(tmp_path: Path) -> None:
    directory = tmp_path / "audit"
    verifier = sample_log(directory, records=10, checkpoint_every=10)
    lines = (directory / "audit-000001.jsonl").read_bytes().splitlines()
    record = parse(lines[-1])
    assert record["action"] == "audit.checkpoint" and record["seq"] == 11
    note = verify(record["checkpoint"], verifier)
    assert note.size == 10 and note.root.hex() == line_hash(lines[-2])
    text = record["checkpoint"].split("\n")
    assert text[0] == verifier.name and text[1] == "10" and text[3].startswith("time ")
    assert text[5].startswith(f"\u2014 {verifier.name} ")
    assert (directory / CHECKPOINTS_FILE).read_text().count("\n") == 1


async def test_group_commit_writes_many_records_in_few_rounds(tmp_path: Path) -> None:
    directory = tmp_path / "audit"
    log = make_log(open_writer(directory, 1 << 20))
    async with anyio.create_task_group() as tg:
        tg.start_soon(log.run)
        for round_ in range(5):
            for index in range(200):
                assert log.append("service.call", actor=ALICE, target=f"light.{index}")
            await log.flush()
            assert log.written == (round_ + 1) * 200
        await log.close()
    assert log.rounds <= 10
    assert verify_path(directory).ok
    assert actions(directory)[-1] == "audit.checkpoint"  # signed at close
    assert len(records(directory)) == 1001


async def test_a_full_queue_drops_counts_and_records_the_gap(tmp_path: Path) -> None:
    directory = tmp_path / "audit"
    log = make_log(open_writer(directory), queue_size=5)
    async with anyio.create_task_group() as tg:
        tg.start_soon(log.run)
        accepted = [log.append("service.call", actor=ALICE) for _ in range(20)]
        assert accepted == [True] * 5 + [False] * 15
        assert log.dropped == 15
        await log.flush()
        assert log.append("host.stop")
        await log.close()
    found = records(directory)
    assert [r["action"] for r in found] == (
        ["audit.overflow"] + ["service.call"] * 5 + ["host.stop", "audit.checkpoint"]
    )
    assert found[0]["details"] == {"dropped": 15} and found[0]["result"] == "dropped"
    assert not log.append("late")  # closed: refused, counted, no exception
    assert log.refused_closed == 1


async def test_a_checkpoint_is_signed_interval_seconds_after_the_first_unsigned_record(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "audit"
    log = make_log(open_writer(directory), checkpoint_interval=0.1)
    async with anyio.create_task_group() as tg:
        tg.start_soon(log.run)
        log.append("host.start")
        await log.flush()
        assert log.writer.checkpoints == 0
        await wait_until(lambda: log.writer.checkpoints == 1, 5, "timed checkpoint")
        assert verify_path(directory, strict=True).ok
        await log.close()
    assert log.writer.checkpoints == 1  # nothing new to sign at close


def test_a_half_written_last_line_is_cut_and_recorded_on_reopen(tmp_path: Path) -> None:
    directory = tmp_path / "audit"
    sample_log(directory, records=5, max_file_size=1 << 20)
    path = directory / "audit-000001.jsonl"
    with path.open("ab") as f:
        f.write(b'{"action":"service.ca')  # a crash in the middle of a write
    writer = open_writer(directory, 1 << 20)
    writer.write_batch([], True)
    writer.close()
    found = records(directory)
    assert found[-2]["action"] == "audit.repaired"
    assert found[-2]["details"] == {"bytes_dropped": 21}
    assert verify_path(directory, strict=True).ok


def test_a_damaged_last_record_refuses_to_open(tmp_path: Path) -> None:
    directory = tmp_path / "audit"
    sample_log(directory, records=5, max_file_size=1 << 20)
    path = directory / "audit-000001.jsonl"
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(AuditFormatError, match=r"audit-000001.jsonl line 6: .*verify"):
        open_writer(directory, 1 << 20)


def test_a_restart_continues_the_chain(tmp_path: Path) -> None:
    directory = tmp_path / "audit"
    sample_log(directory, records=50)
    sample_log(directory, records=50)
    found = records(directory)
    assert [r["seq"] for r in found] == list(range(1, 103))
    assert verify_path(directory, strict=True).ok


async def test_flush_waits_for_a_round_already_taken_by_the_writer(tmp_path: Path) -> None:
    """Regression: flush() returned at once when the writer had taken the records (the
    list was empty) but not yet fsynced them."""
    directory = tmp_path / "audit"
    writer = open_writer(directory)
    gate = threading.Event()
    write_batch = writer.write_batch

    def held(batch: Any, checkpoint: bool) -> int:
        gate.wait(10)
        return write_batch(batch, checkpoint)

    writer.write_batch = held  # type: ignore[method-assign]
    log = make_log(writer)
    flushed = anyio.Event()

    async def flush() -> None:
        await log.flush()
        flushed.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(log.run)
        log.append("host.start")
        await wait_until(lambda: log.pending == 0, 5, "round taken by the writer")
        tg.start_soon(flush)
        for _ in range(20):
            await anyio.lowlevel.checkpoint()
        assert not flushed.is_set() and log.written == 0
        gate.set()
        with anyio.fail_after(5):
            await flushed.wait()
        assert log.written == 1
        await log.close()


def test_a_log_whose_key_is_gone_is_not_continued_with_a_new_key(tmp_path: Path) -> None:
    from gatehouse.integrations.audit.errors import AuditKeyError
    from gatehouse.integrations.audit.runtime import _open_writer

    directory = tmp_path / "audit"
    sample_log(directory, records=5)
    (directory / PRIVATE_KEY_FILE).unlink()
    with pytest.raises(AuditKeyError, match="missing but the log"):
        _open_writer(directory, 1 << 20)


def test_a_checkpoint_missing_from_the_checkpoints_file_is_listed_on_reopen(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "audit"
    sample_log(directory, records=20, checkpoint_every=10)
    path = directory / CHECKPOINTS_FILE
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-1]))  # a crash after the log's copy was written
    assert verify_path(directory).warnings
    open_writer(directory).close()
    assert path.read_bytes() == b"".join(lines)
    assert verify_path(directory, strict=True).ok
    open_writer(directory).close()  # nothing to add the second time
    assert path.read_bytes() == b"".join(lines)


async def test_a_failed_write_fails_its_waiters_and_the_chain_stays_whole(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "audit"
    writer = open_writer(directory)
    flush = writer._flush
    failures = [OSError(28, "No space left on device")]

    def flaky(buffer: list[bytes]) -> None:
        if failures and buffer:
            raise failures.pop()
        flush(buffer)

    writer._flush = flaky  # type: ignore[method-assign]
    log = make_log(writer)
    async with anyio.create_task_group() as tg:
        tg.start_soon(log.run)
        log.append("host.start")
        with pytest.raises(OSError, match="No space"):
            await log.flush()
        assert log.failures == 1
        log.append("host.stop")
        await log.flush()
        await log.close()
    assert actions(directory) == ["host.stop", "audit.checkpoint"]
    assert [r["seq"] for r in records(directory)] == [1, 2]
    assert verify_path(directory, strict=True).ok


async def test_records_left_unsigned_by_the_last_run_are_signed_after_the_interval(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "audit"
    sample_log(directory, records=5, final_checkpoint=False)
    log = make_log(open_writer(directory), checkpoint_interval=0.05)
    async with anyio.create_task_group() as tg:
        tg.start_soon(log.run)
        await wait_until(lambda: log.writer.checkpoints == 1, 5, "checkpoint of the old tail")
        assert verify_path(directory, strict=True).ok
        await log.close()
