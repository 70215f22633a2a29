"""Versioned JSON storage for integrations and the core.

Every piece of state Gatehouse keeps between runs (config entries, device registries,
tokens) goes through a :class:`Store`: one JSON file per *key* in the storage directory,
wrapped in a small envelope::

    {"version": 2, "minor_version": 1, "key": "core.config_entries", "data": ...}

The envelope exists so that the code can tell *which shape* the ``data`` has. When the
code's schema changes, the store calls a migration function instead of handing new code
old data, and it refuses outright to load data written by a *newer* major version, since
reading it with old code and saving it back would silently destroy what the newer code
wrote.

Writes are built to survive a crash or power cut at any instant: the new content goes to
a temporary file in the same directory, is flushed and fsynced, and only then atomically
renamed over the old file, and the directory is fsynced so the rename itself is on disk.
A reader therefore always sees either the complete old file or the complete new one.

All file I/O runs in a worker thread (``anyio.to_thread.run_sync``) so a slow disk never
stalls the event loop, which on an edge appliance is also serving devices; the JSON is
encoded on the loop in slices of a few milliseconds (``encode_incrementally``), so a
store of any size never holds the loop (or, through the GIL, paho's thread) for long.

Storage holds secrets (tokens, password hashes, the outbox's pending payloads), so the
directory is the owner's alone (``DIR_MODE``, 0700) and every file in it 0600
(``FILE_MODE``). ``make_private_dir`` creates the directory so, and tightens one that an
earlier version (or a ``mkdir`` under a loose umask) left open to other local users;
a store does that on every load and save, and tightens its own file when it reads it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import json
import logging
import os
import re
import stat
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Generic, TypeAlias, TypeVar, cast

import anyio
import anyio.to_thread

from .exceptions import StorageError as _CoreStorageError
from .exceptions import StoreTooNewError

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")

MigrateFn: TypeAlias = Callable[[int, int, Any], T | Awaitable[T]]
"""``migrate(old_version, old_minor_version, old_data) -> new_data``, sync or async."""

FILE_MODE = 0o600
"""Storage may hold secrets (tokens, passwords), so only the owner may read it."""

DIR_MODE = 0o700


def _tighten(path: Path, mode: int) -> None:
    """Take group and other permissions off ``path`` (to ``mode``) if it has any."""
    try:
        current = stat.S_IMODE(os.stat(path).st_mode)
        if current & 0o077:
            os.chmod(path, mode)
            _LOGGER.info("Made %s private (mode %o was %o)", path, mode, current)
    except FileNotFoundError:
        pass
    except OSError as err:  # not ours to change: say so, do not fail the load
        _LOGGER.warning("Cannot make %s private: %s", path, err.strerror or err)


def make_private_dir(path: Path, *, create: bool = True) -> None:
    """``path`` as a directory only its owner may enter: created 0700 (parents as the
    umask says), or tightened to 0700 if it exists with group or other permissions.
    Blocking: call it from a worker thread in async code."""
    if create:
        path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    _tighten(path, DIR_MODE)


def write_private_file(path: Path, data: bytes) -> None:
    """Atomically replace ``path`` with ``data``, readable by its owner only (0600).

    Writing the target in place would leave a truncated, unparsable file if the process
    dies or power fails mid-write. Instead the bytes go to a temp file in the *same*
    directory (``os.replace`` is only atomic within one filesystem), made by ``mkstemp``
    (0600 and ``O_EXCL``: no other user ever sees a readable window, even briefly), which
    is fsynced before the rename so the rename can never point at data still in the page
    cache; then the directory is fsynced so the rename itself survives a power cut. At
    every instant the target is either the complete old or new content. The directory
    must exist. Blocking: call it from a worker thread in async code.
    """
    directory = path.parent
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as tmp:
            os.fchmod(tmp.fileno(), FILE_MODE)
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(directory)


def make_private_file(path: Path) -> None:
    """Tighten an existing file to 0600 (no-op if it is missing or already private)."""
    _tighten(path, FILE_MODE)

PRETTY_LIMIT = 64 * 1024
"""Files whose compact form is below this many characters are written with ``indent=2``.

