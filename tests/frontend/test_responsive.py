"""Phones and laptops: no page of the UI scrolls sideways; the menu and the theme toggle.

Every page of the shell's page table (``PAGES`` in ``frontend/js/app.js``, read from
the file so a new page is checked without editing this test) is visited at 390x844 (a
phone) and at 1366x768 (a laptop) on a host with a demo device, automations, the
recorder and the audit log loaded; the document must be no wider than the window
(``scrollWidth <= innerWidth``). Pages whose integration is not loaded (mqtt,
schema_guard) still render their notice and are checked too. Waits are Playwright's
``expect``, never sleeps.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, ViewportSize, expect

from gatehouse.core import Host
from gatehouse.core.http.server import HTTP_SERVER
from gatehouse.core.testing import make_host

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(180)]

Shoot = Callable[[Page, str], Awaitable[None]]
APP_JS = Path(__file__).resolve().parents[2] / "frontend" / "js" / "app.js"
PHONE: ViewportSize = {"width": 390, "height": 844}
LAPTOP: ViewportSize = {"width": 1366, "height": 768}

CONFIG = """\
gatehouse:
  control_socket: false
http:
  server_host: 127.0.0.1
  server_port: 0
demo:
  name: Demo
  update_interval: 0.2
automation:
recorder:
  commit_interval: 0.2
audit:
"""


@dataclass
class Server:
    """What the conftest's page fixtures use (``conftest.Server``'s fields)."""

    host: Host
    base_url: str
    page_errors: list[str] = field(default_factory=list)


@pytest.fixture
async def server(config_dir: Path) -> AsyncIterator[Server]:
    (config_dir / "configuration.yaml").write_text(CONFIG, encoding="utf-8")
    host = make_host(config_dir)
    async with host.running():
        web = host.data.get(HTTP_SERVER)
        assert web is not None, "the web server did not start"
        yield Server(host, f"http://127.0.0.1:{web.port}")


def page_paths() -> list[str]:
    """The paths of the shell's page table, in its order."""
    source = APP_JS.read_text(encoding="utf-8")
    table = source[source.index("const PAGES = ["):]
    table = table[: table.index("];")]
    paths = re.findall(r'path: "([a-z_]+)"', table)
    assert "overview" in paths and "settings" in paths, paths
    return paths


#: The deepest elements that stick out of the window, for the failure message.
WIDEST = """() => [...document.querySelectorAll("body *")]
  .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5
    && ![...e.children].some((c) => c.getBoundingClientRect().right > window.innerWidth + 0.5))
  .slice(0, 3).map((e) => e.tagName.toLowerCase() + (e.className ? "." + e.className : "")
    + " " + Math.round(e.getBoundingClientRect().right)).join(", ")"""


async def overflow(page: Page) -> tuple[int, int]:
    width: list[int] = await page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth]"
    )
    return width[0], width[1]


async def visit_all(page: Page, viewport: ViewportSize, screenshot: Shoot) -> list[str]:
    await page.set_viewport_size(viewport)
    await page.goto("/")
    await expect(page.locator("#live")).to_have_text("Live")
    wide: list[str] = []
    for path in page_paths():
        await page.goto(f"/#/{path}")
        view = page.locator("#main .view")
        await expect(view.locator("h1").first).to_be_visible()
        await expect(page.locator("#main .loading")).to_have_count(0)
        scroll_width, inner_width = await overflow(page)
        if scroll_width > inner_width:
            culprit = await page.evaluate(WIDEST)
            wide.append(f"{path}: {scroll_width} > {inner_width} ({culprit})")
        await screenshot(page, f"responsive-{viewport['width']}-{path}")
    return wide


async def test_no_page_scrolls_sideways_on_a_phone(
    owner_page: Page, screenshot: Shoot
) -> None:
    wide = await visit_all(owner_page, PHONE, screenshot)
    assert not wide, "pages wider than the window: " + "; ".join(wide)


async def test_no_page_scrolls_sideways_on_a_laptop(
    owner_page: Page, screenshot: Shoot
) -> None:
    wide = await visit_all(owner_page, LAPTOP, screenshot)
    assert not wide, "pages wider than the window: " + "; ".join(wide)


async def test_the_menu_button_opens_and_closes_the_navigation_on_a_phone(
    owner_page: Page, screenshot: Shoot
) -> None:
    page = owner_page
    await page.set_viewport_size(PHONE)
    await page.goto("/#/overview")
    await expect(page.locator("#live")).to_have_text("Live")
    nav = page.get_by_role("navigation", name="Main")
    menu = page.get_by_role("button", name="Menu")
    await expect(nav).to_be_hidden()
    await expect(menu).to_have_attribute("aria-expanded", "false")
    await menu.click()
    await expect(nav).to_be_visible()
    await expect(menu).to_have_attribute("aria-expanded", "true")
    await screenshot(page, "responsive-menu-open")
    await nav.get_by_role("link", name="Settings").click()
    await expect(page.get_by_role("heading", name="Settings", exact=True)).to_be_visible()
    await expect(nav).to_be_hidden()
    await menu.click()
    await expect(nav).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(nav).to_be_hidden()
    await expect(menu).to_be_focused()


async def test_the_menu_button_is_not_there_on_a_laptop(owner_page: Page) -> None:
    page = owner_page
    await page.set_viewport_size(LAPTOP)
    await page.goto("/#/overview")
    await expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    await expect(page.get_by_role("button", name="Menu")).to_be_hidden()


async def test_dark_mode_follows_the_system_and_the_toggle_is_remembered(
    browser: Browser, owner_page: Page, screenshot: Shoot
) -> None:
    page = owner_page
    background = "() => getComputedStyle(document.body.parentElement).backgroundColor"
    await page.emulate_media(color_scheme="light")
    await page.goto("/#/overview")
    await expect(page.locator("#live")).to_have_text("Live")
    light = await page.evaluate(background)
    await page.emulate_media(color_scheme="dark")
    dark = await page.evaluate(background)
    assert light != dark, "prefers-color-scheme: dark changed nothing"
    toggle = page.get_by_role("button", name="Dark mode")
    await expect(toggle).to_have_attribute("aria-pressed", "true")

    # The toggle overrides the system's choice, and a reload keeps it.
    await toggle.click()
    await expect(toggle).to_have_attribute("aria-pressed", "false")
    assert await page.evaluate(background) == light
    await page.reload()
    await expect(page.locator("#live")).to_have_text("Live")
    await expect(toggle).to_have_attribute("aria-pressed", "false")
    assert await page.evaluate(background) == light
    assert await page.evaluate("() => localStorage.getItem('gatehouse.theme')") == "light"
    await toggle.click()
    assert await page.evaluate(background) == dark
    await screenshot(page, "overview-dark")
