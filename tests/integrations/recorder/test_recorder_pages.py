"""The History and Logbook pages and the overview's sparklines, in a real browser
(Debian's Chromium, headless, Playwright), on a host whose recorder wrote a real SQLite
file. Waits are Playwright's ``expect``, never sleeps. The browser fixtures are local
(the ones in tests/frontend live in a conftest this folder does not see)."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from gatehouse.core import Host
from gatehouse.core.http.server import HTTP_SERVER
from gatehouse.core.testing import make_host
from gatehouse.integrations.recorder.services import LOADED

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(90)]

CHROMIUM = Path("/usr/bin/chromium")
HAVE_CHROMIUM = CHROMIUM.exists()
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
OWNER = {"username": "owner", "password": "correct horse battery", "name": "Olive Owner"}
MARKUP = "<img src=x onerror=alert(1)>"
SCREENSHOTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "screenshots"
TANK = {"friendly_name": "Tank", "unit_of_measurement": "%", "state_class": "measurement"}


@dataclass
class Server:
    host: Host
    base_url: str
    page_errors: list[str] = field(default_factory=list)

    async def flush(self) -> None:
        for runtime in LOADED.runtimes(self.host).values():
            await runtime.flush()


@pytest.fixture
async def server(config_dir: Path) -> AsyncIterator[Server]:
    (config_dir / "configuration.yaml").write_text(textwrap.dedent("""\
        gatehouse:
          control_socket: false
        http:
          server_host: 127.0.0.1
          server_port: 0
        recorder:
          commit_interval: 0.05
        """), encoding="utf-8")
    host = make_host(config_dir)
    async with host.running():
        http = host.data.get(HTTP_SERVER)
        assert http is not None
        yield Server(host, f"http://127.0.0.1:{http.port}")


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not HAVE_CHROMIUM:
        pytest.skip("the browser test needs Debian's chromium at /usr/bin/chromium")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                    headless=True, args=ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def owner_page(browser: Browser, server: Server) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1366, "height": 768},
                                        base_url=server.base_url)
    context.set_default_timeout(10_000)
    page = await context.new_page()
    page.on("console", lambda m: server.page_errors.append(m.text)
            if m.type == "error" and "Failed to load resource" not in m.text else None)
    page.on("pageerror", lambda error: server.page_errors.append(str(error)))
    try:
        response = await context.request.post(
            "/api/onboarding/users", data=OWNER, headers={"Origin": server.base_url})
        assert response.ok, await response.text()
        yield page
    finally:
        await context.close()
    assert server.page_errors == []


async def _shoot(page: Page, name: str) -> None:
    await anyio.to_thread.run_sync(lambda: SCREENSHOTS.mkdir(parents=True, exist_ok=True))
    await page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


async def _record(server: Server) -> None:
    states = server.host.states
    for value in ("10", "40", "25"):
        states.set("sensor.tank", value, TANK)
    states.set("switch.pump", "on", {"friendly_name": "Pump"})
    states.set("switch.pump", "off", {"friendly_name": "Pump"})
    await server.flush()


async def test_history_page_charts_range_and_zoom(owner_page: Page, server: Server) -> None:
    page = owner_page
    await _record(server)
    await page.goto("/")
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="History").click()
    await expect(page.get_by_role("heading", name="History", level=1)).to_be_visible()
    await page.goto("/#/history?entity_id=sensor.tank,switch.pump&hours=1")
    tank = page.get_by_role("region", name="Tank")
    chart = tank.get_by_role("img")
    await expect(chart).to_have_attribute("aria-label", "Tank: 3 values, min 10 %, max 40 %")
    pump = page.get_by_role("region", name="Pump").get_by_role("img")
    await expect(pump).to_have_attribute("aria-label", "Pump: 2 periods (on, off)")
    await _shoot(page, "history")

    reset = page.get_by_role("button", name="Reset zoom")
    await expect(reset).to_be_hidden()
    await page.get_by_role("button", name="Zoom in").click()
    await expect(reset).to_be_visible()
    await reset.click()
    await expect(reset).to_be_hidden()
    box = await chart.bounding_box()
    assert box is not None
    await page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] / 2)
    await page.mouse.down()
    await page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2, steps=5)
    await page.mouse.up()
    await expect(reset).to_be_visible()  # dragged across: zoomed

    await page.get_by_label("Range").select_option("6")
    await expect(page).to_have_url(
        f"{server.base_url}/#/history?entity_id=sensor.tank%2Cswitch.pump&hours=6")
    await expect(chart).to_have_attribute("aria-label", "Tank: 3 values, min 10 %, max 40 %")
    await page.get_by_role("button", name="Remove switch.pump").click()
    await expect(page.get_by_role("region", name="Pump")).to_have_count(0)


async def test_logbook_page_lists_changes_as_text(owner_page: Page, server: Server) -> None:
    page = owner_page
    await _record(server)
    server.host.states.set("switch.valve", "on", {"friendly_name": MARKUP})
    await server.flush()
    await page.goto("/#/logbook")
    await expect(page.get_by_role("heading", name="Logbook", level=1)).to_be_visible()
    rows = page.locator(".logbook tbody tr")
    await expect(rows.filter(has_text="switch.pump")).to_have_count(2)
    await expect(rows.first).to_contain_text(MARKUP)  # newest first, shown as text
    await expect(page.locator(".logbook img")).to_have_count(0)
    await expect(rows.filter(has_text="sensor.tank")).to_have_count(0)  # a measurement
    await page.get_by_label("Entity").fill("switch.pump")
    await page.get_by_label("Entity").press("Enter")
    await expect(rows).to_have_count(2)
    await expect(rows.first).to_contain_text("changed to off")
    await _shoot(page, "logbook")


async def test_overview_sparklines_filled_from_history(owner_page: Page, server: Server) -> None:
    page = owner_page
    await _record(server)
    await page.goto("/")
    card = page.locator('article.card[data-entity-id="sensor.tank"]')
    await expect(card.locator(".range")).to_have_text("min 10 · max 40")
    await expect(card.locator("svg.sparkline")).to_have_attribute("data-points", "3")
    await _shoot(page, "overview_sparklines")
