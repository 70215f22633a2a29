"""Audit log retention (issue 15: every store that grows has a size bound).

With ``max_total_size`` the writer deletes the oldest files beyond it; every file starts
with a signed checkpoint (the anchor) and an ``audit.pruned`` record is written before
anything is deleted, so ``gatehouse audit verify`` still proves the remaining chain,
and old files deleted by hand (beyond what retention recorded) are still caught.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import voluptuous as vol
from auditools import ALICE, records

from gatehouse.integrations.audit.config import CONFIG_SCHEMA
from gatehouse.integrations.audit.const import CHECKPOINTS_FILE, DEFAULT_MAX_TOTAL_SIZE
from gatehouse.integrations.audit.keystore import load_or_create
from gatehouse.integrations.audit.record import ACTION_CHECKPOINT
from gatehouse.integrations.audit.verify import verify_path
from gatehouse.integrations.audit.writer import (
    ACTION_PRUNED,
    LogWriter,
    Pending,
    ensure_dir,
    log_files,
)

GATEHOUSE = Path(sys.executable).parent / "gatehouse"
FILE = 4000
TOTAL = 12_000


def _writer(directory: Path, max_total_size: int | None = TOTAL) -> LogWriter:
    ensure_dir(directory)
    private, verifier = load_or_create(directory)
    writer = LogWriter(directory, private, verifier, max_file_size=FILE,
                       max_total_size=max_total_size)
    writer.open()
    return writer


def _write(writer: LogWriter, count: int, *, checkpoint_every: int = 25) -> None:
    for index in range(count):
        writer.write_batch([Pending("service.call", ALICE, f"light.l{index % 7}", "ok",
                                    {"n": index})], (index + 1) % checkpoint_every == 0)


def _size(directory: Path) -> int:
    return sum(p.stat().st_size for p in log_files(directory))


def _cli_verify(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(GATEHOUSE), "audit", "verify", str(directory)],
                          capture_output=True, text=True, timeout=60, check=False)


def test_old_files_are_deleted_and_the_rest_verifies(tmp_path: Path) -> None:
    writer = _writer(tmp_path)
    _write(writer, 400)
    writer.write_batch([], True)
    writer.close()

    files = log_files(tmp_path)
    assert files[0].name != "audit-000001.jsonl", "nothing was deleted"
    assert writer.pruned_files > 0
    # Bounded: the files together stay within the total plus the file being filled.
    assert _size(tmp_path) <= TOTAL + FILE
    # Every file starts with a checkpoint (the anchor) whose note covers the records
    # before it.
    for path in files:
        first = json.loads(path.read_bytes().split(b"\n", 1)[0])
        assert first["action"] == ACTION_CHECKPOINT, path.name
    kept = records(tmp_path)
    pruned = [r for r in kept if r["action"] == ACTION_PRUNED]
    assert pruned and pruned[-1]["details"]["first_seq"] == kept[0]["seq"]
    assert pruned[-1]["details"]["files"][-1] < files[0].name

    # The checkpoints file lists the remaining files only (it is bounded too).
    listed = {json.loads(line)["file"] for line in
              (tmp_path / CHECKPOINTS_FILE).read_text(encoding="utf-8").splitlines()}
    assert listed <= {p.name for p in files}

    report = verify_path(tmp_path, strict=True)
    assert report.ok, report.problem
    assert report.first_seq == kept[0]["seq"] > 1
    assert any("deleted by retention" in w for w in report.warnings)
    done = _cli_verify(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith(f"OK: {len(kept)} records (seq {kept[0]['seq']}..")

    # A reopened writer carries on the same chain and keeps pruning.
    writer = _writer(tmp_path)
    _write(writer, 200)
    writer.write_batch([], True)
    writer.close()
    assert verify_path(tmp_path, strict=True).ok
    assert _size(tmp_path) <= TOTAL + FILE


def test_files_deleted_by_hand_beyond_retention_are_caught(tmp_path: Path) -> None:
    writer = _writer(tmp_path)
    _write(writer, 400)
    writer.write_batch([], True)
    writer.close()
    assert verify_path(tmp_path).ok
    # One more file removed than retention recorded: its first record is an anchor
    # too, but no audit.pruned record says the log starts there.
    log_files(tmp_path)[0].unlink()
    report = verify_path(tmp_path)
    assert not report.ok
    assert "no audit.pruned record" in (report.problem or "")
    assert _cli_verify(tmp_path).returncode == 1


def test_a_log_without_retention_deleted_by_hand_still_fails(tmp_path: Path) -> None:
    """No bound: no anchors, nothing deleted, and a missing first file is an error."""
    writer = _writer(tmp_path, None)
    _write(writer, 300)
    writer.write_batch([], True)
    writer.close()
    files = log_files(tmp_path)
    assert files[0].name == "audit-000001.jsonl" and len(files) > 3
    assert not any(r["action"] == ACTION_PRUNED for r in records(tmp_path))
    files[0].unlink()
    report = verify_path(tmp_path)
    assert not report.ok and "does not start at seq 1" in (report.problem or "")


def test_an_altered_anchor_is_refused(tmp_path: Path) -> None:
    writer = _writer(tmp_path)
    _write(writer, 400)
    writer.write_batch([], True)
    writer.close()
    first = log_files(tmp_path)[0]
    lines = first.read_bytes().split(b"\n")
    anchor = json.loads(lines[0])
    anchor["prev"] = "0" * 64  # the chain start moved: the signed note no longer fits
    lines[0] = json.dumps(anchor, sort_keys=True, separators=(",", ":")).encode()
    first.write_bytes(b"\n".join(lines))
    report = verify_path(tmp_path)
    assert not report.ok


def test_old_files_without_anchors_are_kept_until_an_anchored_file(tmp_path: Path) -> None:
    """A log written before retention existed: its files start with plain records, so
    they go only together, up to the first file that starts with an anchor."""
    writer = _writer(tmp_path, None)
    _write(writer, 200)
    writer.close()
    old = [p.name for p in log_files(tmp_path)]
    writer = _writer(tmp_path)
    _write(writer, 300)
    writer.write_batch([], True)
    writer.close()
    remaining = log_files(tmp_path)
    # All old files went together (the last one, continued by the new writer, too);
    # the log now starts at an anchor.
    assert set(old).isdisjoint(p.name for p in remaining)
    assert json.loads(remaining[0].read_bytes().split(b"\n", 1)[0])["action"] == \
        ACTION_CHECKPOINT
    assert verify_path(tmp_path, strict=True).ok


def test_the_option_and_its_default() -> None:
    assert CONFIG_SCHEMA({})["max_total_size"] == DEFAULT_MAX_TOTAL_SIZE == 1 << 30
    assert CONFIG_SCHEMA({"max_total_size": 1 << 20})["max_total_size"] == 1 << 20
    with pytest.raises(vol.Invalid):
        CONFIG_SCHEMA({"max_total_size": 10})


@pytest.mark.anyio
async def test_the_entry_opens_its_writer_with_the_bound(tmp_path: Path) -> None:
    from gatehouse.integrations.audit.runtime import AuditRuntime

    for config, bound in (({"max_total_size": 1 << 20}, 1 << 20), ({}, 1 << 30)):
        directory = tmp_path / str(bound)
        runtime = await AuditRuntime.open(CONFIG_SCHEMA(config), directory)
        try:
            assert runtime.log.writer.max_total_size == bound
        finally:
            runtime.log.writer.close()
    # An entry made before the option existed (no key in its data) gets the default.
    runtime = await AuditRuntime.open({k: v for k, v in CONFIG_SCHEMA({}).items()
                                       if k != "max_total_size"}, tmp_path / "old")
    try:
        assert runtime.log.writer.max_total_size == DEFAULT_MAX_TOTAL_SIZE
    finally:
        runtime.log.writer.close()


def test_a_crash_between_the_record_and_the_deletion_verifies(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The audit.pruned record is on disk first: files it gave up that are still there
    (the deletion never ran) are fine, and the next prune deletes them."""
    with monkeypatch.context() as patch:
        patch.setattr(Path, "unlink", lambda self, missing_ok=False: None)
        writer = _writer(tmp_path)
        _write(writer, 400)
        writer.write_batch([], True)
        writer.close()
    assert log_files(tmp_path)[0].name == "audit-000001.jsonl"
    assert any(r["action"] == ACTION_PRUNED for r in records(tmp_path))
    assert verify_path(tmp_path, strict=True).ok
    writer = _writer(tmp_path)
    _write(writer, 100)
    writer.write_batch([], True)
    writer.close()
    assert log_files(tmp_path)[0].name != "audit-000001.jsonl"
    assert verify_path(tmp_path, strict=True).ok
