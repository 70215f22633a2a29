"""One archive with everything a box needs to come back: create and restore.

The archive is a gzip tar of the config dir: ``configuration.yaml`` and every other file
the user keeps there, ``.storage/`` (registries, entries, users, the tag keyring), the
CA under ``pki/``, audit logs. SQLite databases (outbox, quarantine, recorder: any
``*.db`` under the config dir) are not copied as files, which while the host writes
them would give a torn copy, but through SQLite's online backup API into a snapshot
that is consistent on its own (WAL included). A manifest (``gatehouse-backup.json``,
first member) lists every file with its SHA-256; restore checks them all.

Left out: the lock and control socket of a running host, SQLite's ``-wal``/``-shm``/
``-journal`` side files (the snapshot includes their content), ``backups/`` (the
archives themselves) and ``__pycache__``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import sqlite3
import stat
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any, Final

from ..const import __version__
from .crypto import decrypt_file, encrypt_file, is_encrypted
from .errors import BackupError

#: The archive layout version; a newer one than this code knows is refused.
FORMAT_VERSION: Final = 1
MANIFEST: Final = "gatehouse-backup.json"
PREFIX: Final = "config/"
BACKUP_DIR: Final = "backups"
DB_SUFFIXES: Final = (".db", ".sqlite", ".sqlite3")
_SKIP_NAMES: Final = frozenset({".gatehouse.lock", ".gatehouse.sock", "__pycache__"})
_SKIP_SUFFIXES: Final = ("-wal", "-shm", "-journal", ".tmp")


@dataclass
class BackupInfo:
    path: Path
    files: int
    databases: list[str]
    size: int
    encrypted: bool
    seconds: float
    manifest: dict[str, Any] = field(default_factory=dict)


def _skipped(rel: PurePosixPath) -> bool:
    if rel.parts and rel.parts[0] == BACKUP_DIR:
        return True
    if any(part in _SKIP_NAMES for part in rel.parts):
        return True
    return rel.name.endswith(_SKIP_SUFFIXES)


def _listing(folder: Path, first: list[str]) -> set[str]:
    """Names in ``folder``: the union of three listings.

    A directory read while another process renames a file over an existing name (every
    JSON store save does) may miss that name (POSIX leaves readdir's view of concurrent
    changes open); a store missing from a backup would be lost silently. Names that are
    gone by the time they are opened are skipped.
    """
    names = set(first)
    for _ in range(2):
        with contextlib.suppress(OSError):
            names.update(os.listdir(folder))
    return names


def _walk(config_dir: Path) -> Iterator[tuple[Path, PurePosixPath]]:
    for dirpath, dirnames, filenames in os.walk(config_dir):
        dirnames.sort()
        here = Path(dirpath)
        for name in sorted(_listing(here, filenames)):
            path = here / name
            rel = PurePosixPath(path.relative_to(config_dir).as_posix())
            if _skipped(rel):
                continue
            # Regular files only: sockets, FIFOs and symlinks out of the dir stay out.
            with contextlib.suppress(FileNotFoundError):
                if stat.S_ISREG(os.lstat(path).st_mode):
                    yield path, rel


def snapshot_database(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database (the online backup API).

    Pages are copied in steps; a writer in another process may commit between steps, in
    which case SQLite restarts the copy, so the result is one committed state.
    """
    try:
        src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error as err:
        raise BackupError(f"{source}: cannot open the database: {err}") from None
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst, pages=1024)
            dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            dst.close()
    except sqlite3.Error as err:
        raise BackupError(f"{source}: the snapshot failed: {err}") from None
    finally:
        src.close()


def default_archive_path(config_dir: Path, *, encrypted: bool) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    suffix = ".tar.gz.enc" if encrypted else ".tar.gz"
    path = config_dir / BACKUP_DIR / f"gatehouse-{stamp}{suffix}"
    n = 1
    while path.exists():  # two in one second: never overwrite the first
        path = config_dir / BACKUP_DIR / f"gatehouse-{stamp}-{n}{suffix}"
        n += 1
    return path


