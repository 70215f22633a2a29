"""The Audit log page in a real browser (Debian's Chromium, headless, Playwright).

A host with the web server and an audit entry; the owner (onboarded through the API)
opens the page from the navigation, sees the integrity panel say how far the chain is
intact, filters by who, what and time, finds text from the log shown as text (never
as markup), then a byte of the log changes on disk and "Verify now" names the first
bad record. Waits are Playwright's ``expect``, never sleeps. The browser fixtures are
local (the ones in tests/frontend live in a conftest this folder does not see).
"""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from gatehouse.core import Context, Host
from gatehouse.core.http.server import HTTP_SERVER
from gatehouse.core.testing import make_host

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(90)]

CHROMIUM = Path("/usr/bin/chromium")
HAVE_CHROMIUM = CHROMIUM.exists()
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
OWNER = {"username": "owner", "password": "correct horse battery", "name": "Olive Owner"}
MARKUP = "<img src=x onerror=alert(1)>"
SCREENSHOTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "screenshots"


@dataclass
class Server:
    host: Host
    base_url: str
    page_errors: list[str] = field(default_factory=list)


@pytest.fixture
async def server(config_dir: Path) -> AsyncIterator[Server]:
    (config_dir / "configuration.yaml").write_text(textwrap.dedent("""\
        gatehouse:
          control_socket: false
        http:
          server_host: 127.0.0.1
          server_port: 0
        audit:
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
    context = await browser.new_context(viewport={"width": 1280, "height": 800},
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


async def test_filter_the_log_and_see_verify_catch_a_changed_byte(
    owner_page: Page, server: Server
) -> None:
    page, host = owner_page, server.host
    for name, action, target in [("alice", "auth.login", None),
                                 ("bob", "auth.login", None),
                                 ("alice", "cert.issue", "cert:4711"),
                                 (MARKUP, "auth.login", None)]:
        host.bus.fire("audit_security", {"action": action, "result": "ok", "name": name,
                                         "ip": "192.0.2.9", "target": target})
    await host.services.call("audit", "checkpoint", {})

    await page.goto("/")
    await page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Audit log").click()
    await expect(page.get_by_role("heading", name="Audit log", level=1)).to_be_visible()
    integrity = page.get_by_role("region", name="Integrity")
    await expect(integrity.get_by_role("status")).to_contain_text("Chain intact up to seq")
    await expect(integrity).to_contain_text("Last checkpoint: seq")
    records = page.get_by_role("region", name="Records")
    await expect(records.locator("tbody tr").filter(has_text="cert:4711")).to_have_count(1)

    # Who: alice's two records, newest first.
    await page.get_by_label("Who").fill("alice")
    await page.get_by_role("button", name="Search").click()
    await expect(records.locator("tbody tr")).to_have_count(2)
    await expect(records.locator("tbody tr").first).to_contain_text("cert.issue")
    await expect(records.locator("tbody tr").nth(1)).to_contain_text("auth.login")
    # What: a family; with who still alice, one.
    await page.get_by_label("What").fill("auth.")
    await page.get_by_role("button", name="Search").click()
    await expect(records.locator("tbody tr")).to_have_count(1)
    # Time: from an hour ahead, nothing.
    await page.get_by_role("button", name="Clear").click()
    await expect(records.locator("tbody tr").filter(has_text="bob")).to_have_count(1)
    ahead = (datetime.now() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    await page.get_by_label("From").fill(ahead)
    await page.get_by_role("button", name="Search").click()
    await expect(records.get_by_role("status")).to_have_text("No record matches.")
    await page.get_by_role("button", name="Clear").click()

    # Who by display name also finds the records that carry only the user id: the
    # owner's service call (the owner's own onboarding record names "owner").
    (me,) = [u for u in host.data[HTTP_SERVER].runtime.auth.users() if u.username == "owner"]
    await host.services.call("audit", "checkpoint", {}, context=Context(user_id=me.id))
    await page.get_by_label("Who").fill("Olive Owner")
    await page.get_by_role("button", name="Search").click()
    await expect(records.locator("tbody tr").filter(has_text="service.call")).to_have_count(1)
    await page.get_by_role("button", name="Clear").click()

    # Text from the log is text: the markup in a name stays characters.
    row = records.locator("tbody tr").filter(has_text="<img")
    await expect(row).to_have_count(1)
    assert await row.locator("img").count() == 0
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SCREENSHOTS / "audit.png", full_page=True)

    # A changed byte on disk: Verify now names the first bad record.
    path = host.storage_dir / "audit" / "audit-000001.jsonl"
    data = bytearray(path.read_bytes())
    spot = data.index(b'"name":"bob"') + 9
    data[spot] = ord("B")
    path.write_bytes(bytes(data))
    await page.get_by_role("button", name="Verify now").click()
    alert = integrity.get_by_role("alert")
    await expect(alert).to_contain_text("Chain broken: audit-000001.jsonl line")
