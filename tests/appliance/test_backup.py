"""Backups: an archive made while a host runs (SQLite snapshots through the backup API),
encrypted, restored into a fresh dir, a host started from it with the same entries,
entities, users, outbox contents and history; damaged or foreign archives refused."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
import tarfile
import threading
import urllib.request
from pathlib import Path

import pytest
from appliancetools import running_host

from gatehouse.core.backup import BackupError, BadPassphraseError, create_backup, restore_backup
from gatehouse.core.backup.archive import MANIFEST
from gatehouse.core.backup.retention import list_backups, prune
from gatehouse.core.testing import free_port, wait_until_sync

GATEHOUSE = Path(sys.executable).parent / "gatehouse"
PASSPHRASE = "correct horse battery staple"

CONFIG = """\
gatehouse:
  name: Backup test
http:
  server_host: 127.0.0.1
  server_port: @PORT@
demo:
  name: Demo
  update_interval: 0.2
recorder:
  commit_interval: 0.2
influxdb:
  host: 127.0.0.1
  port: {dead_port}
  database: nowhere
  flush_interval: 0.2
"""


def _post(port: int, path: str, body: dict[str, str]) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return err.code


def _rows(db: Path, query: str) -> list[tuple[object, ...]]:
    if not db.exists():
        return []
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return list(conn.execute(query))


def _cli(*args: str, config: Path) -> str:
    return subprocess.run([str(GATEHOUSE), *args, "--config", str(config)], capture_output=True,
                          text=True, check=True).stdout


def _outbox(config: Path) -> set[tuple[object, ...]]:
    return set(_rows(config / ".storage/outbox.db",
                     "SELECT id, destination, payload, created FROM messages"))


def _history(config: Path) -> set[tuple[object, ...]]:
    return set(_rows(config / "gatehouse_v2.db",
                     "SELECT state_id, state, last_updated_ts FROM states"))


@pytest.mark.slow
def test_backup_of_a_running_host_restores_into_a_working_host(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    (source / "configuration.yaml").write_text(CONFIG.format(dead_port=free_port()))
    (source / "secrets.yaml").write_text("x: y\n")
    archive = tmp_path / "backup.tar.gz.enc"
    env = {"GATEHOUSE_BACKUP_PASSPHRASE": PASSPHRASE}
    with running_host(GATEHOUSE, source) as port:
        assert _post(port, "/api/onboarding/users",
                     {"username": "owner", "password": "s3cret-pass", "name": "Owner"}) == 200
        wait_until_sync(lambda: len(_outbox(source)) >= 20 and len(_history(source)) >= 20,
                        timeout=30, message="outbox and recorder rows")
        created = subprocess.run(
            [str(GATEHOUSE), "backup", "create", "--config", str(source), "--output",
             str(archive), "--passphrase"], capture_output=True, text=True, check=True,
            env={**os.environ, **env},
        )
        assert "encrypted" in created.stdout
        for name in (".storage/outbox.db", "gatehouse_v2.db"):
            assert name in created.stdout
        entries = json.loads(_cli("entries", "list", "--json", config=source))
        entities = {s["entity_id"] for s in json.loads(_cli("states", "--json", config=source))}
    outbox_after, history_after = _outbox(source), _history(source)

    target = tmp_path / "restored"
    wrong = subprocess.run(
        [str(GATEHOUSE), "backup", "restore", str(archive), "--config", str(target),
         "--passphrase"], capture_output=True, text=True, check=False,
        env={**os.environ, "GATEHOUSE_BACKUP_PASSPHRASE": "wrong"},
    )
    assert wrong.returncode == 1 and "wrong passphrase" in wrong.stderr
    assert not target.exists()
    subprocess.run([str(GATEHOUSE), "backup", "restore", str(archive), "--config", str(target),
                    "--passphrase"], capture_output=True, text=True, check=True,
                   env={**os.environ, **env})

    # The snapshots are consistent copies of what the running host had committed.
    restored_outbox, restored_history = _outbox(target), _history(target)
    assert len(restored_outbox) >= 20 and restored_outbox <= outbox_after
    assert len(restored_history) >= 20 and restored_history <= history_after
    assert (target / "secrets.yaml").read_text() == "x: y\n"
    assert not (target / ".gatehouse.lock").exists()
    assert (target / ".storage").stat().st_mode & 0o077 == 0

    with running_host(GATEHOUSE, target, port=port) as port2:
        assert _post(port2, "/auth/login", {"username": "owner", "password": "s3cret-pass"}) == 200
        assert _post(port2, "/auth/login", {"username": "owner", "password": "nope"}) != 200
        again = json.loads(_cli("entries", "list", "--json", config=target))
        states = {s["entity_id"] for s in json.loads(_cli("states", "--json", config=target))}
    key = [(e["entry_id"], e["domain"], e["title"], e["state"]) for e in entries]
    assert [(e["entry_id"], e["domain"], e["title"], e["state"]) for e in again] == key
    assert states == entities
    # The restored host went on from the restored rows: nothing lost, ids not reused.
    assert restored_outbox <= _outbox(target)
    assert restored_history <= _history(target)


def _config(tmp_path: Path) -> Path:
    config = tmp_path / "config"
    (config / ".storage").mkdir(parents=True)
    (config / "configuration.yaml").write_text("gatehouse:\n")
    return config


def test_database_snapshot_is_consistent_while_a_writer_commits(tmp_path: Path) -> None:
    """Every transaction inserts two rows; a torn copy would have an odd count."""
    config = _config(tmp_path)
    db = config / ".storage" / "busy.db"
    conn = sqlite3.connect(db, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (n INTEGER, pad BLOB)")
    conn.commit()
    stop = threading.Event()

    def write() -> None:
        n = 0
        while not stop.is_set():
            with conn:
                conn.execute("INSERT INTO t VALUES (?, randomblob(2000))", (n,))
                conn.execute("INSERT INTO t VALUES (?, randomblob(2000))", (n,))
            n += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        wait_until_sync(lambda: db.stat().st_size > 500_000, message="a busy database")
        info = create_backup(config, tmp_path / "b.tar.gz")
    finally:
        stop.set()
        writer.join()
        conn.close()
    assert info.databases == [".storage/busy.db"]
    restored = tmp_path / "restored"
    restore_backup(info.path, restored)
    (count,) = _rows(restored / ".storage/busy.db", "SELECT count(*) FROM t")[0]
    assert isinstance(count, int) and count > 0 and count % 2 == 0
    assert not list((restored / ".storage").glob("busy.db-*"))


def test_files_changing_during_the_backup_restore_cleanly(tmp_path: Path) -> None:
    """A log that grows and a JSON store replaced by rename while the archive is made:
    the checksums in the manifest must match what was archived (restore checks them)."""
    config = _config(tmp_path)
    log, store = config / "audit" / "audit.log", config / ".storage" / "core.json"
    log.parent.mkdir()
    log.write_text("")
    store.write_text("{}")
    for i in range(200):  # enough files that the writer gets between hash and archive
        (config / ".storage" / f"f{i}.json").write_text("{}" * 5000)
    stop = threading.Event()

    def churn() -> None:
        n = 0
        while not stop.is_set():
            with log.open("a") as out:
                out.write(f"line {n}\n" * 50)
            tmp = store.with_suffix(".tmp")
            tmp.write_text(json.dumps({"n": n, "pad": "x" * (n % 5000)}))
            os.replace(tmp, store)
            n += 1

    writer = threading.Thread(target=churn)
    writer.start()
    try:
        archives = [create_backup(config, tmp_path / f"c{i}.tar.gz").path for i in range(3)]
    finally:
        stop.set()
        writer.join()
    for i, archive in enumerate(archives):
        restored = tmp_path / f"r{i}"
        restore_backup(archive, restored)
        json.loads((restored / ".storage" / "core.json").read_text())
        lines = (restored / "audit" / "audit.log").read_text().splitlines()
        assert all(line.startswith("line ") for line in lines[:-1])


def test_restore_refuses_bad_archives_and_leaves_target_alone(tmp_path: Path) -> None:
    config = _config(tmp_path)
    (config / ".storage" / "core.json").write_text("{}")
    good = create_backup(config, tmp_path / "good.tar.gz").path

    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "x").write_text("keep")
    with pytest.raises(BackupError, match="not empty"):
        restore_backup(good, occupied)
    assert (occupied / "x").read_text() == "keep"

    def rewrite(name: str, change: dict[str, object] | None = None,
                extra: tuple[str, bytes] | None = None, tamper: bool = False) -> Path:
        out = tmp_path / name
        with tarfile.open(good) as src, tarfile.open(out, "w:gz") as dst:
            for member in src:
                data = src.extractfile(member).read()  # type: ignore[union-attr]
                if member.name == MANIFEST and change:
                    data = json.dumps({**json.loads(data), **change}).encode()
                elif tamper and member.name.endswith("core.json"):
                    data = b'{"x": 1}'
                member.size = len(data)
                dst.addfile(member, io.BytesIO(data))
            if extra:
                member = tarfile.TarInfo(extra[0])
                member.size = len(extra[1])
                dst.addfile(member, io.BytesIO(extra[1]))
        return out

    cases = {
        "newer.tar.gz": (rewrite("newer.tar.gz", {"format": 99}), "newer Gatehouse"),
        "tampered.tar.gz": (rewrite("tampered.tar.gz", tamper=True), "checksum"),
        "escape.tar.gz": (rewrite("escape.tar.gz", extra=("config/../../evil", b"x")),
                          "unexpected member"),
    }
    for name, (archive, message) in cases.items():
        target = tmp_path / f"t-{name}"
        with pytest.raises(BackupError, match=message):
            restore_backup(archive, target)
        assert not target.exists(), name
    assert not (tmp_path.parent / "evil").exists()

    encrypted = create_backup(config, tmp_path / "e.tar.gz.enc", passphrase="pw-pw-pw").path
    with pytest.raises(BackupError, match="encrypted"):
        restore_backup(encrypted, tmp_path / "t-enc")
    with pytest.raises(BadPassphraseError):
        restore_backup(encrypted, tmp_path / "t-enc", passphrase="other")
    cut = tmp_path / "cut.enc"
    cut.write_bytes(encrypted.read_bytes()[:-10])
    with pytest.raises(BackupError):
        restore_backup(cut, tmp_path / "t-cut", passphrase="pw-pw-pw")
    restore_backup(encrypted, tmp_path / "t-enc", passphrase="pw-pw-pw")
    assert (tmp_path / "t-enc" / ".storage" / "core.json").read_text() == "{}"


def test_default_location_and_retention(tmp_path: Path) -> None:
    config = _config(tmp_path)
    made = [create_backup(config).path for _ in range(3)]
    assert all(p.parent == config / "backups" for p in made)
    # Archives never contain older archives.
    with tarfile.open(made[-1]) as tar:
        assert not [n for n in tar.getnames() if "backups/" in n]
    for i, path in enumerate(made):  # distinct names even within one second
        path.rename(path.with_name(f"gatehouse-2026010{i}T000000Z.tar.gz"))
    assert len(list_backups(config)) == 3
    deleted = prune(config, 1)
    assert len(deleted) == 2 and [p.name for p in list_backups(config)] == [
        "gatehouse-20260102T000000Z.tar.gz"]
