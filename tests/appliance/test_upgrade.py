"""Upgrades: today's code starts on config dirs captured from earlier releases
(``upgrade/fixture_<date>/``, made by ``upgrade/make_fixture.py``) and keeps everything;
a store written by a newer release is refused with a message naming file and versions."""

from __future__ import annotations

import json
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from gatehouse.core.testing import wait_until_sync

HERE = Path(__file__).resolve().parent / "upgrade"
FIXTURES = sorted(HERE.glob("fixture_*"))
GATEHOUSE = str(Path(sys.executable).parent / "gatehouse")


def _gh(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([GATEHOUSE, *args, "--config", str(config)], capture_output=True,
                          text=True, check=False)


def _count(db: Path, table: str) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def _copy(fixture: Path, tmp_path: Path) -> Path:
    config = tmp_path / "config"
    shutil.copytree(fixture / "config", config)
    return config


def test_there_is_a_fixture() -> None:
    assert FIXTURES, "commit a fixture made with make_fixture.py"


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.name for f in FIXTURES])
def test_todays_code_starts_on_an_earlier_config_dir(fixture: Path, tmp_path: Path) -> None:
    expected = json.loads((fixture / "expected.json").read_text())
    config = _copy(fixture, tmp_path)
    log = tmp_path / "run.log"
    with log.open("w") as out:
        proc = subprocess.Popen([GATEHOUSE, "run", "--config", str(config)], stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        def entities() -> set[str]:
            if proc.poll() is not None:
                pytest.fail(f"the host exited {proc.returncode}: {log.read_text()[-3000:]}")
            states = _gh(config, "states", "--json")
            return {s["entity_id"] for s in json.loads(states.stdout)} if states.stdout else set()

        wait_until_sync(lambda: set(expected["entities"]) <= entities(), timeout=60,
                        message="the fixture's entities")
        entries = json.loads(_gh(config, "entries", "list", "--json").stdout)
        assert sorted([e["entry_id"], e["domain"], e["title"]] for e in entries) == \
            expected["entries"]
        assert {e["state"] for e in entries} == {"loaded"}
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    assert "Traceback" not in log.read_text()
    auth = json.loads((config / ".storage" / "auth").read_text())
    assert [u["username"] for u in auth["data"]["users"]] == expected["users"]
    assert _count(config / ".storage/outbox.db", "messages") >= expected["outbox_rows"]
    assert _count(config / "gatehouse_v2.db", "states") >= expected["recorder_states"]


@pytest.mark.parametrize("store", [".storage/core.config_entries", ".storage/core.entity_registry",
                                   ".storage/auth"])
def test_a_newer_json_store_refuses_to_start(store: str, tmp_path: Path) -> None:
    config = _copy(FIXTURES[-1], tmp_path)
    path = config / store
    envelope = json.loads(path.read_text())
    envelope["version"] = 99
    path.write_text(json.dumps(envelope))
    before = path.read_bytes()
    proc = subprocess.run([GATEHOUSE, "run", "--config", str(config)], capture_output=True,
                          text=True, timeout=120, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output[-2000:]
    assert "newer" in output and str(path.name) in output, output[-2000:]
    assert path.read_bytes() == before  # never downgraded


@pytest.mark.parametrize(("name", "table", "bump", "read"), [
    (".storage/outbox.db", "messages", "PRAGMA user_version=99", "PRAGMA user_version"),
    ("gatehouse_v2.db", "states",
     "INSERT INTO schema_changes (schema_version, changed_ts) VALUES (99, 0)",
     "SELECT max(schema_version) FROM schema_changes"),
], ids=["outbox", "recorder"])
def test_a_newer_database_is_refused_and_left_alone(
    name: str, table: str, bump: str, read: str, tmp_path: Path
) -> None:
    config = _copy(FIXTURES[-1], tmp_path)
    db = config / name
    with sqlite3.connect(db) as conn:
        conn.execute(bump)
    before = _count(db, table)
    log = tmp_path / "run.log"
    with log.open("w") as out:
        proc = subprocess.Popen([GATEHOUSE, "run", "--config", str(config)], stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        # The host refuses to run on it: it stops by itself with EX_CONFIG (78).
        # Regression: only that entry failed ("unexpected error" with a traceback for
        # the outbox) and the host ran on without its exporter or recorder.
        wait_until_sync(lambda: proc.poll() is not None, timeout=60,
                        message="the host stopping by itself")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    text = log.read_text()
    assert proc.returncode == 78, text[-3000:]
    assert "Refusing to run" in text and "Traceback" not in text, text[-3000:]
    assert re.search(r"schema version 99,? (is )?newer than", text), text[-3000:]
    assert str(db) in text
    with sqlite3.connect(db) as conn:
        assert conn.execute(read).fetchone()[0] == 99
    assert _count(db, table) == before
