"""Browser helpers for the provisioning pages' tests: a host with the web server and a
provisioning mqtt entry, Debian's Chromium through Playwright, a logged-in owner.

The same set-up as ``tests/frontend/conftest.py`` (whose fixtures only reach tests in
that folder), as context managers: the host and the browser run in the test's loop.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.async_api import Page, async_playwright
from provisiontools import DynsecBroker

from gatehouse.core import Host
from gatehouse.core.http.server import HTTP_SERVER
from gatehouse.core.testing import make_host

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
OWNER = {"username": "owner", "password": "correct horse battery", "name": "Olive Owner"}
SCREENSHOTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "screenshots"


@dataclass
class Server:
    host: Host
    base_url: str
    page_errors: list[str] = field(default_factory=list)


@contextlib.asynccontextmanager
async def provisioning_server(config_dir: Path, broker: DynsecBroker) -> AsyncIterator[Server]:
    broker.write_host_config(config_dir, "Plant broker")
    host = make_host(config_dir)
    async with host.running():
        server = host.data.get(HTTP_SERVER)
        assert server is not None, "the web server did not start"
        yield Server(host, f"http://127.0.0.1:{server.port}")


@contextlib.asynccontextmanager
async def owner_page(server: Server) -> AsyncIterator[Page]:
    """A logged-in owner's page in a fresh headless Chromium; fails on page errors."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                   headless=True, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport={"width": 1280, "height": 900},
                                                base_url=server.base_url,
                                                accept_downloads=True)
            context.set_default_timeout(10_000)
            page = await context.new_page()

            def console(message: Any) -> None:
                if message.type == "error" and "Failed to load resource" not in message.text:
                    server.page_errors.append(f"console: {message.text}")

            page.on("console", console)
            page.on("pageerror", lambda error: server.page_errors.append(f"exception: {error}"))
            response = await context.request.post(
                "/api/onboarding/users", data=OWNER, headers={"Origin": server.base_url})
            assert response.ok, await response.text()
            yield page
            await context.close()
        finally:
            await browser.close()
    assert server.page_errors == []


async def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)
