"""A full disk: the host keeps running, says so (problem entity, /api/health), recovers
when space returns, and no database or JSON store is left corrupt.

The config dir lives on a small tmpfs (root needed to mount it); a filler file takes
every free byte while the demo, the recorder and an exporter's outbox keep writing.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from appliancetools import health, running_host

from gatehouse.core.testing import free_port, wait_until_sync

GATEHOUSE = Path(sys.executable).parent / "gatehouse"

CONFIG = """\
gatehouse:
  name: Disk test
http:
  server_host: 127.0.0.1
  server_port: @PORT@
demo:
  name: Demo
  update_interval: 0.1
recorder:
  commit_interval: 0.2
"""
#: An exporter whose server is down: its points pile up in the outbox.
EXPORTER = """\
influxdb:
  host: 127.0.0.1
  port: {dead_port}
  database: nowhere
  flush_interval: 0.2
"""


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(path: Path) -> int:
    """Write ``path`` until the file system refuses; returns the bytes written."""
    written = 0
    chunk = b"\0" * 65536
    with path.open("wb", buffering=0) as out:
        while True:
            try:
                written += out.write(chunk)
            except OSError:
                break
        with contextlib.suppress(OSError):  # the last few blocks
            while out.write(b"\0" * 512):
                written += 512
    return written


def _states(config: Path) -> dict[str, dict[str, object]]:
    done = subprocess.run([str(GATEHOUSE), "states", "--json", "--config", str(config)],
                          capture_output=True, text=True, check=False, timeout=30)
    if done.returncode != 0:
        raise AssertionError(f"gatehouse states failed: {done.stderr.strip()}")
    return {s["entity_id"]: s for s in json.loads(done.stdout)}


def _alive_health(port: int) -> dict[str, object]:
    """/api/health's answer; fails at once if nothing answers (the host died)."""
    answer = health(port)
    if answer is None:
        raise AssertionError("the host no longer answers /api/health")
    return answer


def _count(db: Path, table: str) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


@pytest.mark.slow
@pytest.mark.parametrize("with_outbox", [
    False,
    # Regression: the outbox dispatcher's fetch (store.fetch -> COMMIT) raised
    # sqlite3.OperationalError 'database or disk is full' into the host's task group
    # and the whole host stopped; it now backs off and retries (core/outbox/dispatcher).
    True,
], ids=["recorder", "recorder+outbox"])
def test_full_disk_is_reported_survived_and_recovered(small_disk: Path,
                                                      with_outbox: bool) -> None:
    config = small_disk / "config"
    config.mkdir()
    text = CONFIG + (EXPORTER.format(dead_port=free_port()) if with_outbox else "")
    (config / "configuration.yaml").write_text(text)
    env = {"GATEHOUSE_DISK_MIN_FREE_MB": "2", "GATEHOUSE_DISK_CHECK_INTERVAL": "0.2"}
    recorder_db, outbox_db = config / "gatehouse_v2.db", config / ".storage" / "outbox.db"
    filler = small_disk / "filler"
    with running_host(GATEHOUSE, config, env=env) as port:
        wait_until_sync(lambda: "binary_sensor.gatehouse_disk_space" in _states(config),
                        message="the disk entity")
        assert _states(config)["binary_sensor.gatehouse_disk_space"]["state"] == "off"
        wait_until_sync(lambda: _count(recorder_db, "states") > 5 and
                        (not with_outbox or _count(outbox_db, "messages") > 5), timeout=30)

        assert _fill(filler) > 0
        wait_until_sync(lambda: _alive_health(port).get("status") == "degraded", timeout=30,
                        message="/api/health degraded")
        problems = (health(port) or {})["problems"]
        assert isinstance(problems, list) and "disk space low" in problems[0]
        assert _states(config)["binary_sensor.gatehouse_disk_space"]["state"] == "on"
        # Alive while every store fails to write: the demo counter still moves.
        first = _states(config)["sensor.demo_counter"]["state"]
        wait_until_sync(lambda: _states(config)["sensor.demo_counter"]["state"] != first,
                        message="the host to keep running on a full disk")
        wait_until_sync(lambda: _states(config)["sensor.demo_counter"]["state"] != first,
                        message="the host to keep running on a full disk")
        stuck_recorder = _count(recorder_db, "states")

        filler.unlink()
        wait_until_sync(lambda: health(port) == {"status": "ok"}, timeout=30,
                        message="/api/health ok again")
        assert _states(config)["binary_sensor.gatehouse_disk_space"]["state"] == "off"
        # The stores write again.
        wait_until_sync(lambda: _count(recorder_db, "states") > stuck_recorder + 5,
                        timeout=60, message="the recorder to write again")
        if with_outbox:
            outbox_after = _count(outbox_db, "messages")
            wait_until_sync(lambda: _count(outbox_db, "messages") > outbox_after, timeout=60,
                            message="the outbox to take points again")
    for db in config.rglob("*.db"):
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok", db
    for store in (config / ".storage").iterdir():
        if store.is_file() and "." not in store.name.removeprefix("core."):
            json.loads(store.read_text())
