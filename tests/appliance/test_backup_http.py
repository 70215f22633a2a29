"""Backups through the web API (issue 15: "download/upload in the UI (admin)").

An admin downloads an archive of a running host that ``gatehouse backup restore``
restores into an empty dir; an uploaded archive is checked (checksums, passphrase,
databases) without touching the running config; non-admins are refused, oversized
uploads get 413 and a wrong passphrase a clear 400.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import FormData, web
from aiohttp.test_utils import TestClient, TestServer

from gatehouse.core import Host
from gatehouse.core.backup.archive import BACKUP_DIR
from gatehouse.core.http import views_backup
from gatehouse.core.http.app import create_app
from gatehouse.core.http.runtime import RUNTIME_KEY, HttpRuntime
from gatehouse.core.testing import make_host, wait_until

pytestmark = pytest.mark.anyio

GATEHOUSE = Path(sys.executable).parent / "gatehouse"
PASSPHRASE = "correct horse battery staple"
Client = TestClient[Any, Any]

CONFIG = """\
gatehouse:
  control_socket: false
demo:
  name: Demo
recorder:
  commit_interval: 0.1
"""


@pytest.fixture
async def host(tmp_path: Path) -> AsyncIterator[Host]:
    config = tmp_path / "config"
    config.mkdir()
    (config / "configuration.yaml").write_text(CONFIG, encoding="utf-8")
    (config / "extra.yaml").write_text("kept: true\n", encoding="utf-8")
    h = make_host(config)
    async with h.running():
        yield h


@pytest.fixture
async def client(host: Host) -> AsyncIterator[Client]:
    app: web.Application = await create_app(host, {})
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def _headers(client: Client, username: str, role: str) -> dict[str, str]:
    runtime: HttpRuntime = client.app[RUNTIME_KEY]
    user = await runtime.auth.create_user(username, "a good password", role=role)
    _, value = await runtime.auth.create_token(user, "tests")
    return {"Authorization": f"Bearer {value}"}


@pytest.fixture
async def admin(client: Client) -> dict[str, str]:
    return await _headers(client, "ada", "admin")


def _restore(archive: Path, target: Path, passphrase: str | None = None) -> str:
    args = [str(GATEHOUSE), "backup", "restore", str(archive), "--config", str(target)]
    if passphrase is not None:
        secret = archive.with_suffix(".pass")
        secret.write_text(passphrase + "\n", encoding="utf-8")
        args += ["--passphrase-file", str(secret)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


async def _download(client: Client, headers: dict[str, str], body: dict[str, str],
                    target: Path) -> Path:
    response = await client.post("/api/backup", json=body, headers=headers)
    assert response.status == 200, await response.text()
    assert response.headers["Cache-Control"] == "no-store"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="gatehouse-')
    data = await response.read()
    assert int(response.headers["Content-Length"]) == len(data)
    return _save(target, data)


def _save(target: Path, data: bytes) -> Path:
    target.write_bytes(data)
    return target


async def _no_scratch_left(host: Host) -> None:
    """The handler deletes its temp space right after the answer's last byte."""
    folder = host.config_dir / BACKUP_DIR
    await wait_until(lambda: not folder.is_dir() or not any(folder.iterdir()),
                     message=f"temp files left in {folder}")


async def test_admin_downloads_an_archive_that_the_cli_restores(
        host: Host, client: Client, admin: dict[str, str], tmp_path: Path) -> None:
    plain = await _download(client, admin, {}, tmp_path / "plain.tar.gz")
    assert plain.read_bytes()[:2] == b"\x1f\x8b"  # gzip
    restored = tmp_path / "restored"
    assert "Restored" in _restore(plain, restored)
    assert (restored / "configuration.yaml").read_text(encoding="utf-8") == CONFIG
    assert (restored / "extra.yaml").read_text(encoding="utf-8") == "kept: true\n"
    assert list(restored.rglob("*.db")), "the recorder's database is in the archive"

    sealed = await _download(client, admin, {"passphrase": PASSPHRASE},
                             tmp_path / "sealed.tar.gz.enc")
    assert sealed.read_bytes()[:8] == b"GHBKENC1"
    _restore(sealed, tmp_path / "restored2", PASSPHRASE)
    assert (tmp_path / "restored2" / "extra.yaml").is_file()
    # Nothing stays behind in the config dir (the temp archive is gone).
    await _no_scratch_left(host)


