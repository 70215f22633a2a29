"""What the recorder survives: kill -9, a corrupt file, a full disk, a newer schema,
an old schema (migrated). Real SQLite files on disk, a real child process, a real
(tiny) tmpfs."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from recordertools import running

from gatehouse.core import State
from gatehouse.core.testing import ChildOutput, start_child, wait_until, wait_until_sync
from gatehouse.integrations.recorder import schema
from gatehouse.integrations.recorder.database import Database
from gatehouse.integrations.recorder.errors import SchemaTooNewError
from gatehouse.integrations.recorder.writer import RecorderWriter

pytestmark = [pytest.mark.timeout(90)]

CHILD = Path(__file__).with_name("recorder_crash_child.py")


def _stored(path: Path) -> list[int]:
    conn = sqlite3.connect(path)
    try:
        return [int(r[0]) for r in conn.execute("SELECT state FROM states ORDER BY state_id")]
    finally:
        conn.close()


@pytest.mark.anyio
async def test_kill_9_loses_at_most_the_last_commit_interval(tmp_path: Path) -> None:
    db_path = tmp_path / "rec.db"
    interval, rate = 0.25, 4000
    out = ChildOutput()
    child = await start_child(CHILD, [str(db_path), str(interval), str(rate)],
                              tmp_path / "child.err")
    async with anyio.create_task_group() as tg:
        assert child.stdout is not None
        tg.start_soon(out.read, child.stdout)
        with anyio.fail_after(30):
            await out.wait_ready()
            await wait_until(lambda: len(out.acknowledged) >= 4)
        offered_lines = [line for line in out.other if line.startswith("O ")]
        child.send_signal(signal.SIGKILL)
        await child.wait()
        tg.cancel_scope.cancel()
    offered_lines = [line for line in out.other if line.startswith("O ")]
    offered = int(offered_lines[-1].split()[1]) + 1
    stored = _stored(db_path)
    assert stored == list(range(len(stored))), "the database holds a gap"
    assert max(out.acknowledged) < len(stored), "a committed state was lost"
    lost = offered - len(stored)
    # At most one interval of states (plus the round in flight and scheduling slack).
    assert lost <= rate * interval * 2 + 200, (offered, len(stored))
    Database.open(db_path).close()  # opens cleanly after the crash


def test_a_corrupt_database_is_moved_aside_and_a_new_one_started(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "gatehouse_v2.db"
    path.write_bytes(b"this is not an SQLite database, just garbage " * 200)
    with caplog.at_level(logging.ERROR):
        db = Database.open(path)
    try:
        assert db.moved_aside is not None and db.moved_aside.exists()
        assert db.moved_aside.name.startswith("gatehouse_v2.db.corrupt-")
        assert db.moved_aside.read_bytes().startswith(b"this is not an SQLite")
        db.write([State("sensor.a", "1")])
        assert _stored_states(path) == ["1"]
    finally:
        db.close()
    assert any("corrupt" in r.message and str(db.moved_aside) in r.message
               for r in caplog.records)
    again = Database.open(path)  # no second move: the new one is sound
    assert again.moved_aside is None
    again.close()


def _stored_states(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [str(r[0]) for r in conn.execute("SELECT state FROM states")]
    finally:
        conn.close()


def test_a_newer_schema_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "rec.db"
    Database.open(path).close()
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("INSERT INTO schema_changes (schema_version, changed_ts) VALUES (?, 0)",
                     (schema.SCHEMA_VERSION + 1,))
    conn.close()
    before = path.read_bytes()
    with pytest.raises(SchemaTooNewError, match="newer than this Gatehouse supports"):
        Database.open(path)
    assert path.read_bytes() == before
    assert not list(tmp_path.glob("*.corrupt-*"))


def test_an_old_schema_is_migrated_forward(tmp_path: Path) -> None:
    path = tmp_path / "rec.db"
    conn = sqlite3.connect(path)
    schema.create(conn, 0.0, version=1)
    conn.close()
    db = Database.open(path)
    try:
        assert schema.current_version(db.conn) == schema.SCHEMA_VERSION
        db.conn.execute("SELECT COUNT(*) FROM statistics").fetchone()
    finally:
        db.close()


@pytest.mark.anyio
async def test_a_corrupt_database_at_start_does_not_stop_the_host(config_dir: Path) -> None:
    (config_dir / "gatehouse_v2.db").write_bytes(b"\x00garbage" * 1000)
    async with running(config_dir) as rig:
        rig.host.states.set("sensor.after", "7")
        await rig.recorder.flush()
        assert _stored_states(config_dir / "gatehouse_v2.db")[-1] == "7"
        assert [p for p in os.listdir(config_dir) if p.startswith("gatehouse_v2.db.corrupt-")]


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_a_full_disk_is_reported_and_writing_resumes(tmp_path: Path) -> None:
    """A 1 MiB tmpfs: fill it, see the problem, free space, see it clear."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], check=True)
    try:
        db = Database.open(mount / "rec.db")
        changes: list[str | None] = []
        writer = RecorderWriter(db, commit_interval=0.02, max_queue=1_000_000)
        writer.on_status = lambda: changes.append(writer.problem)
        writer.start()
        filler = mount / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        payload = {"blob": "x" * 2000}
        for index in range(2000):
            writer.offer(State("sensor.big", str(index), {**payload, "n": index}))
        wait_until_sync(lambda: writer.problem is not None, timeout=20)
        # every big state has been tried before space is freed: otherwise the rest of
        # them (4 MB) could fill the 1 MiB again together with the small one below
        writer.call(timeout=20)
        assert "disk full" in (writer.problem or "")
        assert writer.lost > 0
        assert writer._thread.is_alive()
        filler.unlink()
        writer.offer(State("sensor.small", "ok"))
        wait_until_sync(lambda: writer.problem is None, timeout=20)
        assert changes[0] is not None and changes[-1] is None
        writer.close()
        assert "ok" in _stored_states(mount / "rec.db")
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(path: Path) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)


