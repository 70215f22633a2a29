"""Backups on the Settings page, in a real browser (issue 15: download/upload, admin).

The owner downloads an encrypted backup (the passphrase typed twice), checks the
downloaded file with a wrong passphrase (the server's reason shown) and the right one
(a summary shown), and reads how to restore; the archive restores with
``restore_backup``. A plain user's Settings page has no Backups section. Waits are
Playwright's ``expect``, never sleeps.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from playwright.async_api import Browser, Page, expect

from gatehouse.core.backup import restore_backup
from gatehouse.core.http.server import HTTP_SERVER

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(90)]

Shoot = Callable[[Page, str], Awaitable[None]]
#: ``conftest.Server`` (not imported: several conftest modules exist in the tree).
Server = Any
PASSPHRASE = "backup passphrase 42"


async def test_owner_downloads_and_checks_a_backup(
    owner_page: Page, server: Server, tmp_path: Path, screenshot: Shoot
) -> None:
    page = owner_page
    await page.goto("/")
    await page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Settings").click()
    backups = page.get_by_role("region", name="Backups")
    await expect(backups).to_contain_text("gatehouse backup restore ARCHIVE --config")

    download_group = backups.get_by_role("group", name="Download a backup")
    check = backups.get_by_role("group", name="Check a backup file")

    # Mismatched passphrases: nothing is sent.
    await backups.get_by_label("Passphrase (optional)").fill(PASSPHRASE)
    await backups.get_by_label("Confirm passphrase").fill("something else")
    await backups.get_by_role("button", name="Download a backup").click()
    await expect(download_group.get_by_role("alert")).to_have_text(
        "The passphrases do not match.")

    await backups.get_by_label("Confirm passphrase").fill(PASSPHRASE)
    async with page.expect_download() as info:
        await backups.get_by_role("button", name="Download a backup").click()
    download = await info.value
    assert download.suggested_filename.startswith("gatehouse-")
    assert download.suggested_filename.endswith(".tar.gz.enc")
    archive = tmp_path / download.suggested_filename
    await download.save_as(archive)
    await expect(download_group.get_by_role("status")).to_have_text(
        f"Downloaded {download.suggested_filename} (encrypted).")

    # Check it: a wrong passphrase is refused with the server's words, then the right one.
    await check.get_by_label("Backup file").set_input_files(archive)
    await check.get_by_label("Passphrase of the file (if encrypted)").fill("wrong")
    await check.get_by_role("button", name="Check backup").click()
    alert = check.get_by_role("alert")
    await expect(alert).to_have_text("wrong passphrase: this backup does not open with it")
    await check.get_by_label("Passphrase of the file (if encrypted)").fill(PASSPHRASE)
    await check.get_by_role("button", name="Check backup").click()
    status = check.get_by_role("status")
    await expect(status).to_contain_text(f"{archive.name} is a good backup:")
    await expect(status).to_contain_text(", encrypted.")
    await expect(check.locator(".form-error")).to_have_text("")  # the error is gone
    await screenshot(page, "settings-backups")

    # The downloaded file restores (what the page tells the user to do).
    restored = tmp_path / "restored"
    await anyio.to_thread.run_sync(
        lambda: restore_backup(archive, restored, passphrase=PASSPHRASE))
    config = await anyio.Path(restored / "configuration.yaml").read_text(encoding="utf-8")
    assert "demo" in config


async def test_a_plain_user_has_no_backups_section(
    owner_page: Page, server: Server, browser: Browser
) -> None:
    auth = server.host.data[HTTP_SERVER].runtime.auth
    await auth.create_user("pat", "pat's passphrase", role="user")
    context = await browser.new_context(base_url=server.base_url)
    try:
        page = await context.new_page()
        response = await context.request.post(
            "/auth/login", data={"username": "pat", "password": "pat's passphrase"},
            headers={"Origin": server.base_url})
        assert response.ok, await response.text()
        await page.goto("/#/settings")
        await expect(page.get_by_role("region", name="Long-lived access tokens")).to_be_visible()
        await expect(page.get_by_role("region", name="Backups")).to_have_count(0)
    finally:
        await context.close()
