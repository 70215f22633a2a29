"""The UI's certificate banner in a real browser: hidden while every certificate has 30
days or more, shown (naming the certificate) once one has fewer, gone once it is revoked.

Self-contained (the browser fixtures of tests/frontend live in its conftest): a host
with the web server and the pki integration, onboarded through the API, and Debian's
Chromium driven by Playwright.
"""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Page, async_playwright, expect

from gatehouse.core.helpers import certificate_authority
from gatehouse.core.http.server import HTTP_SERVER
from gatehouse.core.testing import make_host

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

CHROMIUM = Path("/usr/bin/chromium")
HAVE_CHROMIUM = CHROMIUM.exists()
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
OWNER = {"username": "owner", "password": "correct horse battery", "name": "Olive Owner"}
CONFIG = """\
gatehouse:
  control_socket: false
http:
  server_host: 127.0.0.1
  server_port: 0
pki:
  poll_interval: 0.05
"""


@pytest.fixture
def configured(config_dir: Path) -> Path:
    (config_dir / "configuration.yaml").write_text(textwrap.dedent(CONFIG), encoding="utf-8")
    return config_dir


@pytest.fixture
async def page(configured: Path) -> AsyncIterator[tuple[Page, list[str]]]:
    if not HAVE_CHROMIUM:
        pytest.skip("the browser test needs Debian's chromium at /usr/bin/chromium")
    host = make_host(configured)
    errors: list[str] = []
    async with host.running(), async_playwright() as playwright:
        server = host.data.get(HTTP_SERVER)
        assert server is not None, "the web server did not start"
        base = f"http://127.0.0.1:{server.port}"
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                   headless=True, args=ARGS)
        try:
            context = await browser.new_context(base_url=base)
            context.set_default_timeout(10_000)
            answer = await context.request.post("/api/onboarding/users", data=OWNER,
                                                headers={"Origin": base})
            assert answer.ok, await answer.text()
            opened = await context.new_page()
            opened.on("pageerror", lambda error: errors.append(str(error)))
            # Console errors too: a Content-Security-Policy refusal is only logged there.
            opened.on("console", lambda message: errors.append(message.text)
                      if message.type == "error" else None)
            yield opened, errors
        finally:
            await browser.close()


async def test_banner_follows_the_problem_sensor(
    page: tuple[Page, list[str]], config_dir: Path
) -> None:
    browser_page, errors = page
    ca = certificate_authority(config_dir)
    ca.init("Plant CA")
    await browser_page.goto("/#/overview")
    await expect(browser_page.locator("#live")).to_have_text("Live")
    banner = browser_page.locator('[data-banner="certificates"]')
    await expect(banner).to_be_hidden()

    short = ca.issue_device("plc-01", days=10)
    await expect(banner).to_be_visible()
    await expect(banner).to_contain_text("Certificates expire soon: device plc-01 (")
    assert await banner.get_attribute("role") == "alert"

    ca.revoke(short.serial)
    await expect(banner).to_be_hidden()
    assert errors == []
