"""Backups through the web UI (admins): download a fresh archive, check an uploaded one.

``POST /api/backup`` makes an archive with the same code as ``gatehouse backup create``
(in a worker thread: SQLite snapshots and gzip take seconds) and answers it as a
download. The archive is written to temp space under ``<config>/backups`` (writable on
an appliance, left out of backups) and streamed from there, so memory stays bounded
whatever the recorder's size; the temp file is deleted when the answer is sent.

``POST /api/backup/restore-check`` takes a multipart upload (``file``, optional
``passphrase``), streams it to a temp file (at most ``MAX_UPLOAD`` bytes: 413 beyond,
never held in memory) and restores it into a scratch dir that is deleted afterwards:
every checksum, the decryption and every database's integrity are checked exactly as a
real restore would. It never restores into the running config: files replaced under a
running host would be overwritten by its next save and its open databases would diverge
from their files. Restoring is ``gatehouse backup restore ARCHIVE --config EMPTY_DIR``
with the host stopped.

The passphrase travels in the request body only, never in a URL, a header or a log.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import anyio
import anyio.to_thread
import voluptuous as vol
from aiohttp import BodyPartReader, web

from ..backup import BackupError, BadPassphraseError, create_backup, restore_backup
from ..backup.archive import BACKUP_DIR
from .auth import admin_only
from .body import read_body
from .errors import HttpError, json_response
from .runtime import rt

routes = web.RouteTableDef()

#: The largest archive ``restore-check`` accepts (a recorder of months fits).
MAX_UPLOAD: Final = 512 << 20
_MAX_PASSPHRASE: Final = 1024
_CHUNK: Final = 1 << 16

_CREATE_SCHEMA = vol.Schema({
    vol.Optional("passphrase", default=""): vol.All(str, vol.Length(max=_MAX_PASSPHRASE)),
})

#: Hosts with a backup request in progress: one at a time (each costs a core and disk).
_BUSY: set[int] = set()


def _scratch(config_dir: Path) -> tempfile.TemporaryDirectory[str]:
    folder = config_dir / BACKUP_DIR
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return tempfile.TemporaryDirectory(prefix=".http-", dir=folder)


@contextlib.contextmanager
def _one_at_a_time(host: object) -> Iterator[None]:
    if id(host) in _BUSY:
        raise HttpError(409, "a backup is already being made or checked; try again when "
                             "it is done")
    _BUSY.add(id(host))
    try:
        yield
    finally:
        _BUSY.discard(id(host))


@routes.post("/api/backup")
@admin_only
async def create(request: web.Request) -> web.StreamResponse:
    data = await read_body(request, _CREATE_SCHEMA)
    passphrase: str = data["passphrase"] or ""
    host = rt(request).host
    with _one_at_a_time(host):
        scratch = _scratch(host.config_dir)
        try:
            target = Path(scratch.name) / ("archive.tar.gz.enc" if passphrase
                                           else "archive.tar.gz")
            try:
                info = await anyio.to_thread.run_sync(
                    lambda: create_backup(host.config_dir, target,
                                          passphrase=passphrase or None))
            except BackupError as err:
                raise HttpError(400, str(err)) from None
            name = f"gatehouse-{datetime.now(UTC):%Y%m%dT%H%M%SZ}{target.name[7:]}"
            response = web.StreamResponse(headers={
                "Content-Type": "application/octet-stream",
                "Content-Disposition": f'attachment; filename="{name}"',
                "Cache-Control": "no-store",
                "Content-Length": str(info.size),
            })
            await response.prepare(request)
            with target.open("rb") as stream:
                while chunk := await anyio.to_thread.run_sync(stream.read, 1 << 20):
                    await response.write(chunk)
            await response.write_eof()
            return response
        finally:
            await anyio.to_thread.run_sync(scratch.cleanup)


async def _save_upload(part: BodyPartReader, target: Path, timeout: float) -> int:
    """Stream one part into ``target``; 413 past ``MAX_UPLOAD``, 408 if a read stalls."""
    size = 0
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        while True:
            # The timeout is per read: a big upload over a slow link may take long in
            # total, but a client that stops sending does not hold the request.
            with anyio.move_on_after(timeout) as scope:
                chunk = await part.read_chunk(_CHUNK)
            if scope.cancelled_caught:
                raise HttpError(408, "the upload stalled", headers={"Connection": "close"})
            if not chunk:
                return size
            size += len(chunk)
            if size > MAX_UPLOAD:
                raise HttpError(413, f"the backup file is larger than {MAX_UPLOAD >> 20} MiB",
                                headers={"Connection": "close"})
            await anyio.to_thread.run_sync(out.write, chunk)


def _check(archive: Path, scratch: Path, passphrase: str | None) -> dict[str, Any]:
    info = restore_backup(archive, scratch / "restored", passphrase=passphrase)
    manifest = info.manifest
    return {
        "valid": True, "encrypted": info.encrypted, "files": info.files,
        "databases": info.databases, "size": info.size,
        "created": manifest.get("created"), "gatehouse": manifest.get("gatehouse"),
        "format": manifest.get("format"),
    }


@routes.post("/api/backup/restore-check")
@admin_only
async def restore_check(request: web.Request) -> web.Response:
    if request.content_length is not None and request.content_length > MAX_UPLOAD + (1 << 20):
        raise HttpError(413, f"the backup file is larger than {MAX_UPLOAD >> 20} MiB",
                        headers={"Connection": "close"})
    if not request.content_type.startswith("multipart/"):
        raise HttpError(400, "send the backup file as multipart/form-data (field 'file', "
                             "optional 'passphrase')")
    runtime = rt(request)
    host = runtime.host
    with _one_at_a_time(host):
        scratch = _scratch(host.config_dir)
        try:
            work = Path(scratch.name)
            archive = work / "upload"
            passphrase: str | None = None
            uploaded = False
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader):
                    raise HttpError(400, "nested multipart bodies are not accepted")
                if part.name == "file" and not uploaded:
                    await _save_upload(part, archive, runtime.client_timeout)
                    uploaded = True
                elif part.name == "passphrase":
                    raw = await part.read_chunk(_MAX_PASSPHRASE + 1)
                    if len(raw) > _MAX_PASSPHRASE or await part.read_chunk(1):
                        raise HttpError(400, "the passphrase is too long",
                                        errors={"passphrase": "too long"})
                    passphrase = raw.decode("utf-8", "replace") or None
                else:
                    raise HttpError(400, f"unexpected form field {part.name!r}")
            if not uploaded or archive.stat().st_size == 0:
                raise HttpError(400, "no backup file was sent (field 'file')",
                                errors={"file": "required"})
            try:
                result = await anyio.to_thread.run_sync(_check, archive, work, passphrase)
            except BadPassphraseError:
                raise HttpError(400, "wrong passphrase: this backup does not open with it",
                                errors={"passphrase": "wrong passphrase"}) from None
            except BackupError as err:
                # The message names our temp file: say "the uploaded file" instead.
                text = str(err).replace(str(archive), "the uploaded file")
                if "is encrypted: give the passphrase" in text:
                    raise HttpError(400, "this backup is encrypted: give its passphrase",
                                    errors={"passphrase": "required"}) from None
                raise HttpError(400, f"not a usable backup: {text}") from None
            return json_response(result)
        finally:
            await anyio.to_thread.run_sync(scratch.cleanup)