def create_backup(config_dir: Path, output: Path | None = None, *,
                  passphrase: str | None = None) -> BackupInfo:
    """Write one archive of ``config_dir`` (safe while a host runs on it). Blocking."""
    started = time.monotonic()
    config_dir = config_dir.resolve()
    if not (config_dir / "configuration.yaml").is_file():
        raise BackupError(f"{config_dir} has no configuration.yaml: not a config dir")
    target = output or default_archive_path(config_dir, encrypted=bool(passphrase))
    target.parent.mkdir(parents=True, exist_ok=True)
    files: list[dict[str, Any]] = []
    databases: list[str] = []
    with tempfile.TemporaryDirectory(prefix="gatehouse-backup-") as tmp:
        work = Path(tmp)
        plain = work / "archive.tar.gz"
        with tarfile.open(plain, "w:gz", compresslevel=6) as tar:
            for original, rel in _walk(config_dir):
                if original.resolve() == target.resolve():
                    continue
                name = PREFIX + str(rel)
                mode = stat.S_IMODE(os.stat(original).st_mode)
                if rel.name.endswith(DB_SUFFIXES):
                    # One snapshot at a time: temp space is the largest database, not all.
                    snapshot = work / "snapshot.db"
                    snapshot_database(original, snapshot)
                    entry = _add_file(tar, snapshot, name, mode)
                    snapshot.unlink()
                    databases.append(str(rel))
                else:
                    entry = _add_file(tar, original, name, mode)
                if entry is not None:
                    files.append(entry)
            # The manifest goes last: it lists what was actually archived.
            manifest = {
                "format": FORMAT_VERSION, "gatehouse": __version__,
                "created": datetime.now(UTC).isoformat(timespec="seconds"),
                "source": str(config_dir), "files": files, "databases": databases,
            }
            data = json.dumps(manifest, indent=1).encode()
            member = tarfile.TarInfo(MANIFEST)
            member.size, member.mtime, member.mode = len(data), int(time.time()), 0o600
            tar.addfile(member, io.BytesIO(data))
        partial = target.with_name(target.name + ".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            if passphrase:
                encrypt_file(plain, out, passphrase)
            else:
                with plain.open("rb") as stream:
                    while chunk := stream.read(1 << 20):
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, target)
    return BackupInfo(target, len(files), databases, target.stat().st_size,
                      bool(passphrase), time.monotonic() - started, manifest)


