"""The files of the log: append, chain, rotate, checkpoint and fsync (blocking, one thread).

Only ``AuditLog``'s writer task calls :meth:`LogWriter.write_batch`, in a worker
thread, one round at a time, so the chain state (``seq``, ``head``) needs no lock.

Layout of ``<config>/.storage/audit/`` (dir 0700, files 0600)::

    audit-000001.jsonl   records, one per line (record.py); a new file is started
    audit-000002.jsonl   when the next line would take a file past max_file_size,
    ...                  and its first record chains to the previous file's last;
                         that first record is a checkpoint (the anchor, below)
    checkpoints.jsonl    every checkpoint note again, {"file", "line", "note"} a line
    audit_ed25519.key    signing key (0600); audit_ed25519.pub: its verifier key
    audit.lock           flock'ed by whoever writes (the host's writer from open()
                         to close(), or ``append_offline`` for one record)

On open, a last line without its newline (a crash in the middle of a write: never
acknowledged, since a round returns only after fsync) is cut off and the cut is
recorded in the next record written (``audit.repaired``). A last complete line that is
not a valid record is refused: that log needs ``gatehouse audit verify``, not a new
record chained onto damage.

Retention (``max_total_size``): when the files together pass it, the oldest are
deleted, never the current one. Every file starts with a checkpoint record (written
at rotation), whose signed note covers exactly the records before it (seq - 1, and
the hash of the last one), so a log whose older files are gone still verifies from
its first file: the note anchors that file's first record, and the chain runs on from
there. Before deleting anything the writer appends an ``audit.pruned`` record (the
deleted files and the seq the log now starts at) and fsyncs it: ``gatehouse audit
verify`` accepts a log that starts after seq 1 only when such a record (itself signed
by a later checkpoint) says so, so deleting old files by hand is still caught. Files
written before the anchors existed start with an ordinary record: they are deleted
only together with the files after them, up to the first anchored one. A writer made
without ``max_total_size`` (tools, tests) keeps every file and writes no anchors.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .const import CHECKPOINTS_FILE, LOG_PREFIX, LOG_SUFFIX
from .errors import AuditFormatError, AuditLogBusy
from .note import Verifier, sign
from .record import ACTION_CHECKPOINT, VERSION, encode, genesis, line_hash, parse

#: The record that says older files were deleted by retention (verify.py reads it).
ACTION_PRUNED = "audit.pruned"

_LOG_NAME = re.compile(re.escape(LOG_PREFIX) + r"(\d{6})" + re.escape(LOG_SUFFIX))


def log_files(directory: Path) -> list[Path]:
    """The log's files in chain order."""
    found = [(int(m.group(1)), p) for p in directory.iterdir()
             if (m := _LOG_NAME.fullmatch(p.name))]
    return [p for _, p in sorted(found)]


def file_name(number: int) -> str:
    return f"{LOG_PREFIX}{number:06d}{LOG_SUFFIX}"


