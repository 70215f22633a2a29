"""Fixtures for the browser tests: a real host serving the UI, and headless Chromium.

The host runs in the test's own event loop (anyio, asyncio backend) with its web server
on an ephemeral loopback port (``server_port: 0``); Playwright's async API drives
Debian's Chromium in the same loop, so nothing needs a thread. The browser is launched
once per module; each test gets a fresh host, browser context and page.

Screenshots go to ``test-artifacts/screenshots/`` at the repository root (gitignored).
"""

from __future__ import annotations

import contextlib
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, async_playwright

from gatehouse.core import Host
from gatehouse.core.http.server import HTTP_SERVER
from gatehouse.core.testing import make_host

CHROMIUM = Path("/usr/bin/chromium")
HAVE_CHROMIUM = CHROMIUM.exists()
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"

OWNER = {"username": "owner", "password": "correct horse battery", "name": "Olive Owner"}

HTTP_YAML = """\
gatehouse:
  control_socket: false
http:
  server_host: 127.0.0.1
  server_port: 0
"""
#: A demo device that updates five times a second, so live changes show up quickly.
DEMO_YAML = """\
demo:
  name: Demo
  update_interval: 0.2
"""


@dataclass
class Server:
    host: Host
    base_url: str
    #: Console errors and uncaught exceptions of the pages; a test fails on them.
    page_errors: list[str] = field(default_factory=list)


@contextlib.asynccontextmanager
async def run_server(config_dir: Path, extra_yaml: str = "") -> AsyncIterator[Server]:
    (config_dir / "configuration.yaml").write_text(
        HTTP_YAML + textwrap.dedent(extra_yaml), encoding="utf-8"
    )
    host = make_host(config_dir)
    async with host.running():
        server = host.data.get(HTTP_SERVER)
        assert server is not None, "the web server did not start"
        yield Server(host, f"http://127.0.0.1:{server.port}")


@pytest.fixture
async def server(config_dir: Path) -> AsyncIterator[Server]:
    """A host with the web server and a demo device (from configuration.yaml)."""
    async with run_server(config_dir, DEMO_YAML) as running:
        yield running


@pytest.fixture
async def bare_server(config_dir: Path) -> AsyncIterator[Server]:
    """A host with the web server and no integration at all."""
    async with run_server(config_dir) as running:
        yield running


@pytest.fixture
def owner() -> dict[str, str]:
    """The owner's credentials (the ``owner_page`` fixtures onboard with them)."""
    return dict(OWNER)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    if not HAVE_CHROMIUM:
        pytest.skip("the browser tests need Debian's chromium at /usr/bin/chromium")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


async def new_page(browser: Browser, server: Server) -> tuple[BrowserContext, Page]:
    context = await browser.new_context(viewport=VIEWPORT, base_url=server.base_url)
    context.set_default_timeout(10_000)
    page = await context.new_page()

    def console(message: Any) -> None:
        # A failed request (a wrong password's 401) is logged by Chromium as an error;
        # the tests check those answers themselves.
        if message.type == "error" and "Failed to load resource" not in message.text:
            server.page_errors.append(f"console: {message.text}")

    page.on("console", console)
    page.on("pageerror", lambda error: server.page_errors.append(f"exception: {error}"))
    return context, page


@pytest.fixture
async def anonymous_page(browser: Browser, bare_server: Server) -> AsyncIterator[Page]:
    """A page of a fresh browser on a host nobody has onboarded yet."""
    context, page = await new_page(browser, bare_server)
    try:
        yield page
    finally:
        await context.close()
    assert bare_server.page_errors == []


async def _owner_page(browser: Browser, server: Server) -> AsyncIterator[Page]:
    context, page = await new_page(browser, server)
    try:
        # Onboarding through the API sets the session cookie in this browser context.
        response = await context.request.post(
            "/api/onboarding/users", data=OWNER, headers={"Origin": server.base_url}
        )
        assert response.ok, await response.text()
        yield page
    finally:
        await context.close()
    assert server.page_errors == []


@pytest.fixture
async def owner_page(browser: Browser, server: Server) -> AsyncIterator[Page]:
    """Logged in as the owner, on a host with a demo device."""
    async for page in _owner_page(browser, server):
        yield page


@pytest.fixture
async def bare_owner_page(browser: Browser, bare_server: Server) -> AsyncIterator[Page]:
    """Logged in as the owner, on a host with no integration."""
    async for page in _owner_page(browser, bare_server):
        yield page


@pytest.fixture
def screenshot() -> Callable[[Page, str], Awaitable[None]]:
    """``await screenshot(page, name)``: write ``test-artifacts/screenshots/<name>.png``."""

    async def take(page: Page, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)

    return take
