"""Tests for gatehouse.core.storage.Store."""

from __future__ import annotations

import json
import os
import random
import signal
import stat
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from gatehouse.core.storage import (
    CorruptStorageError,
    StorageError,
    Store,
    UnsupportedStorageVersionError,
)
from gatehouse.core.testing import wait_until

WRITER = Path(__file__).with_name("storage_writer.py")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def write_raw(path: Path, envelope: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(envelope))


def read_envelope(path: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(path.read_text())
    return result


# ---------------------------------------------------------------- basics


@pytest.mark.anyio
async def test_round_trip(tmp_path: Path) -> None:
    store: Store[dict[str, Any]] = Store(tmp_path, "core.test", 1)
    data = {"a": 1, "nested": {"list": [1, 2, 3]}, "text": "héllo ✓"}
    await store.save(data)

    assert await Store[dict[str, Any]](tmp_path, "core.test", 1).load() == data
    envelope = read_envelope(tmp_path / "core.test")
    assert envelope == {
        "version": 1,
        "minor_version": 1,
        "key": "core.test",
        "data": data,
    }
    assert store.write_count == 1
    assert "\n  " in (tmp_path / "core.test").read_text()  # small files are indented


@pytest.mark.anyio
async def test_large_data_written_compactly(tmp_path: Path) -> None:
    store: Store[list[int]] = Store(tmp_path, "big", 1)
    await store.save(list(range(50_000)))
    assert "\n" not in (tmp_path / "big").read_text()
    assert await store.load() == list(range(50_000))


@pytest.mark.anyio
async def test_load_missing_returns_none(tmp_path: Path) -> None:
    assert await Store[Any](tmp_path / "does-not-exist", "nothing", 1).load() is None


@pytest.mark.anyio
async def test_save_creates_storage_dir(tmp_path: Path) -> None:
    store: Store[int] = Store(tmp_path / "a" / "b", "k", 1)
    await store.save(5)
    assert await store.load() == 5


@pytest.mark.anyio
async def test_custom_encoder(tmp_path: Path) -> None:
    class Encoder(json.JSONEncoder):
        def default(self, o: Any) -> Any:
            if isinstance(o, datetime):
                return o.isoformat()
            if isinstance(o, set):
                return sorted(o)
            return super().default(o)

    store: Store[dict[str, Any]] = Store(tmp_path, "enc", 1, encoder=Encoder)
    await store.save({"when": datetime(2024, 1, 2, 3, 4, 5), "tags": {"b", "a"}})
    assert await store.load() == {"when": "2024-01-02T03:04:05", "tags": ["a", "b"]}


@pytest.mark.anyio
async def test_unserialisable_data_leaves_old_file(tmp_path: Path) -> None:
    store: Store[Any] = Store(tmp_path, "k", 1)
    await store.save({"ok": True})
    with pytest.raises(TypeError):
        await store.save({"bad": object()})
    assert await store.load() == {"ok": True}
    assert sorted(os.listdir(tmp_path)) == ["k"]


@pytest.mark.parametrize("key", ["", ".", "..", ".hidden", "a/b", "../escape"])
def test_invalid_keys_rejected(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValueError):
        Store[Any](tmp_path, key, 1)


@pytest.mark.anyio
async def test_file_mode_is_0600(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text(json.dumps({"version": 1, "data": "old"}))
    path.chmod(0o644)
    store: Store[str] = Store(tmp_path, "secret", 1)
    await store.save("token")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.anyio
async def test_concurrent_saves_serialised_last_wins(tmp_path: Path) -> None:
    store: Store[dict[str, Any]] = Store(tmp_path, "k", 1)
    async with anyio.create_task_group() as tg:
        for i in range(20):
            tg.start_soon(store.save, {"i": i, "pad": list(range(20_000))})
    assert store.write_count == 20
    loaded = await store.load()
    assert loaded is not None and loaded["i"] == 19
    assert sorted(os.listdir(tmp_path)) == ["k"]


@pytest.mark.anyio
async def test_remove(tmp_path: Path) -> None:
    store: Store[int] = Store(tmp_path, "k", 1)
    await store.save(1)
    await store.remove()
    assert not (tmp_path / "k").exists()
    assert await store.load() is None
    await store.remove()  # removing a missing file is fine


# ---------------------------------------------------------------- versions


@pytest.mark.anyio
async def test_major_migration_sync(tmp_path: Path) -> None:
    write_raw(
        tmp_path / "k", {"version": 1, "minor_version": 3, "key": "k", "data": ["a"]}
    )
    calls: list[tuple[int, int, Any]] = []

    def migrate(version: int, minor: int, data: Any) -> dict[str, Any]:
        calls.append((version, minor, data))
        return {"names": data}

    store: Store[dict[str, Any]] = Store(tmp_path, "k", 2, migrate=migrate)
    assert await store.load() == {"names": ["a"]}
    assert calls == [(1, 3, ["a"])]
    # Saved back in the new format, so the next start does not migrate again.
    envelope = read_envelope(tmp_path / "k")
    assert (envelope["version"], envelope["minor_version"]) == (2, 1)
    assert envelope["data"] == {"names": ["a"]}
    assert await store.load() == {"names": ["a"]}
    assert len(calls) == 1


@pytest.mark.anyio
async def test_minor_migration_async(tmp_path: Path) -> None:
    # Files written before minor versions existed have no minor_version: it means 1.
    write_raw(tmp_path / "k", {"version": 1, "key": "k", "data": {"x": 1}})

    async def migrate(version: int, minor: int, data: Any) -> dict[str, Any]:
        await anyio.lowlevel.checkpoint()
        assert (version, minor) == (1, 1)
        return {**data, "y": 2}

    store: Store[dict[str, Any]] = Store(
        tmp_path, "k", 1, minor_version=2, migrate=migrate
    )
    assert await store.load() == {"x": 1, "y": 2}
    envelope = read_envelope(tmp_path / "k")
    assert (envelope["version"], envelope["minor_version"]) == (1, 2)


@pytest.mark.anyio
async def test_newer_minor_is_loaded_as_is(tmp_path: Path) -> None:
    write_raw(
        tmp_path / "k", {"version": 1, "minor_version": 5, "key": "k", "data": 42}
    )

    def migrate(version: int, minor: int, data: Any) -> Any:
        raise AssertionError("must not migrate a newer minor version")

    store: Store[int] = Store(tmp_path, "k", 1, minor_version=2, migrate=migrate)
    assert await store.load() == 42
    assert read_envelope(tmp_path / "k")["minor_version"] == 5  # not rewritten


@pytest.mark.anyio
async def test_newer_major_version_refused(tmp_path: Path) -> None:
    path = tmp_path / "k"
    write_raw(path, {"version": 3, "minor_version": 1, "key": "k", "data": "future"})
    before = path.read_bytes()
    store: Store[Any] = Store(tmp_path, "k", 2, migrate=lambda v, m, d: d)

    with pytest.raises(
        UnsupportedStorageVersionError, match=r"version 3\.1.*newer"
    ) as info:
        await store.load()
    assert isinstance(info.value, StorageError)
    assert str(path) in str(info.value)
    # And the store will not overwrite the newer data afterwards.
    with pytest.raises(UnsupportedStorageVersionError):
        await store.save("old code's defaults")
    with pytest.raises(UnsupportedStorageVersionError):
        store.delay_save(lambda: "old code's defaults", 0)
    assert path.read_bytes() == before


@pytest.mark.anyio
async def test_version_change_without_migrate_fails(tmp_path: Path) -> None:
    path = tmp_path / "k"
    write_raw(path, {"version": 1, "minor_version": 1, "key": "k", "data": 1})
    before = path.read_bytes()
    with pytest.raises(StorageError, match="no migrate function"):
        await Store[int](tmp_path, "k", 2).load()
    assert path.read_bytes() == before


@pytest.mark.anyio
async def test_failing_migration_wrapped_and_file_untouched(tmp_path: Path) -> None:
    path = tmp_path / "k"
    write_raw(path, {"version": 1, "minor_version": 1, "key": "k", "data": 1})
    before = path.read_bytes()

    def migrate(version: int, minor: int, data: Any) -> Any:
        raise KeyError("boom")

    with pytest.raises(StorageError, match="failed") as info:
        await Store[int](tmp_path, "k", 2, migrate=migrate).load()
    assert isinstance(info.value.__cause__, KeyError)
    assert path.read_bytes() == before


# ---------------------------------------------------------------- corruption


@pytest.mark.anyio
@pytest.mark.parametrize(
    "content",
    [
        b'{"version": 1, "data": [1, 2',  # truncated
        b"",
        b"\xff\xfe not utf-8",
        b"[1, 2, 3]",
        b'{"version": 1}',
        b'{"version": "1", "data": 1}',
        b'{"version": true, "data": 1}',
    ],
)
async def test_corrupt_file_moved_aside(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "core.thing"
    path.write_bytes(content)
    store: Store[Any] = Store(tmp_path, "core.thing", 1)

    with pytest.raises(CorruptStorageError) as info:
        await store.load()
    err = info.value
    assert err.moved_to is not None
    assert str(path) in str(err) and str(err.moved_to) in str(err)
    assert "corrupt" in str(err) and "moved to" in str(err)
    assert err.moved_to.name.startswith("core.thing.corrupt.")
    assert err.moved_to.read_bytes() == content
    assert not path.exists()

    # The next start is not stuck: it starts empty and can save again.
    assert await store.load() is None
    await store.save({"fresh": True})
    assert await store.load() == {"fresh": True}


@pytest.mark.anyio
async def test_repeated_corruption_keeps_every_copy(tmp_path: Path) -> None:
    store: Store[Any] = Store(tmp_path, "k", 1)
    moved = []
    for i in range(3):
        (tmp_path / "k").write_text(f"garbage {i}")
        with pytest.raises(CorruptStorageError) as info:
            await store.load()
        moved.append(info.value.moved_to)
    assert len(set(moved)) == 3
    assert sorted(p.read_text() for p in moved if p is not None) == [
        "garbage 0",
        "garbage 1",
        "garbage 2",
    ]


@pytest.mark.anyio
async def test_stale_temp_files_swept_on_load(tmp_path: Path) -> None:
    store: Store[int] = Store(tmp_path, "foo", 1)
    await store.save(1)
    (tmp_path / ".foo.abc123_x.tmp").write_text('{"version": 1, "da')  # killed write
    other = tmp_path / ".foo.bar.abc123.tmp"  # belongs to key "foo.bar"
    other.write_text("in flight")
    assert await store.load() == 1
    assert sorted(os.listdir(tmp_path)) == [".foo.bar.abc123.tmp", "foo"]


# ---------------------------------------------------------------- delayed saves


@pytest.mark.anyio
async def test_delay_save_coalesces(tmp_path: Path) -> None:
    store: Store[dict[str, int]] = Store(tmp_path, "k", 1)
    state = {"counter": 0}
    for i in range(100):
        state["counter"] = i
        store.delay_save(lambda: dict(state), delay=0.05)
    state["counter"] = 1000  # data_fn is evaluated at write time, not at call time
    assert store.write_count == 0

    await wait_until(lambda: store.write_count >= 1)
    await store.flush()  # nothing pending any more: must not write again
    assert store.write_count == 1
    assert read_envelope(tmp_path / "k")["data"] == {"counter": 1000}


@pytest.mark.anyio
async def test_delay_save_uses_latest_data_fn(tmp_path: Path) -> None:
    store: Store[str] = Store(tmp_path, "k", 1)
    store.delay_save(lambda: "first", delay=0.02)
    store.delay_save(lambda: "second", delay=60)  # never pushes the deadline back
    await wait_until(lambda: store.write_count == 1)
    assert await store.load() == "second"


@pytest.mark.anyio
async def test_delay_save_shorter_delay_brings_deadline_forward(tmp_path: Path) -> None:
    store: Store[str] = Store(tmp_path, "k", 1)
    store.delay_save(lambda: "slow", delay=3600)
    store.delay_save(lambda: "fast", delay=0)
    await wait_until(lambda: store.write_count == 1)
    assert read_envelope(tmp_path / "k")["data"] == "fast"


@pytest.mark.anyio
async def test_flush_writes_pending_data(tmp_path: Path) -> None:
    store: Store[list[int]] = Store(tmp_path, "k", 1)
    await store.flush()  # nothing pending: no-op
    assert store.write_count == 0 and not (tmp_path / "k").exists()

    store.delay_save(lambda: [1, 2, 3], delay=3600)
    await store.flush()
    assert store.write_count == 1
    assert read_envelope(tmp_path / "k")["data"] == [1, 2, 3]
    await store.flush()
    assert store.write_count == 1


@pytest.mark.anyio
async def test_flush_waits_for_delayed_write_in_flight(tmp_path: Path) -> None:
    store: Store[list[int]] = Store(tmp_path, "k", 1)
    store.delay_save(lambda: list(range(100_000)), delay=0)
    # Let the timer fire and the write task start, but not necessarily finish.
    await wait_until(lambda: not store._timer)
    await store.flush()
    assert store.write_count == 1
    assert len(read_envelope(tmp_path / "k")["data"]) == 100_000


@pytest.mark.anyio
async def test_load_returns_pending_delayed_data(tmp_path: Path) -> None:
    store: Store[str] = Store(tmp_path, "k", 1)
    await store.save("on disk")
    store.delay_save(lambda: "pending", delay=3600)
    assert await store.load() == "pending"
    await store.flush()
    assert await Store[str](tmp_path, "k", 1).load() == "pending"


@pytest.mark.anyio
async def test_save_supersedes_pending_delayed_save(tmp_path: Path) -> None:
    store: Store[str] = Store(tmp_path, "k", 1)
    store.delay_save(lambda: "delayed", delay=3600)
    await store.save("explicit")
    await store.flush()
    assert store.write_count == 1
    assert read_envelope(tmp_path / "k")["data"] == "explicit"


@pytest.mark.anyio
async def test_remove_cancels_pending_save(tmp_path: Path) -> None:
    store: Store[str] = Store(tmp_path, "k", 1)
    await store.save("x")
    store.delay_save(lambda: "pending", delay=3600)
    await store.remove()
    await store.flush()
    assert store.write_count == 1
    assert not (tmp_path / "k").exists()


@pytest.mark.anyio
async def test_delayed_write_error_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store: Store[Any] = Store(tmp_path, "k", 1)
    store.delay_save(lambda: {"bad": object()}, delay=0)
    await wait_until(lambda: "Error writing delayed save" in caplog.text)
    assert store.write_count == 0


def test_delay_save_needs_running_loop(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        Store[int](tmp_path, "k", 1).delay_save(lambda: 1)


# ---------------------------------------------------------------- crash safety


def check_payload(data: Any) -> int:
    seq = data["seq"]
    items = data["items"]
    assert data["n"] == len(items), f"seq {seq}: n={data['n']} but {len(items)} items"
    assert items == [f"{seq}:{j}" for j in range(len(items))], f"seq {seq}: mixed items"
    return int(seq)


def load_in_new_loop(storage_dir: Path, key: str) -> Any:
    store: Store[Any] = Store(storage_dir, key, 1)

    async def load() -> Any:
        return await store.load()

    return anyio.run(load)


@pytest.mark.timeout(60)
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_sigkill_during_saves_never_corrupts(tmp_path: Path) -> None:
    seed = random.randrange(1 << 32)
    rng = random.Random(seed)
    key = "crash.test"
    path = tmp_path / key
    last_on_disk: int | None = None

    for round_no in range(20):
        where = f"seed={seed} round={round_no}"
        proc = subprocess.Popen(
            [sys.executable, str(WRITER), str(tmp_path), key],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None and proc.stderr is not None
        try:
            first = proc.stdout.readline().split()
            assert first[:1] == ["loaded"], f"{where}: {first} {proc.stderr.read()}"
            # The writer's own load after the previous kill saw what we saw on disk.
            assert first[1] == (
                "none" if last_on_disk is None else str(last_on_disk)
            ), where

            wanted = rng.randint(1, 4)
            confirmed: int | None = None
            for _ in range(wanted):
                line = proc.stdout.readline().split()
                assert line[:1] == ["saved"], f"{where}: {line} {proc.stderr.read()}"
                confirmed = int(line[1])
            # Jitter so the kill lands at a random point of a save, not between them.
            time.sleep(rng.uniform(0, 0.03))
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            # Every "saved" line was printed only after save() returned.
            for line_text in proc.stdout.read().splitlines():
                confirmed = int(line_text.split()[1])
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            proc.stderr.close()
        assert proc.returncode == -signal.SIGKILL, where

        envelope = json.loads(path.read_bytes())  # parses: never half-written
        assert envelope["version"] == 1 and envelope["key"] == key, where
        on_disk = check_payload(envelope["data"])
        assert confirmed is not None
        # Durable: at least the last confirmed save; at most one more, if the kill came
        # between os.replace and the print.
        assert confirmed <= on_disk <= confirmed + 1, (
            f"{where}: {confirmed=} {on_disk=}"
        )
        names = os.listdir(tmp_path)
        assert not [n for n in names if ".corrupt." in n], f"{where}: {names}"
        assert len([n for n in names if n.endswith(".tmp")]) <= 1, f"{where}: {names}"
        last_on_disk = on_disk

    # The leftovers of the last kill do not disturb a normal load, which tidies them.
    loaded = load_in_new_loop(tmp_path, key)
    assert check_payload(loaded) == last_on_disk
    assert os.listdir(tmp_path) == [key]


# ---------------------------------------------------------------- file modes (issue 9)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.anyio
async def test_a_loose_storage_dir_and_file_are_made_private_at_load(tmp_path: Path) -> None:
    storage = tmp_path / ".storage"
    write_raw(storage / "secret", {"version": 1, "data": "old"})
    storage.chmod(0o755)
    (storage / "secret").chmod(0o644)
    store: Store[str] = Store(storage, "secret", 1)
    assert await store.load() == "old"
    assert _mode(storage) == 0o700
    assert _mode(storage / "secret") == 0o600


@pytest.mark.anyio
async def test_a_new_storage_dir_is_private_under_a_loose_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        store: Store[int] = Store(tmp_path / "config" / ".storage", "k", 1)
        await store.save(1)
    finally:
        os.umask(old)
    assert _mode(tmp_path / "config" / ".storage") == 0o700
    assert _mode(tmp_path / "config" / ".storage" / "k") == 0o600
