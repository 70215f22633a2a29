"""Reading the log for people: filters, newest-first pages, and the verify status, shared
by the REST routes (``views.py``) and the WebSocket commands (``wscommands.py``).

People read an audit log from the newest record back ("who did that just now?"), so
pages go backwards by ``seq`` (``before``). Every read runs in a worker thread after a
flush, so what was offered before the request is in the answer.

The verify status runs the offline verifier on a *snapshot* of the running log, so a
round being written meanwhile cannot look like damage: the checkpoints file's size is
taken first, then the log files and their sizes (the writer puts a checkpoint in the
log before it lists it), and each file is read only up to its last complete line at
that size. Records written after the snapshot are simply not in it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import anyio.to_thread

from gatehouse.core import Host
from gatehouse.core.http import query_int, query_time

from .api import query
from .const import CHECKPOINTS_FILE, PUBLIC_KEY_FILE
from .errors import AuditError, AuditUnavailable
from .note import Verifier, verify
from .sealed import opening_cipher, reveal
from .services import LOADED
from .verify import Report, verify_bytes
from .writer import log_files

if TYPE_CHECKING:
    from .runtime import AuditRuntime

PAGE_DEFAULT: Final = 50
PAGE_MAX: Final = 500
TEXT_MAX: Final = 200
FILTER_NAMES: Final = ("actor", "action", "since", "until", "text")
NOT_LOADED: Final = "no audit entry is loaded"
#: Bytes read from the end of checkpoints.jsonl for the newest entry (one is ~400).
_TAIL: Final = 16 * 1024


#: The most user names/ids one ``actor`` filter may list (comma-separated).
ACTORS_MAX: Final = 20


@dataclass(frozen=True, slots=True)
class Filters:
    actor: frozenset[str] | None = None
    action: str | None = None
    since: float | None = None
    until: float | None = None
    text: str | None = None


def runtime_of(host: Host) -> AuditRuntime:
    runtimes = LOADED.runtimes(host)
    if not runtimes:
        raise AuditUnavailable(NOT_LOADED)
    return next(iter(runtimes.values()))


#: Shared with every plugin API (``gatehouse.core.http.query``).
parse_time = query_time


parse_int = query_int


def parse_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no", ""):
        return False
    raise ValueError(f"{name}: expected true or false")


def parse_filters(raw: Mapping[str, Any]) -> Filters:
    """``Filters`` from query parameters or a JSON object; empty values are no filter.
    ``actor`` may list several names or ids, comma-separated (any of them matches).

    Raises ValueError naming the parameter (answered as 400 / ``invalid_format``).
    """
    unknown = sorted(set(raw) - set(FILTER_NAMES))
    if unknown:
        raise ValueError(f"unknown filter {unknown[0]!r} (known: {', '.join(FILTER_NAMES)})")
    found: dict[str, Any] = {}
    for name in ("action", "text"):
        value = raw.get(name)
        if value in (None, ""):
            continue
        if not isinstance(value, str):
            raise ValueError(f"{name}: expected text")
        if len(value) > TEXT_MAX:
            raise ValueError(f"{name}: longer than {TEXT_MAX} characters")
        found[name] = value
    for name in ("since", "until"):
        value = raw.get(name)
        if value not in (None, ""):
            found[name] = parse_time(name, value)
    actor = raw.get("actor")
    if actor not in (None, ""):
        if not isinstance(actor, str) or len(actor) > TEXT_MAX:
            raise ValueError(f"actor: expected text up to {TEXT_MAX} characters")
        names = frozenset(a.strip() for a in actor.split(",") if a.strip())
        if len(names) > ACTORS_MAX:
            raise ValueError(f"actor: more than {ACTORS_MAX} names")
        if names:
            found["actor"] = names
    return Filters(**found)


def split_query(raw: Mapping[str, Any], own: tuple[str, ...]) -> tuple[dict[str, Any],
                                                                     dict[str, Any]]:
    """(the request's own parameters such as ``limit``, the filters)."""
    mine = {k: v for k, v in raw.items() if k in own}
    rest = {k: v for k, v in raw.items() if k not in own}
    return mine, rest


async def page(host: Host, filters: Filters, *, limit: int, before: int | None,
               decrypt: bool = False) -> dict[str, Any]:
    """``{"records": [...], "next_before": seq | None}``, newest first.

    ``decrypt``: sealed values are opened with the tag cipher where the key is here
    (``sealed.reveal``); otherwise they are returned as stored (ciphertext).
    """
    runtime_of(host)
    found = await query(host, actor=filters.actor, action=filters.action,
                        since=filters.since, until=filters.until, text=filters.text,
                        before=before, limit=limit + 1)
    more = len(found) > limit
    found = found[:limit]
    if decrypt:  # in a worker thread: a key not loaded yet is read from the keyring
        cipher = opening_cipher(host)
        found = await anyio.to_thread.run_sync(
            lambda: [reveal(cipher, rec) for rec in found])
    return {"records": found,
            "next_before": found[-1]["seq"] if more and found else None}


async def status(host: Host) -> dict[str, Any]:
    """The running log at a glance: origin, seq, the newest checkpoint, counters."""
    runtime = runtime_of(host)
    writer = runtime.log.writer
    newest = await anyio.to_thread.run_sync(_last_checkpoint, runtime.directory)
    return {
        "origin": writer.origin, "seq": writer.seq, "file": writer.current_file,
        "last_checkpoint": newest, "unsigned": writer.since_checkpoint,
        **_counters(runtime),
    }


def _counters(runtime: AuditRuntime) -> dict[str, Any]:
    log = runtime.log
    return {"dropped": log.dropped, "write_failures": log.failures, "pending": log.pending}


def _last_checkpoint(directory: Path) -> dict[str, Any] | None:
    """The newest checkpoint listed (size, time, note), checked against the key."""
    path = directory / CHECKPOINTS_FILE
    try:
        with path.open("rb") as f:  # the tail only: the file grows for ever
            size = f.seek(0, 2)
            f.seek(max(0, size - _TAIL))
            data = f.read()
        verifier = Verifier.parse((directory / PUBLIC_KEY_FILE).read_text(encoding="ascii"))
    except (OSError, UnicodeDecodeError, AuditError):
        return None
    lines = data.split(b"\n")[:-1]
    if size > _TAIL:
        lines = lines[1:]  # the first one is cut
    for line in reversed(lines):
        try:
            entry = json.loads(line)
            checkpoint = verify(entry["note"], verifier)
        except (ValueError, KeyError, TypeError, AuditError):
            return {"problem": "the newest entry of checkpoints.jsonl does not verify"}
        return {"seq": checkpoint.size, "time": checkpoint.time, "file": entry.get("file"),
                "line": entry.get("line"), "note": checkpoint.text}
    return None


def _snapshot(directory: Path) -> tuple[list[tuple[Path, int]], bytes | None]:
    cp_path = directory / CHECKPOINTS_FILE
    checkpoints = cp_path.read_bytes() if cp_path.exists() else None
    files = [(p, p.stat().st_size) for p in log_files(directory)]
    return files, checkpoints


def _complete_lines(path: Path, size: int) -> bytes:
    with path.open("rb") as f:
        data = f.read(size)
    return data[:data.rfind(b"\n") + 1]


def verify_snapshot(directory: Path) -> Report:
    """Verify the log as it is now (blocking), immune to a concurrent round."""
    verifier = Verifier.parse((directory / PUBLIC_KEY_FILE).read_text(encoding="ascii"))
    files, checkpoints = _snapshot(directory)

    def read() -> Iterator[tuple[str, bytes]]:
        for path, size in files:
            yield path.name, _complete_lines(path, size)

    return verify_bytes(read(), checkpoints, verifier)


async def verify_now(host: Host) -> dict[str, Any]:
    """Run the verifier (public key only) over the running log; the outcome for people."""
    runtime = runtime_of(host)
    async with runtime.verify_lock:  # one walk of the files at a time, however many ask
        # A failed round: verify what is on disk (the failure is counted and logged).
        with contextlib.suppress(Exception):
            await runtime.log.flush()
        report = await anyio.to_thread.run_sync(verify_snapshot, runtime.directory)
    return {
        "ok": report.ok, "problem": report.problem, "records": report.records,
        "first_seq": report.first_seq, "last_seq": report.last_seq,
        "signed_through": report.signed_through, "checkpoints": report.checkpoints,
        "warnings": report.warnings, "checked_at": dt.datetime.now(dt.UTC).timestamp(),
    }