Small files are the ones people open to debug, so they get to be readable. Large ones
stay compact: ``json`` only uses its fast C encoder when ``indent`` is ``None``, and
pretty-printing tens of thousands of items would hold the event loop several times
longer for no reader's benefit.
"""

# mkstemp's random part uses only these characters, never a dot, which lets the stale
# temp-file sweep tell ".foo.<rand>.tmp" (key "foo") from ".foo.bar.<rand>.tmp" (key
# "foo.bar") without a risk of deleting another store's in-flight file.
_TEMP_RANDOM = r"[a-z0-9_]+"


class StorageError(_CoreStorageError):
    """A store could not be loaded or saved without risking data loss."""

    def __init__(self, message: str, path: Path) -> None:
        super().__init__(message)
        self.path = path


class CorruptStorageError(StorageError):
    """The file could not be parsed; it has been moved aside to :attr:`moved_to`.

    Callers may carry on with defaults: the next :meth:`Store.load` finds no file, and
    the bad one is kept for a human to inspect.
    """

    def __init__(self, message: str, path: Path, moved_to: Path | None) -> None:
        super().__init__(message, path)
        self.moved_to = moved_to


class UnsupportedStorageVersionError(StorageError, StoreTooNewError):
    """The file was written by a newer major version of the code than this one.

    Unlike corruption this is not safe to start fresh from: the data is good, the code is
    too old. The store also refuses to save afterwards, so it cannot be overwritten.
    """


class Store(Generic[T]):
    """One versioned JSON document on disk, with atomic and coalesced writes.

    ``version`` is the major schema version: a change means old data must be migrated,
    and data from a newer major version is refused. ``minor_version`` marks
    backwards-compatible changes (say, a new optional field): older minors are passed to
    ``migrate`` too, but a *newer* minor with the same major is loaded as is, because by
    definition older code can read it.

    The store is meant to be owned by one component in one process; the lock only
    serialises operations on this instance.
    """

    def __init__(
        self,
        storage_dir: Path,
        key: str,
        version: int,
        *,
        minor_version: int = 1,
        migrate: MigrateFn[T] | None = None,
        encoder: type[json.JSONEncoder] | None = None,
    ) -> None:
        if (
            not key
            or key in {".", ".."}
            or key.startswith(".")
            or "/" in key
            or os.sep in key
        ):
            # A key is a file name, not a path: anything else could escape storage_dir
            # or collide with the hidden temp files this class creates.
            raise ValueError(f"invalid storage key {key!r}")
        if version < 1 or minor_version < 1:
            raise ValueError("version and minor_version start at 1")
        self.storage_dir = Path(storage_dir)
        self.key = key
        self.version = version
        self.minor_version = minor_version
        self.path = self.storage_dir / key
        self._migrate = migrate
        self._encoder = encoder
        self.write_count = 0
        """Number of completed writes to disk; lets tests prove that saves coalesce."""

        # One lock for every file operation: it serialises concurrent saves (FIFO, so
        # the last caller's data ends up on disk) and keeps load, flush and remove from
        # interleaving with a write in flight.
        self._lock = anyio.Lock()
        self._pending_data_fn: Callable[[], T] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_deadline = 0.0
        # The event loop keeps only weak references to tasks; a delayed write whose task
        # was garbage collected mid-flight would simply never finish.
        self._tasks: set[asyncio.Task[None]] = set()
        self._refusal: str | None = None

    @property
    def _temp_pattern(self) -> re.Pattern[str]:
        return re.compile(rf"\.{re.escape(self.key)}\.{_TEMP_RANDOM}\.tmp")

    # ------------------------------------------------------------------ loading

    async def load(self) -> T | None:
        """Return the stored data, migrated to the current version, or ``None`` if absent.

        If a delayed save is pending, its data is returned instead of the file's, because
        that is what the file will hold a moment from now.
        """
        async with self._lock:
            if self._pending_data_fn is not None:
                return self._pending_data_fn()
            raw = await anyio.to_thread.run_sync(self._read_sync)
            if raw is None:
                return None
            envelope = await self._parse(raw)
            return await self._upgrade(envelope)

    def _read_sync(self) -> bytes | None:
        # Temp files left by a write that was killed mid-way are never read, but they
        # would pile up (each as big as the data) after repeated crashes; no write of
        # ours is in flight while we hold the lock, so any that exist are stale.
        self._sweep_temp_files()
        make_private_dir(self.storage_dir, create=False)
        make_private_file(self.path)
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None

    def _sweep_temp_files(self) -> None:
        pattern = self._temp_pattern
        try:
            names = os.listdir(self.storage_dir)
        except FileNotFoundError:
            return
        for name in names:
            if pattern.fullmatch(name):
                _LOGGER.debug("Removing stale temporary file %s", name)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.storage_dir / name)

    async def _parse(self, raw: bytes) -> dict[str, Any]:
        try:
            envelope = json.loads(raw)
            problem = _envelope_problem(envelope)
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            problem = f"invalid JSON ({err})"
        if problem is None:
            return cast(dict[str, Any], envelope)
        # Raising but leaving the file in place would make every later start fail the
        # same way; moving it aside lets the next start begin fresh while keeping the
        # bytes for a human to recover.
        moved_to = await anyio.to_thread.run_sync(self._move_aside)
        if moved_to is None:
            where = "it could not be moved aside"
        else:
            where = f"it was moved to {moved_to} and the next load starts empty"
        raise CorruptStorageError(
            f"Storage file {self.path} is corrupt: {problem}; {where}",
            self.path,
            moved_to,
        )

    def _move_aside(self) -> Path | None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        target = self.path.with_name(f"{self.key}.corrupt.{stamp}")
        counter = 1
        while target.exists():
            target = self.path.with_name(f"{self.key}.corrupt.{stamp}-{counter}")
            counter += 1
        try:
            os.rename(self.path, target)
        except OSError:
            _LOGGER.exception("Could not move corrupt storage file %s aside", self.path)
            return None
        return target

    async def _upgrade(self, envelope: dict[str, Any]) -> T:
        old_version: int = envelope["version"]
        old_minor: int = envelope.get("minor_version", 1)
        data = envelope["data"]
        if envelope.get("key", self.key) != self.key:
            _LOGGER.warning(
                "Storage file %s claims key %r; loading it anyway",
                self.path,
                envelope["key"],
            )

        if old_version > self.version:
            self._refusal = (
                f"Storage file {self.path} has version {old_version}.{old_minor}, newer than "
                f"this code's {self.version}.{self.minor_version}; refusing to load or "
                "overwrite it (was the software downgraded?)"
            )
            raise UnsupportedStorageVersionError(self._refusal, self.path)
        if old_version == self.version and old_minor >= self.minor_version:
            return cast(T, data)

        if self._migrate is None:
            raise StorageError(
                f"Storage file {self.path} has version {old_version}.{old_minor} but the "
                f"code expects {self.version}.{self.minor_version} and has no migrate "
                "function; the file was left untouched",
                self.path,
            )
        try:
            result = self._migrate(old_version, old_minor, data)
            if inspect.isawaitable(result):
                result = await result
        except Exception as err:
            raise StorageError(
                f"Migrating storage file {self.path} from {old_version}.{old_minor} to "
                f"{self.version}.{self.minor_version} failed: {err!r}; the file was left "
                "untouched",
                self.path,
            ) from err
        migrated = cast(T, result)
        _LOGGER.info(
            "Migrated %s from %s.%s to %s.%s",
            self.path,
            old_version,
            old_minor,
            self.version,
            self.minor_version,
        )
        # Writing back is an optimisation (migrate once, not on every start); the old
        # file is still valid and would simply be migrated again, so a failure here must
        # not stop the caller from starting with the data it already has.
        try:
            await self._write_locked(migrated)
        except Exception:
            _LOGGER.exception("Could not save migrated data to %s", self.path)
        return migrated

    # ------------------------------------------------------------------ saving

    async def save(self, data: T) -> None:
        """Write ``data`` to disk now; returns once it is durably there.

        Concurrent calls are written one at a time in call order, so the last call's
        data is what ends on disk. An explicit save supersedes a pending delayed save:
        it carries the caller's newest data, and the delayed one would only rewrite it.
        """
        self._check_writable()
        self._cancel_pending()
        async with self._lock:
            await self._write_locked(data)

    def delay_save(self, data_fn: Callable[[], T], delay: float = 1.0) -> None:
        """Schedule a write of ``data_fn()`` in ``delay`` seconds, coalescing calls.

        Components that change state often (every sensor update, say) call this on each
        change; however many calls arrive before the deadline, one write happens, with
        the data the *latest* ``data_fn`` returns when the write starts. A later call
        never pushes the deadline back, so a steady stream of changes cannot postpone
        the write forever; it may bring the deadline forward.

        Must be called from the event loop thread (asyncio).
        """
        self._check_writable()
        loop = asyncio.get_running_loop()
        self._pending_data_fn = data_fn
        deadline = loop.time() + max(delay, 0.0)
        if self._timer is not None:
            if deadline >= self._timer_deadline:
                return
            self._timer.cancel()
        self._timer_deadline = deadline
        self._timer = loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        task = asyncio.get_running_loop().create_task(
            self._delayed_write(), name=f"gatehouse.storage delayed write {self.key}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _delayed_write(self) -> None:
        # Nobody awaits this task, so an error raised here would vanish; log it instead.
        try:
            async with self._lock:
                await self._write_pending_locked()
        except Exception:
            _LOGGER.exception("Error writing delayed save of %s", self.path)

    async def flush(self) -> None:
        """Write a pending delayed save now (for shutdown); no-op when nothing is pending.

        Also waits for a delayed write already in flight, so once this returns every
        change handed to :meth:`delay_save` before the call is on disk.
        """
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        async with self._lock:
            await self._write_pending_locked()

    async def remove(self) -> None:
        """Delete the file and drop any pending delayed save."""
        self._cancel_pending()
        async with self._lock:
            await anyio.to_thread.run_sync(self._remove_sync)
            # Deleting is an explicit decision about this key, so a previous refusal to
            # overwrite newer data no longer applies.
            self._refusal = None

    def _remove_sync(self) -> None:
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            return
        _fsync_dir(self.storage_dir)

    def _check_writable(self) -> None:
        if self._refusal is not None:
            raise UnsupportedStorageVersionError(self._refusal, self.path)

    def _cancel_pending(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._pending_data_fn = None

    async def _write_pending_locked(self) -> None:
        data_fn, self._pending_data_fn = self._pending_data_fn, None
        if data_fn is not None:
            await self._write_locked(data_fn())

    async def _write_locked(self, data: T) -> None:
        envelope = {
            "version": self.version,
            "minor_version": self.minor_version,
            "key": self.key,
            "data": data,
        }
        text = await encode_incrementally(envelope, self._encoder)
        if len(text) < PRETTY_LIMIT:
            # Small: pretty, from what was just encoded (the data may have moved on).
            text = json.dumps(json.loads(text), ensure_ascii=False, indent=2)
        await anyio.to_thread.run_sync(self._write_sync, text.encode("utf-8"))
        self.write_count += 1

    def _write_sync(self, payload: bytes) -> None:
        make_private_dir(self.storage_dir)
        write_private_file(self.path, payload)


ENCODE_SLICE = 0.002
"""Seconds of encoding the event loop does before it lets other tasks run (a save of a
10,000-entity registry took 76-210 ms in one piece, stalling every device connection)."""

#: A value with at most this many nodes (containers and scalars) is encoded in one go;
#: a larger one is taken apart. Bounds the work of one piece whatever the data's shape.
_SMALL_NODES = 64
#: Small members of a container taken apart are encoded this many at a time (one call of
#: the C encoder per batch, not per member: building it is most of a small member's cost).
_BATCH = 64


async def encode_incrementally(
    obj: Any, encoder: type[json.JSONEncoder] | None = None
) -> str:
    """``obj`` as compact JSON, encoded on the event loop in slices of ``ENCODE_SLICE``.

    Why not a worker thread: ``json``'s C encoder holds the GIL from start to end, so
    encoding in a thread stalls the loop (and paho's network thread) just the same;
    what helps is pieces small enough to let the others run in between. Why on the loop
    at all: the data belongs to the loop, which may change it at any await, and a
    thread iterating a dict while the loop changes it writes garbage or raises.

    A value of more than ``_SMALL_NODES`` nodes is taken apart: its members are copied
    (shallowly, all at once: ``list(d.items())``) when its turn comes, and small members
    are encoded in one go, ``_BATCH`` at a time, so a change made between slices can
    never tear a member nor break the iteration; a member changed after the
    save began may be written with its newer value, as a later save would. Frozen
    dataclasses (registry entries) are written as their fields, which lets a
    ``delay_save`` callback return an immutable snapshot (``list(entries.values())``)
    instead of building thousands of dicts on the loop.
    """
    parts = _Chunks(encoder).chunks(obj)
    out: list[str] = []
    append = out.append
    clock = time.perf_counter
    deadline = clock() + ENCODE_SLICE
    for part in parts:
        append(part)
        if clock() > deadline:
            await asyncio.sleep(0)
            deadline = clock() + ENCODE_SLICE
    return "".join(out)


def _fields(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


def _is_dataclass_instance(obj: Any) -> bool:
    return dataclasses.is_dataclass(obj) and not isinstance(obj, type)


#: Types counted as one node without a look inside.
_SCALARS: Final = frozenset({str, int, float, bool, type(None)})


def _small(obj: Any) -> bool:
    """Whether ``obj`` has at most ``_SMALL_NODES`` nodes (stops counting beyond).

    Called for every member of every container taken apart, so scalars are counted
    without being visited one by one."""
    budget = _SMALL_NODES
    stack = [obj]
    scalars = _SCALARS
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            members: Any = item.values()
        elif kind is list or kind is tuple:
            members = item
        elif kind in scalars:
            budget -= 1
            if budget < 0:
                return False
            continue
        elif _is_dataclass_instance(item):
            members = _fields(item).values()
        else:
            members = ()
        budget -= 1 + len(members)
        if budget < 0:
            return False
        stack.extend(member for member in members if type(member) not in scalars)
    return True


class _Chunks:
    """The compact JSON of a value as a stream of small pieces (see encode_incrementally)."""

    def __init__(self, encoder: type[json.JSONEncoder] | None) -> None:
        base = encoder or json.JSONEncoder

        class _Leaf(base):  # type: ignore[valid-type,misc]
            def default(self, o: Any) -> Any:
                if _is_dataclass_instance(o):
                    return _fields(o)
                return super().default(o)

        self._encode = _Leaf(ensure_ascii=False, separators=(",", ":")).encode

    def chunks(self, obj: Any) -> Iterator[str]:
        if _is_dataclass_instance(obj):
            obj = _fields(obj)
        kind = type(obj)
        if kind is dict and not _small(obj):
            items = list(obj.items())
            if all(type(key) is str for key, _ in items):
                yield "{"
                yield from self._members(items, keyed=True)
                yield "}"
                return
        elif (kind is list or kind is tuple) and not _small(obj):
            yield "["
            yield from self._members([(None, value) for value in obj], keyed=False)
            yield "]"
            return
        yield self._encode(obj)

    def _members(self, items: list[tuple[Any, Any]], *, keyed: bool) -> Iterator[str]:
        """The members of a container taken apart: small ones in batches, large ones
        taken apart in turn."""
        encode = self._encode
        separator = ""
        batch: list[tuple[Any, Any]] = []

        def flush() -> str:
            whole: str = encode(dict(batch) if keyed else [value for _, value in batch])
            batch.clear()
            return whole[1:-1]

        for key, value in items:
            if _small(value):
                batch.append((key, value))
                if len(batch) >= _BATCH:
                    yield separator + flush()
                    separator = ","
                continue
            if batch:
                yield separator + flush()
                separator = ","
            yield f"{separator}{encode(key)}:" if keyed else separator
            yield from self.chunks(value)
            separator = ","
        if batch:
            yield separator + flush()


def _envelope_problem(envelope: Any) -> str | None:
    """Say what is wrong with a parsed file's envelope, or ``None`` if it is usable."""
    if not isinstance(envelope, dict):
        return f"expected a JSON object, got {type(envelope).__name__}"
    if "version" not in envelope:
        return "no 'version' member"
    if "data" not in envelope:
        return "no 'data' member"
    for field in ("version", "minor_version"):
        value = envelope.get(field, 1)
        # bool is an int subclass; "version": true is not a version.
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            return f"{field!r} is {value!r}, not a positive integer"
    return None


def _fsync_dir(directory: Path) -> None:
    """Make a rename or unlink in ``directory`` durable.

    A rename only changes the directory's entries, which the file's own fsync does not
    cover; without this a power cut soon after ``os.replace`` can bring back the old file.
    """
    if os.name != "posix":  # Windows cannot open a directory; NTFS journals renames.
        return
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