@pytest.fixture
def tiny_config_dir(tmp_path: Path) -> Iterator[Path]:
    """A config dir on its own 3 MiB tmpfs (root only)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    config_dir = tmp_path / "cfg"
    config_dir.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(config_dir)],
                   check=True)
    try:
        yield config_dir
    finally:
        subprocess.run(["umount", "-l", str(config_dir)], check=False)


@pytest.mark.anyio
async def test_a_full_disk_shows_on_the_problem_entity_and_the_host_runs_on(
        tiny_config_dir: Path) -> None:
    """The whole config dir on a tiny tmpfs: the host's own files fail too."""
    config_dir = tiny_config_dir
    async with running(config_dir) as rig:
        problem = "binary_sensor.recorder_problem"
        assert rig.host.states.get(problem).state == "off"  # type: ignore[union-attr]
        await anyio.to_thread.run_sync(_fill, config_dir / "filler")
        blob = "y" * 3000
        for index in range(3000):
            rig.host.states.set("sensor.big", str(index), {"blob": blob, "n": index})
        await wait_until(lambda: rig.host.states.get(problem).state == "on",  # type: ignore[union-attr]
                         timeout=30, message=f"problem on: {rig.recorder.diagnostics()}")
        attributes = rig.host.states.get(problem).attributes  # type: ignore[union-attr]
        assert "disk full" in attributes["problem"] and attributes["lost"] > 0
        status, _ = await rig.get("/api/")  # the host answers
        assert status == 200
        await anyio.to_thread.run_sync(os.unlink, config_dir / "filler")
        rig.host.states.set("sensor.small", "after")
        await wait_until(lambda: rig.host.states.get(problem).state == "off",  # type: ignore[union-attr]
                         timeout=30, message=f"problem off: {rig.recorder.diagnostics()}")
        await rig.recorder.flush()
        assert "after" in _stored_states(config_dir / "gatehouse_v2.db")