def utc_stamp(when: float) -> str:
    return dt.datetime.fromtimestamp(when, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def ensure_dir(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(directory, 0o700)


LOCK_FILE = "audit.lock"


def acquire_lock(directory: Path, *, wait: float = 0.0) -> int:
    """Hold the log's write lock (an flock, released by the kernel if we die).

    ``wait``: seconds to keep trying (an offline append holds it for milliseconds);
    then ``AuditLogBusy``. Returns the descriptor to pass to ``release_lock``.
    """
    path = directory / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except PermissionError:  # made by another account (root's CLI): flock needs no write
        fd = os.open(path, os.O_RDONLY)
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise AuditLogBusy(
                    f"the audit log in {directory} is open for writing by another "
                    "process (a running host?)") from None
            time.sleep(0.05)  # polling a lock another process holds: no event to wait on


def release_lock(fd: int) -> None:
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


def _open_append(path: Path) -> BinaryIO:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    return os.fdopen(fd, "ab", buffering=0)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(slots=True)
class Pending:
    """A record before the writer gives it a place in the chain."""

    action: str
    actor: dict[str, str | None]
    target: str | None
    result: str
    details: dict[str, Any]
    time: float = field(default_factory=time.time)


class LogWriter:
    """Appends records to the current file and keeps the chain across files."""

    def __init__(
        self, directory: Path, private: Ed25519PrivateKey, verifier: Verifier,
        *, max_file_size: int, max_total_size: int | None = None,
    ) -> None:
        self.directory = directory
        self.origin = verifier.name
        self._private = private
        self.max_file_size = max_file_size
        #: The files together may not pass this (None: kept for ever, no anchors); at
        #: least the current file is kept whatever its size.
        self.max_total_size = max_total_size
        #: Files deleted by retention since this writer was made.
        self.pruned_files = 0
        self._rotated = False
        self.seq = 0
        self.head = genesis(self.origin)
        self.since_checkpoint = 0
        self.checkpoints = 0
        self.repaired = 0
        #: The newest checkpoint note this writer signed (None: none yet).
        self.last_note: str | None = None
        self._number = 1
        self._size = 0
        self._line = 0
        self._file: BinaryIO | None = None
        self._lock: int | None = None
        #: Seconds ``open`` waits for the write lock (an offline append may hold it).
        self.lock_wait = 5.0

    # -- open -----------------------------------------------------------------------

    def open(self) -> None:
        ensure_dir(self.directory)
        if self._lock is None:
            self._lock = acquire_lock(self.directory, wait=self.lock_wait)
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    def _open(self) -> None:
        files = log_files(self.directory)
        for path in reversed(files):
            data = path.read_bytes()
            end = data.rfind(b"\n") + 1
            if end < len(data):
                self.repaired += len(data) - end
                with path.open("r+b") as f:
                    f.truncate(end)
                    os.fsync(f.fileno())
                data = data[:end]
            if not data:
                continue
            last = data[:-1].rsplit(b"\n", 1)[-1]
            try:
                record = parse(last)
            except AuditFormatError as err:
                line_no = data.count(b"\n")
                raise AuditFormatError(
                    f"{path} line {line_no}: {err}; check the log with "
                    "'gatehouse audit verify' before writing to it again"
                ) from None
            self.seq, self.head = record["seq"], line_hash(last)
            if record["action"] != ACTION_CHECKPOINT:
                self.since_checkpoint = 1  # at least the last one is not signed yet
            else:
                self._list_checkpoint(path.name, data.count(b"\n"), record["checkpoint"])
            break
        if files:
            last_path = files[-1]
            self._number = int(_LOG_NAME.fullmatch(last_path.name).group(1))  # type: ignore[union-attr]
            self._size = last_path.stat().st_size
            self._line = last_path.read_bytes().count(b"\n")
        self._file = _open_append(self.directory / file_name(self._number))
        _fsync_dir(self.directory)

    def _list_checkpoint(self, file: str, line: int, note: str) -> None:
        """Add the log's newest checkpoint to the checkpoints file if a crash between
        the two writes left it out (the log's copy is always written first)."""
        path = self.directory / CHECKPOINTS_FILE
        existing = path.read_bytes().rstrip(b"\n").rsplit(b"\n", 1)[-1] if path.exists() \
            else b""
        entry = json.dumps({"file": file, "line": line, "note": note}, sort_keys=True).encode()
        if existing != entry:
            with _open_append(path) as f:
                f.write(entry + b"\n")
                os.fsync(f.fileno())

    def reopen(self) -> None:
        """Read the chain state from disk again (after a failed write; the lock is kept)."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self.seq, self.head, self.since_checkpoint = 0, genesis(self.origin), 0
        self._number, self._size, self._line = 1, 0, 0
        self.open()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._lock is not None:
            release_lock(self._lock)
            self._lock = None

    @property
    def current_file(self) -> str:
        return file_name(self._number)

    # -- write ----------------------------------------------------------------------

    def write_batch(self, batch: Sequence[Pending], checkpoint: bool) -> int:
        """Append ``batch`` (and a checkpoint when asked), fsync; the records written."""
        assert self._file is not None, "open() first"
        buffer: list[bytes] = []
        written = 0
        if self.repaired:
            batch = [Pending("audit.repaired", _SYSTEM, None, "ok",
                             {"bytes_dropped": self.repaired}), *batch]
            self.repaired = 0
        for pending in batch:
            record = {
                "v": VERSION, "seq": self.seq + 1, "time": utc_stamp(pending.time),
                "actor": pending.actor, "action": pending.action, "target": pending.target,
                "result": pending.result, "details": pending.details, "prev": self.head,
            }
            buffer = self._append(buffer, record)
            self.since_checkpoint += 1
            written += 1
        if checkpoint and self.since_checkpoint:
            buffer = self._checkpoint(buffer)
        self._flush(buffer)
        if self._rotated:
            self._rotated = False
            written += self._prune()
        return written

    def _append(self, buffer: list[bytes], record: dict[str, Any]) -> list[bytes]:
        line = encode(record)
        if self._size and self._size + len(line) + 1 > self.max_file_size:
            self._flush(buffer)
            buffer = []
            self._rotate()
            if self.max_total_size is not None and record["action"] != ACTION_CHECKPOINT:
                # The new file's first record is a checkpoint (the anchor that lets it
                # be verified once the files before it are gone); the record follows it.
                self._checkpoint([])
                record["seq"], record["prev"] = self.seq + 1, self.head
                line = encode(record)
        buffer.append(line + b"\n")
        self._size += len(line) + 1
        self._line += 1
        self.seq, self.head = record["seq"], line_hash(line)
        return buffer

    def _checkpoint(self, buffer: list[bytes]) -> list[bytes]:
        note = sign(self._private, self.origin, self.seq, bytes.fromhex(self.head),
                    int(time.time()))
        record = {"v": VERSION, "seq": self.seq + 1, "action": ACTION_CHECKPOINT,
                  "checkpoint": note, "prev": self.head}
        buffer = self._append(buffer, record)
        # The log's copy must be on disk before the separate file claims it.
        self._flush(buffer)
        entry = {"file": self.current_file, "line": self._line, "note": note}
        with _open_append(self.directory / CHECKPOINTS_FILE) as f:
            f.write(json.dumps(entry, sort_keys=True).encode() + b"\n")
            os.fsync(f.fileno())
        self.since_checkpoint = 0
        self.checkpoints += 1
        self.last_note = note
        return []

    def _flush(self, buffer: list[bytes]) -> None:
        if not buffer:
            return
        assert self._file is not None
        self._file.write(b"".join(buffer))
        os.fsync(self._file.fileno())

    def _rotate(self) -> None:
        assert self._file is not None
        self._file.close()
        self._number += 1
        self._size = 0
        self._line = 0
        self._file = _open_append(self.directory / file_name(self._number))
        _fsync_dir(self.directory)
        self._rotated = True

    # -- retention ------------------------------------------------------------------

    def _prune(self) -> int:
        """Delete the oldest files beyond ``max_total_size``; the records written (0/1).

        The new first file must start with a checkpoint record (an anchor); the
        ``audit.pruned`` record is on disk before any file is deleted, so a crash in
        between leaves files that the record already gave up (verify accepts that:
        the log may start earlier than the record says, never later).
        """
        if self.max_total_size is None:
            return 0
        files = log_files(self.directory)
        sizes = [p.stat().st_size for p in files]
        if sum(sizes) <= self.max_total_size:
            return 0
        # files[:cut] go: the fewest that bring the rest within the bound, else as many
        # as may go (the current file stays); files[cut] must start with an anchor.
        cut = 0
        for index in range(1, len(files)):
            if _starts_with_checkpoint(files[index]):
                cut = index
                if sum(sizes[index:]) <= self.max_total_size:
                    break
        if not cut:
            return 0
        doomed = files[:cut]
        first_seq = _first_seq(files[cut])
        self._flush(self._append([], {
            "v": VERSION, "seq": self.seq + 1, "time": utc_stamp(time.time()),
            "actor": _SYSTEM, "action": ACTION_PRUNED, "target": None, "result": "ok",
            "details": {"files": [p.name for p in doomed], "first_seq": first_seq,
                        "bytes": sum(sizes[:cut]), "max_total_size": self.max_total_size},
            "prev": self.head,
        }))
        self.since_checkpoint += 1
        for path in doomed:
            path.unlink(missing_ok=True)
        _fsync_dir(self.directory)
        # Only the entries of files really gone: verify needs the others.
        self._prune_checkpoints({p.name for p in doomed if not p.exists()})
        self.pruned_files += len(doomed)
        return 1

    def _prune_checkpoints(self, gone: set[str]) -> None:
        """Drop the checkpoints file's entries of deleted files (it would grow for
        ever otherwise). Verify skips notes older than the log's start anyway; the
        file is replaced by rename, so a crash leaves the old or the new one."""
        path = self.directory / CHECKPOINTS_FILE
        if not path.exists():
            return
        lines = path.read_bytes().split(b"\n")[:-1]
        kept = [line for line in lines if _entry_file(line) not in gone]
        if len(kept) == len(lines):
            return
        partial = path.with_name(path.name + ".tmp")
        with _open_append(partial) as f:
            f.truncate(0)
            f.write(b"".join(line + b"\n" for line in kept))
            os.fsync(f.fileno())
        os.replace(partial, path)
        _fsync_dir(self.directory)


def _entry_file(line: bytes) -> object:
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    return entry.get("file") if isinstance(entry, dict) else None


def _first_line(path: Path) -> bytes:
    with path.open("rb") as stream:
        return stream.readline().rstrip(b"\n")


def _starts_with_checkpoint(path: Path) -> bool:
    try:
        action: str = parse(_first_line(path))["action"]
        return action == ACTION_CHECKPOINT
    except (AuditFormatError, OSError):
        return False


def _first_seq(path: Path) -> int:
    seq: int = parse(_first_line(path))["seq"]
    return seq


_SYSTEM: dict[str, str | None] = {"user_id": None, "name": None, "ip": None}