async def test_non_admins_are_refused(client: Client, tmp_path: Path) -> None:
    for role in ("user", "read_only"):
        headers = await _headers(client, f"u_{role}", role)
        made = await client.post("/api/backup", json={}, headers=headers)
        assert made.status == 403
        form = FormData()
        form.add_field("file", b"anything", filename="x.tar.gz")
        checked = await client.post("/api/backup/restore-check", data=form, headers=headers)
        assert checked.status == 403
    anonymous = await client.post("/api/backup", json={})
    assert anonymous.status == 401


def _form(archive: bytes, passphrase: str | None = None) -> FormData:
    form = FormData()
    if passphrase is not None:
        form.add_field("passphrase", passphrase)
    form.add_field("file", archive, filename="backup.tar.gz",
                   content_type="application/octet-stream")
    return form


async def test_restore_check_verifies_without_restoring(
        host: Host, client: Client, admin: dict[str, str], tmp_path: Path) -> None:
    sealed = (await _download(client, admin, {"passphrase": PASSPHRASE},
                              tmp_path / "sealed.enc")).read_bytes()
    before = sorted(p.name for p in host.config_dir.iterdir())

    good = await client.post("/api/backup/restore-check", data=_form(sealed, PASSPHRASE),
                             headers=admin)
    assert good.status == 200, await good.text()
    answer = await good.json()
    assert answer["valid"] is True and answer["encrypted"] is True
    assert answer["files"] >= 2 and answer["databases"]

    wrong = await client.post("/api/backup/restore-check", data=_form(sealed, "not it"),
                              headers=admin)
    assert wrong.status == 400
    body = await wrong.json()
    assert body["message"].startswith("wrong passphrase")
    assert body["errors"] == {"passphrase": "wrong passphrase"}

    missing = await client.post("/api/backup/restore-check", data=_form(sealed),
                                headers=admin)
    assert missing.status == 400
    assert "encrypted" in (await missing.json())["message"]

    # A damaged archive: one byte of a member flipped, checksum refused, no temp path named.
    plain = bytearray((await _download(client, admin, {}, tmp_path / "p.tgz")).read_bytes())
    damaged = await client.post("/api/backup/restore-check",
                                data=_form(bytes(plain[: len(plain) // 2])), headers=admin)
    assert damaged.status == 400
    text = (await damaged.json())["message"]
    assert text.startswith("not a usable backup") and ".http-" not in text

    # Not a backup at all: a tar without the manifest.
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("config/x")
        tar.addfile(info, io.BytesIO(b""))
    foreign = await client.post("/api/backup/restore-check", data=_form(buffer.getvalue()),
                                headers=admin)
    assert foreign.status == 400
    assert "not a Gatehouse backup" in (await foreign.json())["message"]

    # The running config is untouched and no scratch is left.
    assert sorted(p.name for p in host.config_dir.iterdir()) == before
    await _no_scratch_left(host)


@pytest.fixture
def small_limit(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """512 MiB is the real bound; a 256 KiB one keeps the test quick."""
    monkeypatch.setattr(views_backup, "MAX_UPLOAD", 256 << 10)
    yield 256 << 10


async def test_oversized_uploads_are_refused(
        host: Host, client: Client, admin: dict[str, str], small_limit: int) -> None:
    # Declared too big: refused before a byte is read.
    declared = await client.post(
        "/api/backup/restore-check", data=b"x" * 16,
        headers={**admin, "Content-Type": "multipart/form-data; boundary=b",
                 "Content-Length": str(small_limit + (2 << 20))})
    assert declared.status == 413

    # Streamed (chunked, no length): refused once the file part passes the bound.
    async def chunks() -> AsyncIterator[bytes]:
        yield b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\n"
        for _ in range(small_limit // (64 << 10) + 4):
            yield b"\0" * (64 << 10)
        yield b"\r\n--b--\r\n"

    streamed = await client.post(
        "/api/backup/restore-check", data=chunks(),
        headers={**admin, "Content-Type": "multipart/form-data; boundary=b"})
    assert streamed.status == 413
    assert "larger than" in (await streamed.json())["message"]
    await _no_scratch_left(host)


async def test_bad_requests_are_clear(client: Client, admin: dict[str, str]) -> None:
    not_form = await client.post("/api/backup/restore-check", json={}, headers=admin)
    assert not_form.status == 400
    assert "multipart/form-data" in (await not_form.json())["message"]
    empty = FormData(default_to_multipart=True)
    empty.add_field("passphrase", "x")
    no_file = await client.post("/api/backup/restore-check", data=empty, headers=admin)
    assert no_file.status == 400
    assert (await no_file.json())["errors"] == {"file": "required"}
    long = await client.post("/api/backup", json={"passphrase": "x" * 5000}, headers=admin)
    assert long.status == 400
    assert "passphrase" in (await long.json())["errors"]