class _HashingReader(io.RawIOBase):
    """Reads a file for tarfile and hashes exactly the bytes that go into the archive."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self.digest.update(data)
        return data


def _add_file(tar: tarfile.TarFile, path: Path, name: str, mode: int) -> dict[str, Any] | None:
    """Archive ``path`` as it is at open time; None if it vanished meanwhile.

    Stores and logs change while the host runs: a JSON store is replaced by rename (the
    open file keeps the old, complete content) and an audit log grows (the archive takes
    the first ``size`` bytes, as of the fstat). Hashing while archiving, from one open
    file, keeps the manifest's checksum equal to the archived bytes in both cases.
    """
    try:
        stream = path.open("rb")
    except FileNotFoundError:
        return None
    with stream:
        st = os.fstat(stream.fileno())
        member = tarfile.TarInfo(name)
        member.size, member.mtime, member.mode = st.st_size, int(st.st_mtime), mode
        reader = _HashingReader(stream)
        tar.addfile(member, reader)
        return {"name": name, "sha256": reader.digest.hexdigest(), "size": st.st_size,
                "mode": mode}


def read_manifest(tar: tarfile.TarFile, source: Path) -> dict[str, Any]:
    try:
        member = tar.getmember(MANIFEST)
        stream = tar.extractfile(member)
        manifest: dict[str, Any] = json.loads(stream.read() if stream else b"")
    except (KeyError, ValueError) as err:
        raise BackupError(f"{source} is not a Gatehouse backup (no manifest: {err})") from None
    version = manifest.get("format")
    if not isinstance(version, int):
        raise BackupError(f"{source}: the manifest has no format version")
    if version > FORMAT_VERSION:
        raise BackupError(
            f"{source} was made by a newer Gatehouse ({manifest.get('gatehouse')}, backup "
            f"format {version}); this one ({__version__}) reads format {FORMAT_VERSION} "
            "at most: upgrade first"
        )
    return manifest


def restore_backup(archive: Path, config_dir: Path, *,
                   passphrase: str | None = None) -> BackupInfo:
    """Unpack ``archive`` into ``config_dir``, which must be empty or absent. Blocking.

    Every file is checked against the manifest's SHA-256 and every database with
    ``PRAGMA integrity_check`` before anything is written into ``config_dir``; a bad
    archive leaves the target untouched.
    """
    started = time.monotonic()
    if not archive.is_file():
        raise BackupError(f"{archive}: no such file")
    if config_dir.exists() and any(config_dir.iterdir()):
        raise BackupError(f"{config_dir} is not empty: restore only into an empty directory")
    encrypted = is_encrypted(archive)
    if encrypted and not passphrase:
        raise BackupError(f"{archive} is encrypted: give the passphrase")
    parent = config_dir.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".gatehouse-restore-", dir=parent) as tmp:
        work = Path(tmp)
        plain = archive
        if encrypted:
            plain = work / "archive.tar.gz"
            with plain.open("wb") as out:
                decrypt_file(archive, out, passphrase or "")
        staging = work / "config"
        try:
            with tarfile.open(plain, "r:gz") as tar:
                manifest = read_manifest(tar, archive)
                _extract(tar, manifest, staging, archive)
        except (tarfile.TarError, OSError, EOFError) as err:
            raise BackupError(f"{archive} is damaged: {err}") from None
        for rel in manifest.get("databases", []):
            _check_database(staging / rel)
        staging.chmod(0o700)
        if config_dir.exists():
            config_dir.rmdir()
        os.replace(staging, config_dir)
    return BackupInfo(config_dir, len(manifest["files"]), list(manifest.get("databases", [])),
                      archive.stat().st_size, encrypted, time.monotonic() - started, manifest)


def _extract(tar: tarfile.TarFile, manifest: dict[str, Any], staging: Path,
             source: Path) -> None:
    wanted = {f["name"]: f for f in manifest["files"]}
    staging.mkdir(mode=0o700)
    for member in tar:
        if member.name == MANIFEST:
            continue
        entry = wanted.pop(member.name, None)
        if entry is None or not member.isfile():
            raise BackupError(f"{source}: unexpected member {member.name!r}")
        rel = PurePosixPath(member.name[len(PREFIX):])
        if rel.is_absolute() or ".." in rel.parts or not member.name.startswith(PREFIX):
            raise BackupError(f"{source}: unsafe path {member.name!r}")
        target = staging.joinpath(*rel.parts)
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        stream = tar.extractfile(member)
        if stream is None:
            raise BackupError(f"{source}: cannot read {member.name!r}")
        _copy_checked(stream, target, entry, source)
    if wanted:
        raise BackupError(f"{source} is incomplete: {sorted(wanted)[:3]} missing")


def _copy_checked(stream: IO[bytes], target: Path, entry: dict[str, Any], source: Path) -> None:
    digest = hashlib.sha256()
    mode = int(entry.get("mode", 0o600)) & 0o777
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as out:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
            out.write(chunk)
    if digest.hexdigest() != entry["sha256"]:
        raise BackupError(f"{source}: {entry['name']} does not match its checksum")


def _check_database(path: Path) -> None:
    try:
        db = sqlite3.connect(path)
        try:
            (result,) = db.execute("PRAGMA integrity_check").fetchone()
        finally:
            db.close()
    except sqlite3.Error as err:
        raise BackupError(f"{path.name}: not a usable database: {err}") from None
    if result != "ok":
        raise BackupError(f"{path.name}: integrity check failed: {result}")
