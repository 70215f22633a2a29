"""Loading states: a page whose data is slow says so, then shows the data.

The registry request of the Entities page is held (Playwright routes it and lets it go
on an event), so the test sees the loading state for sure, without timing: the shell's
"Loading…" under the page and the page's own "Loading entities…", both gone once the
answer is in. Then: an entities registry bigger than one page is paged, and search
starts again at its first page.
"""

from __future__ import annotations

import anyio
import pytest
from playwright.async_api import Page, Route, expect

pytestmark = pytest.mark.anyio


async def test_a_slow_page_shows_that_it_is_loading(owner_page: Page) -> None:
    page = owner_page
    release = anyio.Event()

    async def hold(route: Route) -> None:
        await release.wait()
        await route.continue_()

    await page.route("**/api/config/entity_registry", hold)
    await page.goto("/#/entities")
    await expect(page.locator("#main .page-loading")).to_have_text("Loading…")
    await expect(page.get_by_text("Loading entities…")).to_be_visible()
    release.set()
    await expect(page.locator("tr[data-entity-id='sensor.demo_counter']")).to_be_visible()
    await expect(page.locator("#main .loading")).to_have_count(0)


async def test_the_entities_table_is_paged_and_searched(owner_page: Page) -> None:
    page = owner_page
    fake = [
        {"entity_id": f"sensor.point_{n:04d}", "name": None, "original_name": f"Point {n}",
         "platform": "demo", "device_id": None, "disabled_by": None}
        for n in range(250)
    ]

    async def answer(route: Route) -> None:
        await route.fulfill(json=fake)

    await page.route("**/api/config/entity_registry", answer)
    await page.goto("/#/entities")
    entities = page.get_by_role("region", name="Entities")
    rows = entities.locator("tbody tr")
    await expect(rows).to_have_count(100)
    await expect(entities.locator(".pager-info")).to_have_text("1\u2013100 of 250")
    await entities.get_by_role("button", name="Next page of entities").click()
    await expect(entities.locator(".pager-info")).to_have_text("101\u2013200 of 250")
    await expect(rows.first).to_have_attribute("data-entity-id", "sensor.point_0100")
    await page.get_by_label("Search entities and devices").fill("point_02")
    await expect(rows).to_have_count(50)
    await expect(entities.locator(".pager")).to_be_hidden()
