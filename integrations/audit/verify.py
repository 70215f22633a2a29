"""``gatehouse audit verify``: check a log offline with nothing but its public key.

The checks, in chain order, stopping at the first bad record (named by file and line):

* every line is a canonical record of the schema (``record.py``), ending in ``\\n``;
* ``seq`` grows by one (a gap: records deleted; a repeat or step back: inserted or
  reordered) and starts at 1 (else earlier files are missing: ``--from``), or at a
  checkpoint record when retention deleted the older files (``max_total_size``): its
  signed note covers exactly the records before it, and an ``audit.pruned`` record
  later in the chain must say the log starts there or earlier (files deleted by hand
  beyond what retention recorded are caught);
* ``prev`` is the SHA-256 of the line before, across files; the first record's is the
  genesis value of the key's origin (a log of another key fails here);
* a checkpoint record's note is signed by the key, names its origin, and covers exactly
  the record before it (size = its seq - 1, root = its prev);
* every note of ``checkpoints.jsonl`` is signed by the key, matches the record it
  names (file, line, same note) and the hash of the record it covers; the largest says
  how far the log must go: a log that ends before it was truncated.

Records after the last checkpoint are reported as an unsigned tail: a warning, an error
with ``--strict``. ``--from FILE`` starts at that file (older ones archived away): its
first record is taken as it is, and checkpoints before it are skipped.

Exit codes: 0 the log is intact, 1 it is not (or the tail is unsigned with
``--strict``), 2 usage, 5 a file or key is missing.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .const import CHECKPOINTS_FILE, PUBLIC_KEY_FILE
from .errors import AuditError, AuditFormatError, VerifyFailed
from .note import Checkpoint, Verifier, verify
from .record import ACTION_CHECKPOINT, genesis, line_hash, parse
from .writer import ACTION_PRUNED, log_files

EXIT_OK = 0
EXIT_BAD = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 5


@dataclass(slots=True)
class Report:
    """The outcome; ``problem`` is the first bad place, ``None`` when intact."""

    records: int = 0
    first_seq: int | None = None
    last_seq: int = 0
    signed_through: int = 0
    checkpoints: int = 0
    problem: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem is None


@dataclass(frozen=True, slots=True)
class _Mark:
    """Where a checkpoint record is, and its note."""

    file: str
    line: int
    note: str


@dataclass(frozen=True, slots=True)
class _FileResult:
    """What walking one file found, given the chain state it started from."""

    records: int
    first_seq: int | None
    last_seq: int | None
    next_seq: int | None
    next_prev: str | None
    signed_through: int
    checkpoints: int
    marks: dict[int, _Mark]
    #: The largest ``first_seq`` an ``audit.pruned`` record of this file states (0: none).
    pruned_to: int = 0


_FileKey = tuple[str, bytes, int | None, str | None, bool]
_Note = tuple[int, dict[str, object], Checkpoint]


class VerifyCache:
    """Memo of pure per-line, per-note and per-file results, keyed by their exact bytes.

    Verifying the same bytes twice gives the same answer, so a caller verifying many
    variants of one log (the every-byte test, a monitor re-checking a growing log) may
    pass one cache: untouched files and lines cost a dictionary look-up.
    """

    def __init__(self) -> None:
        self.lines: dict[bytes, tuple[dict[str, Any], str] | AuditFormatError] = {}
        self.notes: dict[str, Checkpoint | AuditFormatError] = {}
        self.files: dict[_FileKey, _FileResult] = {}
        self.checkpoints: dict[tuple[str, bytes], list[_Note] | VerifyFailed] = {}


def verify_bytes(
    files: Iterable[tuple[str, bytes]],
    checkpoints: bytes | None,
    verifier: Verifier,
    *,
    strict: bool = False,
    start_anywhere: bool = False,
    checkpoints_name: str = CHECKPOINTS_FILE,
    cache: VerifyCache | None = None,
) -> Report:
    """Verify a log given as ``(name, bytes)`` files in chain order (pure, in memory).

    ``files`` is walked once, so a generator reading one file at a time keeps memory
    at one file. ``cache`` (optional) memoises results for repeated calls; without it
    nothing is kept.
    """
    report = Report()
    try:
        marks, pruned_to = _walk(files, verifier, report, start_anywhere, cache)
        if not start_anywhere and report.first_seq is not None and report.first_seq > 1:
            if pruned_to < report.first_seq:
                raise VerifyFailed(
                    f"the log starts at seq {report.first_seq} (a signed checkpoint) but no "
                    f"{ACTION_PRUNED} record says retention deleted the records before it "
                    "(files deleted by hand?)")
            report.warnings.append(
                f"records 1..{report.first_seq - 1} were deleted by retention "
                f"({ACTION_PRUNED}); verified from the signed checkpoint at seq "
                f"{report.first_seq}")
        notes = _checkpoints(checkpoints, checkpoints_name, verifier, cache)
        _match_checkpoints(notes, marks, report, checkpoints_name)
        if checkpoints is not None:
            _all_listed(notes, marks, report, checkpoints_name)
    except VerifyFailed as bad:
        report.problem = str(bad)
        return report
    # The record after the last signed one is that checkpoint's own record.
    first = report.signed_through + 2 if report.checkpoints else report.first_seq
    if report.records and first is not None and first <= report.last_seq:
        text = (f"unsigned tail: records seq {first}..{report.last_seq} come after the "
                "last checkpoint (not yet signed)")
        if strict:
            report.problem = text
        else:
            report.warnings.append(text)
    return report


def _walk(
    files: Iterable[tuple[str, bytes]], verifier: Verifier, report: Report,
    start_anywhere: bool, cache: VerifyCache | None,
) -> tuple[dict[int, _Mark], int]:
    expected_seq: int | None = None if start_anywhere else 1
    expected_prev: str | None = None if start_anywhere else genesis(verifier.name)
    marks: dict[int, _Mark] = {}
    pruned_to = 0
    for name, data in files:
        key = (name, data, expected_seq, expected_prev, report.records > 0)
        result = cache.files.get(key) if cache is not None else None
        if result is None:
            # Only intact files are kept: a failure ends the walk anyway, and keeping
            # every damaged variant would grow the cache by a file per call.
            result = _walk_file(name, data, verifier, expected_seq, expected_prev,
                                report.records > 0, cache)
            if cache is not None:
                cache.files[key] = result
        if result.records:
            if report.first_seq is None:
                report.first_seq = result.first_seq
            report.records += result.records
            report.last_seq = result.last_seq or 0
            expected_seq, expected_prev = result.next_seq, result.next_prev
        report.signed_through = max(report.signed_through, result.signed_through)
        report.checkpoints += result.checkpoints
        marks.update(result.marks)
        pruned_to = max(pruned_to, result.pruned_to)
    return marks, pruned_to


def _parse(line: bytes, cache: VerifyCache | None) -> tuple[dict[str, Any], str]:
    if cache is None:
        return parse(line), line_hash(line)
    found = cache.lines.get(line)
    if found is None:
        try:
            found = (parse(line), line_hash(line))
        except AuditFormatError as err:
            found = err
        cache.lines[line] = found
    if isinstance(found, AuditFormatError):
        raise found
    return found


def _note(text: str, verifier: Verifier, cache: VerifyCache | None) -> Checkpoint:
    if cache is None:
        return verify(text, verifier)
    found = cache.notes.get(text)
    if found is None:
        try:
            found = verify(text, verifier)
        except AuditFormatError as err:
            found = err
        cache.notes[text] = found
    if isinstance(found, AuditFormatError):
        raise found
    return found


def _walk_file(
    name: str, data: bytes, verifier: Verifier, expected_seq: int | None,
    expected_prev: str | None, seen_before: bool, cache: VerifyCache | None,
) -> _FileResult:
    lines = data.split(b"\n")
    if lines[-1]:
        raise VerifyFailed(f"{name} line {len(lines)}: incomplete last line (no newline): "
                   "the file was cut or appended to")
    marks: dict[int, _Mark] = {}
    first_seq: int | None = None
    last_seq: int | None = None
    signed_through = checkpoints = records = pruned_to = 0
    for number, line in enumerate(lines[:-1], 1):
        where = f"{name} line {number}"
        try:
            record, digest = _parse(line, cache)
        except AuditFormatError as err:
            raise VerifyFailed(f"{where}: {err}") from None
        seq = record["seq"]
        if (expected_seq == 1 and not seen_before and number == 1 and seq > 1
                and record["action"] == ACTION_CHECKPOINT):
            # Older files deleted by retention: this checkpoint's signed note (checked
            # below: size seq - 1, root = its prev) anchors the chain; verify_bytes
            # then requires an audit.pruned record that says so.
            expected_seq, expected_prev = seq, record["prev"]
        if record["action"] == ACTION_PRUNED:
            stated = record["details"].get("first_seq")
            if type(stated) is int:
                pruned_to = max(pruned_to, stated)
        if expected_seq is not None and seq != expected_seq:
            if seq > expected_seq:
                why = ("records deleted before it" if expected_seq > 1 or seen_before
                       else "the log does not start at seq 1 (earlier files missing? --from)")
            else:
                why = "a record inserted, repeated or reordered"
            raise VerifyFailed(f"{where}: seq {seq} where {expected_seq} was expected: {why}")
        if expected_prev is not None and record["prev"] != expected_prev:
            why = (f"does not chain to the genesis of {verifier.name} (another log?)"
                   if seq == 1 else "prev is not the hash of the record before it "
                   "(that one changed, or records were inserted, deleted or reordered)")
            raise VerifyFailed(f"{where}: {why}")
        if record["action"] == ACTION_CHECKPOINT:
            try:
                checkpoint = _note(record["checkpoint"], verifier, cache)
            except AuditFormatError as err:
                raise VerifyFailed(f"{where}: {err}") from None
            if checkpoint.size != seq - 1 or checkpoint.root.hex() != record["prev"]:
                raise VerifyFailed(f"{where}: the checkpoint covers size {checkpoint.size}, "
                           "not the record before it")
            signed_through = checkpoint.size
            checkpoints += 1
            marks[seq] = _Mark(name, number, record["checkpoint"])
        if first_seq is None:
            first_seq = seq
        records += 1
        last_seq = seq
        expected_seq, expected_prev = seq + 1, digest
    return _FileResult(records, first_seq, last_seq, expected_seq, expected_prev,
                       signed_through, checkpoints, marks, pruned_to)


def _checkpoints(
    data: bytes | None, name: str, verifier: Verifier, cache: VerifyCache | None
) -> list[_Note]:
    if not data:
        return []
    if cache is None:
        return _read_checkpoints(data, name, verifier, None)
    found = cache.checkpoints.get((name, data))
    if found is None:
        try:
            found = _read_checkpoints(data, name, verifier, cache)
        except VerifyFailed as bad:
            found = bad
        cache.checkpoints[name, data] = found
    if isinstance(found, VerifyFailed):
        raise found
    return found


def _read_checkpoints(
    data: bytes, name: str, verifier: Verifier, cache: VerifyCache | None
) -> list[_Note]:
    lines = data.split(b"\n")
    if lines[-1]:
        raise VerifyFailed(f"{name} line {len(lines)}: incomplete last line")
    notes: list[_Note] = []
    for number, line in enumerate(lines[:-1], 1):
        where = f"{name} line {number}"
        try:
            entry = json.loads(line)
        except ValueError as err:
            raise VerifyFailed(f"{where}: not JSON: {err}") from None
        if not isinstance(entry, dict) or set(entry) != {"file", "line", "note"} \
                or json.dumps(entry, sort_keys=True).encode() != line \
                or not isinstance(entry["note"], str) or type(entry["line"]) is not int:
            raise VerifyFailed(f"{where}: not a canonical {{file, line, note}} entry")
        try:
            checkpoint = _note(entry["note"], verifier, cache)
        except AuditFormatError as err:
            raise VerifyFailed(f"{where}: {err}") from None
        notes.append((number, entry, checkpoint))
    return notes


def _match_checkpoints(
    notes: list[_Note], marks: dict[int, _Mark],
    report: Report, name: str,
) -> None:
    for number, entry, checkpoint in notes:
        size = checkpoint.size
        where = f"{name} line {number}"
        if report.first_seq is not None and size < report.first_seq:
            continue  # before --from
        if size + 1 > report.last_seq:
            raise VerifyFailed(f"truncated: {where} signs a log of {size} records (+ its "
                               f"checkpoint record), the log ends at seq {report.last_seq}")
        mark = marks.get(size + 1)
        if mark is None or (mark.file, mark.line, mark.note) != (
            entry["file"], entry["line"], entry["note"]
        ):
            there = (f"{mark.file} line {mark.line}" if mark
                     else f"no checkpoint at seq {size + 1}")
            raise VerifyFailed(f"{where}: names {entry['file']} line {entry['line']}, but the log "
                       f"differs ({there})")
        report.signed_through = max(report.signed_through, size)


def _all_listed(notes: list[_Note], marks: dict[int, _Mark], report: Report,
                name: str) -> None:
    """Every checkpoint of the log is in the checkpoints file too (entries removed from
    it would hide a later truncation). Only the newest may be missing: the log's copy is
    written first, so a crash between the two writes leaves exactly that."""
    listed = {checkpoint.size + 1 for _, _, checkpoint in notes}
    missing = sorted(seq for seq in marks if seq not in listed)
    if not missing:
        return
    first = marks[missing[0]]
    if missing[0] != max(marks):
        raise VerifyFailed(f"{name}: lacks the checkpoint at {first.file} line {first.line} "
                           "(entries removed)")
    report.warnings.append(f"{name} lacks the newest checkpoint ({first.file} line "
                           f"{first.line}): a crash between the two writes?")


# -- files and the command line -------------------------------------------------------


def verify_path(
    path: Path, *, key: Path | None = None, start: Path | None = None, strict: bool = False,
) -> Report:
    """Read a log directory (or one log file) and verify it; raises AuditError if unreadable."""
    directory = path if path.is_dir() else path.parent
    key_path = key if key is not None else directory / PUBLIC_KEY_FILE
    try:
        verifier = Verifier.parse(key_path.read_text(encoding="ascii"))
    except (OSError, UnicodeDecodeError) as err:
        raise AuditError(f"{key_path}: cannot read the public key: {err}") from None
    chosen = log_files(directory) if path.is_dir() else [path]
    if start is not None:
        names = [p.name for p in chosen]
        if start.name not in names:
            raise AuditError(f"--from {start}: not a log file of {directory}")
        chosen = chosen[names.index(start.name):]
    files = ((p.name, p.read_bytes()) for p in chosen)  # one file in memory at a time
    cp_path = directory / CHECKPOINTS_FILE
    checkpoints = cp_path.read_bytes() if cp_path.exists() else None
    if checkpoints is not None and not path.is_dir():
        mine = [line for line in checkpoints.split(b"\n")[:-1]
                if _file_of(line) == path.name]
        checkpoints = b"".join(line + b"\n" for line in mine)
    return verify_bytes(files, checkpoints, verifier, strict=strict,
                        start_anywhere=start is not None or not path.is_dir())


def _file_of(line: bytes) -> object:
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    return entry.get("file") if isinstance(entry, dict) else None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gatehouse audit", description="Tools for the tamper-evident audit log."
    )
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    check = sub.add_parser("verify", help="verify a log offline with its public key")
    check.add_argument("path", type=Path, metavar="DIR|FILE",
                       help="the audit directory (<config>/.storage/audit) or one log file")
    check.add_argument("--from", dest="start", type=Path, metavar="FILE",
                       help="start at this log file (older files archived)")
    check.add_argument("--key", type=Path, metavar="PUBKEY",
                       help=f"verifier key file (default: {PUBLIC_KEY_FILE} beside the log; "
                       "use a copy kept off the box)")
    check.add_argument("--strict", action="store_true",
                       help="records after the last checkpoint are an error")
    return parser


def cli_main(argv: Sequence[str]) -> int:
    """``gatehouse audit ...`` (core/cli.py hands the arguments over unparsed)."""
    args = build_parser().parse_args(list(argv))
    if not args.path.exists():
        sys.stderr.write(f"error: {args.path}: no such file or directory\n")
        return EXIT_NOT_FOUND
    try:
        report = verify_path(args.path, key=args.key, start=args.start, strict=args.strict)
    except (AuditError, OSError) as err:
        sys.stderr.write(f"error: {err}\n")
        return EXIT_NOT_FOUND
    for warning in report.warnings:
        sys.stderr.write(f"warning: {warning}\n")
    if report.problem is not None:
        sys.stdout.write(f"BAD: {report.problem}\n")
        return EXIT_BAD
    sys.stdout.write(
        f"OK: {report.records} records (seq {report.first_seq}..{report.last_seq}), "
        f"{report.checkpoints} checkpoints, signed through seq {report.signed_through}\n"
    )
    return EXIT_OK
