"""``gatehouse audit verify``: every change to a log is found and named, offline.

The sample log (auditools.sample_log): 250 records, a checkpoint every 100 and one at
the end, rotated every ~4 KB (16 files), so every kind of place is covered: first and
last line of a file, a checkpoint record, the checkpoints file.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from auditools import checkpoints_bytes, open_writer, read_files, sample_log

from gatehouse.core.cli import main
from gatehouse.integrations.audit.const import CHECKPOINTS_FILE, PUBLIC_KEY_FILE
from gatehouse.integrations.audit.note import Verifier
from gatehouse.integrations.audit.verify import VerifyCache, verify_bytes, verify_path
from gatehouse.integrations.audit.writer import Pending


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "audit"
    sample_log(directory)
    return directory


def _verifier(directory: Path) -> Verifier:
    return Verifier.parse((directory / PUBLIC_KEY_FILE).read_text())


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def test_the_sample_is_intact_and_has_what_the_flip_test_needs(log_dir: Path) -> None:
    report = verify_path(log_dir)
    assert report.ok, report.problem
    assert (report.records, report.last_seq, report.warnings) == (253, 253, [])
    assert report.checkpoints == 3 and report.signed_through == 252
    assert len(read_files(log_dir)) >= 2


def test_every_byte_flip_is_detected(log_dir: Path) -> None:
    """Each byte of every log file and of checkpoints.jsonl, changed alone, is found."""
    verifier = _verifier(log_dir)
    files = read_files(log_dir)
    checkpoints = checkpoints_bytes(log_dir)
    cache = VerifyCache()
    assert verify_bytes(files, checkpoints, verifier, cache=cache).ok
    started = time.perf_counter()
    missed: list[tuple[str, int]] = []
    flips = 0
    for index, (name, data) in enumerate(files):
        for pos in range(len(data)):
            changed = bytearray(data)
            changed[pos] ^= 0x01
            variant = list(files)
            variant[index] = (name, bytes(changed))
            flips += 1
            report = verify_bytes(variant, checkpoints, verifier, cache=cache)
            if report.ok:
                missed.append((name, pos))
            else:
                assert report.problem is not None and "line" in report.problem
    for pos in range(len(checkpoints)):
        changed = bytearray(checkpoints)
        changed[pos] ^= 0x01
        flips += 1
        if verify_bytes(files, bytes(changed), verifier, cache=cache).ok:
            missed.append((CHECKPOINTS_FILE, pos))
    elapsed = time.perf_counter() - started
    print(f"{flips} flips verified in {elapsed:.1f} s")
    assert flips > 60_000
    assert missed == []


def test_a_flip_is_named_by_file_and_line(log_dir: Path) -> None:
    path = log_dir / "audit-000003.jsonl"
    lines = _lines(path)
    lines[4] = lines[4].replace(b'"light.l', b'"light.x', 1)
    path.write_bytes(b"".join(lines))
    report = verify_path(log_dir)
    # The changed line is still a well-formed record: the next one's prev exposes it.
    assert report.problem is not None
    assert report.problem.startswith("audit-000003.jsonl line 6: prev is not the hash")


def test_deleted_inserted_and_reordered_records(log_dir: Path) -> None:
    path = log_dir / "audit-000002.jsonl"
    original = _lines(path)

    path.write_bytes(b"".join(original[:3] + original[4:]))
    problem = verify_path(log_dir).problem or ""
    assert problem.startswith("audit-000002.jsonl line 4: seq") and "deleted" in problem

    path.write_bytes(b"".join([*original[:3], original[2], *original[3:]]))
    problem = verify_path(log_dir).problem or ""
    assert problem.startswith("audit-000002.jsonl line 4: seq") and "inserted" in problem

    path.write_bytes(b"".join([*original[:3], original[4], original[3], *original[5:]]))
    problem = verify_path(log_dir).problem or ""
    assert problem.startswith("audit-000002.jsonl line 4: seq")

    path.write_bytes(b"".join(original))
    assert verify_path(log_dir).ok


def test_truncation_is_found_from_the_checkpoints_file(log_dir: Path) -> None:
    files = sorted(log_dir.glob("audit-*.jsonl"))
    last = files[-1]
    last.write_bytes(b"".join(_lines(last)[:-3]))
    problem = verify_path(log_dir).problem or ""
    assert problem.startswith("truncated: checkpoints.jsonl line 3 signs a log of 252")

    last.unlink()  # the whole newest file gone
    assert (verify_path(log_dir).problem or "").startswith("truncated:")

    files[-2].write_bytes(files[-2].read_bytes()[:-10])  # a cut in the middle of a line
    problem = verify_path(log_dir).problem or ""
    assert "incomplete last line" in problem and problem.startswith(files[-2].name)


def test_a_missing_first_file_is_named_and_from_starts_later(log_dir: Path) -> None:
    (log_dir / "audit-000001.jsonl").unlink()
    problem = verify_path(log_dir).problem or ""
    assert "does not start at seq 1" in problem
    report = verify_path(log_dir, start=log_dir / "audit-000002.jsonl")
    assert report.ok, report.problem
    assert report.first_seq is not None and report.first_seq > 1


def test_a_checkpoint_of_another_log_or_key_is_refused(tmp_path: Path, log_dir: Path) -> None:
    other = tmp_path / "other"
    sample_log(other, records=120)
    foreign_note = json.loads(checkpoints_bytes(other).splitlines()[0])["note"]
    # Another log's checkpoint in place of ours (in the log file).
    for path in sorted(log_dir.glob("audit-*.jsonl")):
        lines = _lines(path)
        for number, line in enumerate(lines):
            record = json.loads(line)
            if record["action"] == "audit.checkpoint":
                record["checkpoint"] = foreign_note
                lines[number] = json.dumps(record, sort_keys=True,
                                           separators=(",", ":")).encode() + b"\n"
                path.write_bytes(b"".join(lines))
                problem = verify_path(log_dir).problem or ""
                assert problem.startswith(f"{path.name} line {number + 1}: checkpoint: origin")
                assert "another log" in problem
                break
        else:
            continue
        break
    # The other log's checkpoints file beside our log.
    sample_log(log_dir.parent / "fresh")
    fresh = log_dir.parent / "fresh"
    (fresh / CHECKPOINTS_FILE).write_bytes(checkpoints_bytes(other))
    assert "another log" in (verify_path(fresh).problem or "")
    # Our log checked with the other log's key: the genesis (and origin) do not match.
    fresh2 = log_dir.parent / "fresh2"
    sample_log(fresh2)
    problem = verify_path(fresh2, key=other / PUBLIC_KEY_FILE).problem or ""
    assert "line 1" in problem


def test_a_valid_checkpoint_moved_elsewhere_in_the_same_log_is_refused(log_dir: Path) -> None:
    notes = [json.loads(line) for line in checkpoints_bytes(log_dir).splitlines()]
    first, second = notes[0], notes[1]
    path = log_dir / second["file"]
    lines = _lines(path)
    record = json.loads(lines[second["line"] - 1])
    record["checkpoint"] = first["note"]
    lines[second["line"] - 1] = json.dumps(record, sort_keys=True,
                                           separators=(",", ":")).encode() + b"\n"
    path.write_bytes(b"".join(lines))
    problem = verify_path(log_dir).problem or ""
    assert problem == (f"{second['file']} line {second['line']}: the checkpoint covers size "
                       "100, not the record before it")


def test_an_unsigned_tail_warns_and_fails_only_with_strict(log_dir: Path) -> None:
    writer = open_writer(log_dir)
    writer.write_batch([Pending("host.stop", {"user_id": None, "name": None, "ip": None},
                                None, "ok", {})] * 3, False)
    writer.close()
    report = verify_path(log_dir)
    assert report.ok
    assert report.warnings == ["unsigned tail: records seq 254..256 come after the last "
                               "checkpoint (not yet signed)"]
    strict = verify_path(log_dir, strict=True)
    assert strict.problem is not None and strict.problem.startswith("unsigned tail")


def test_one_file_can_be_verified_on_its_own(log_dir: Path) -> None:
    newest = sorted(log_dir.glob("audit-*.jsonl"))[-1]
    assert verify_path(newest).ok
    newest.write_bytes(b"".join(_lines(newest)[:-1]))
    assert (verify_path(newest).problem or "").startswith("truncated:")


def test_the_command_line(log_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
                          ) -> None:
    assert main(["audit", "verify", str(log_dir)]) == 0
    assert capsys.readouterr().out.startswith("OK: 253 records (seq 1..253), 3 checkpoints")

    other = tmp_path / "other"
    sample_log(other, records=10)
    assert main(["audit", "verify", "--key", str(other / PUBLIC_KEY_FILE), str(log_dir)]) == 1
    assert "BAD: audit-000001.jsonl line 1:" in capsys.readouterr().out

    path = log_dir / "audit-000002.jsonl"
    data = bytearray(path.read_bytes())
    data[100] ^= 0x20
    path.write_bytes(bytes(data))
    assert main(["audit", "verify", str(log_dir)]) == 1
    assert capsys.readouterr().out.startswith("BAD: audit-000002.jsonl line 1:")

    assert main(["audit", "verify", str(tmp_path / "nowhere")]) == 5
    assert main(["audit", "verify", "--key", str(tmp_path / "nokey"), str(log_dir)]) == 5
    with pytest.raises(SystemExit) as exit_info:
        main(["audit", "verify"])
    assert exit_info.value.code == 2


def test_entries_removed_from_the_checkpoints_file_are_found(log_dir: Path) -> None:
    path = log_dir / CHECKPOINTS_FILE
    lines = path.read_bytes().splitlines(keepends=True)
    first = json.loads(lines[0])
    path.write_bytes(b"".join(lines[1:]))
    assert verify_path(log_dir).problem == (
        f"checkpoints.jsonl: lacks the checkpoint at {first['file']} line {first['line']} "
        "(entries removed)"
    )
    # Only the newest missing: what a crash between the log and the file leaves.
    last = json.loads(lines[-1])
    path.write_bytes(b"".join(lines[:-1]))
    report = verify_path(log_dir)
    assert report.ok
    assert report.warnings == [f"checkpoints.jsonl lacks the newest checkpoint "
                               f"({last['file']} line {last['line']}): a crash between "
                               "the two writes?"]
