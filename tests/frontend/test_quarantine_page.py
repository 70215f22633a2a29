"""The Quarantine page (schema_guard) in a real browser.

A host with the web server and a schema_guard entry (a real schema file, a real SQLite
quarantine) holds refused messages; the owner opens the page, filters by the error
path that fails most from the side list, sees its count and the matching rows, reads a
message's errors and masked payload (device text shown as text, never as markup),
downloads the export, fixes the schema and replays: a dry run first says how many
would pass, the replay runs only on confirmation. Waits are Playwright's ``expect``
and ``wait_until``, never sleeps.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest
from playwright.async_api import Page, expect

from gatehouse.core import Host
from gatehouse.core.http.server import HTTP_SERVER
from gatehouse.core.testing import make_host, state_of, wait_until
from gatehouse.integrations.schema_guard.api import EVENT_REPLAYED, guard_for
from gatehouse.integrations.schema_guard.services import LOADED

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(90)]

Shoot = Callable[[Page, str], Awaitable[None]]

CONFIG = """\
gatehouse:
  control_socket: false
http:
  server_host: 127.0.0.1
  server_port: 0
schema_guard:
  name: Guard
  reload_interval: 0.05
  stats_interval: 0.05
  pii: [owner.email]
  rules:
    - topic: site/+/device/{source}/telemetry
      name: telemetry
      schema: telemetry
"""
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["device", "temp"],
    "properties": {
        "device": {"type": "string", "pattern": "^[a-z0-9-]{1,32}$"},
        "temp": {"type": "number", "maximum": 150},
        "owner": {"type": "object"},
    },
}
TOPIC = "site/north/device/pump-1/telemetry"
MARKUP = "<img src=x onerror=alert(1)><b>bold</b>"


@dataclass
class Server:
    """What the conftest's page fixtures use (``conftest.Server``'s fields)."""

    host: Host
    base_url: str
    page_errors: list[str] = field(default_factory=list)


def write_schema(config_dir: Path, version: int, document: dict[str, Any]) -> None:
    folder = config_dir / "schemas"
    folder.mkdir(exist_ok=True)
    (folder / f"telemetry.v{version}.json").write_text(json.dumps(document), encoding="utf-8")


@pytest.fixture
async def server(config_dir: Path) -> AsyncIterator[Server]:
    """Overrides the conftest's: a host with schema_guard instead of the demo."""
    write_schema(config_dir, 1, SCHEMA)
    (config_dir / "configuration.yaml").write_text(textwrap.dedent(CONFIG), encoding="utf-8")
    host = make_host(config_dir)
    async with host.running():
        http = host.data.get(HTTP_SERVER)
        assert http is not None
        yield Server(host, f"http://127.0.0.1:{http.port}")


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode()


async def test_filter_by_failing_field_then_dry_run_and_replay(
    owner_page: Page, server: Server, config_dir: Path, screenshot: Shoot
) -> None:
    page, host = owner_page, server.host
    guard = guard_for(host)
    for n in range(4):
        guard.check(TOPIC, dumps({"device": "pump-1", "temp": 200 + n,
                                  "owner": {"email": "x@example.com"}}))
    guard.check(TOPIC, dumps({"device": MARKUP, "temp": 20}))
    guard.check(TOPIC, dumps({"device": "Bad Name", "temp": 20}))
    await wait_until(lambda: state_of(host, "sensor.guard_quarantine_messages") == "6")

    await page.goto("/")
    await page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Quarantine").click()
    await expect(page.get_by_role("heading", name="Quarantine", level=1)).to_be_visible()
    messages = page.get_by_role("region", name="Messages")
    await expect(messages.locator("tbody tr")).to_have_count(6)

    # The side list: the fields that fail most, with their counts; one click filters.
    fails = page.get_by_role("complementary", name="Fields that fail most")
    temp = fails.get_by_role("button", name="Filter by /temp (maximum): 4 messages")
    device = fails.get_by_role("button", name="Filter by /device (pattern): 2 messages")
    await expect(temp).to_contain_text("4")
    await expect(device).to_be_visible()
    await temp.click()
    await expect(messages.locator("tbody tr")).to_have_count(4)
    await expect(page.get_by_label("Error path")).to_have_value("/temp")
    await expect(temp).to_have_attribute("aria-pressed", "true")
    await expect(messages.locator("tbody tr").first).to_contain_text("/temp")
    await expect(messages.locator("tbody tr").first).to_contain_text(TOPIC)
    await expect(messages.locator("tbody tr").first).to_contain_text("v1")
    assert "path=%2Ftemp" in (await page.get_by_role("link", name="Export")
                              .get_attribute("href") or "")
    await screenshot(page, "quarantine")

    # A message's details: every error and the payload, masked before it was stored.
    await messages.locator("tbody tr").first.get_by_role("button").click()
    dialog = page.get_by_role("dialog")
    await expect(dialog.get_by_label("Payload")).to_contain_text('"email":"***"')
    await expect(dialog).to_contain_text("203 is greater than the maximum of 150")
    await expect(dialog).not_to_contain_text("x@example.com")
    await page.keyboard.press("Escape")
    await expect(dialog).to_have_count(0)

    # Device text is shown as text: the markup in a payload stays characters.
    await device.click()
    await expect(messages.locator("tbody tr")).to_have_count(2)
    await messages.get_by_role("row").filter(has_text="<img").get_by_role("button").click()
    payload = page.get_by_role("dialog").get_by_label("Payload")
    await expect(payload).to_contain_text(MARKUP)
    assert await payload.locator("img, b").count() == 0
    await page.keyboard.press("Escape")

    # Export: a download of the filtered messages as JSON lines.
    await temp.click()
    await expect(messages.locator("tbody tr")).to_have_count(4)
    async with page.expect_download() as info:
        await page.get_by_role("link", name="Export").click()
    download = await info.value
    saved = await download.path()
    lines = (await anyio.Path(saved).read_text(encoding="utf-8")).splitlines()
    assert [json.loads(json.loads(line)["payload"])["temp"] for line in lines] == [
        200, 201, 202, 203]

    # Replay: the dry run with the schema in force finds nothing that passes...
    await page.get_by_role("button", name="Replay…").click()
    dialog = page.get_by_role("dialog", name="Replay quarantined messages")
    await expect(dialog.get_by_role("status")).to_have_text(
        "Dry run: 0 of 4 messages would pass now.")
    await expect(dialog.get_by_role("button", name="Replay 0 messages")).to_be_disabled()
    await dialog.get_by_role("button", name="Cancel").click()
    # ... then the fix (v2 allows 300 degrees) is in force: 4 would pass; confirm.
    write_schema(config_dir, 2, {**SCHEMA, "properties": {
        **SCHEMA["properties"], "temp": {"type": "number", "maximum": 300}}})
    await wait_until(lambda: guard.check(TOPIC, dumps({"device": "a", "temp": 250}),
                                         store=False).accepted)
    replayed: list[Any] = []
    host.bus.listen(EVENT_REPLAYED, lambda event: replayed.append(event.data))
    await page.get_by_role("button", name="Replay…").click()
    await expect(dialog.get_by_role("status")).to_have_text(
        "Dry run: 4 of 4 messages would pass now.")
    assert replayed == []  # nothing moves before the confirmation
    await screenshot(page, "quarantine-replay-dry-run")
    await dialog.get_by_role("button", name="Replay 4 messages").click()
    await expect(dialog.get_by_role("status")).to_have_text("Replayed 4 of 4 messages.")
    assert [r["value"]["temp"] for r in replayed] == [200, 201, 202, 203]
    await dialog.get_by_role("button", name="Close").click()
    await expect(messages.locator("tbody tr .badge")).to_have_count(4)


async def test_hidden_without_schema_guard(bare_owner_page: Page) -> None:
    page = bare_owner_page
    await page.goto("/")
    nav = page.get_by_role("navigation", name="Main")
    await expect(nav.get_by_role("link", name="Users")).to_be_visible()
    await expect(nav.get_by_role("link", name="Quarantine")).to_have_count(0)
    await page.goto("/#/quarantine")
    await expect(page.get_by_role("status").filter(
        has_text="needs the schema_guard")).to_be_visible()


async def test_load_older_and_time_search(owner_page: Page, server: Server) -> None:
    page, host = owner_page, server.host
    guard = guard_for(host)
    for n in range(55):
        guard.check(TOPIC, dumps({"device": "pump-1", "temp": 1000 + n}))
    await wait_until(lambda: state_of(host, "sensor.guard_quarantine_messages") == "55")
    await page.goto("/#/quarantine")
    messages = page.get_by_role("region", name="Messages")
    rows = messages.locator("tbody tr")
    await expect(rows).to_have_count(50)
    await expect(rows.first).to_contain_text("1054 is greater")
    await messages.get_by_role("button", name="Load older").click()
    await expect(rows).to_have_count(55)
    await expect(rows.last).to_contain_text("1000 is greater")
    await expect(messages.get_by_role("button", name="Load older")).to_be_hidden()
    await expect(messages.get_by_role("status")).to_have_text("Showing the newest 55.")

    # From: a minute from now (the browser's local time) matches nothing
    later = await page.evaluate("""() => {
        const d = new Date(Date.now() + 60000);
        const p = (n) => String(n).padStart(2, "0");
        return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T`
            + `${p(d.getHours())}:${p(d.getMinutes())}`;
    }""")
    await page.get_by_label("From").fill(later)
    await page.get_by_role("button", name="Search").click()
    await expect(messages.get_by_role("status")).to_have_text("No quarantined message matches.")
    await expect(rows).to_have_count(0)
    await page.get_by_role("button", name="Clear").click()
    await expect(rows).to_have_count(50)


async def test_a_broken_schema_file_is_shown_with_the_version_in_force(
    owner_page: Page, server: Server, config_dir: Path
) -> None:
    """Issue 11: a broken schema keeps the previous version and says so in the UI."""
    page = owner_page
    (config_dir / "schemas" / "telemetry.v2.json").write_text("{not json", encoding="utf-8")
    runtime = next(iter(LOADED.runtimes(server.host).values()))
    await wait_until(lambda: bool(runtime.problems()))
    await page.goto("/#/quarantine")
    notice = page.get_by_role("status").filter(has_text="Schema problems")
    await expect(notice).to_be_visible()
    await expect(notice).to_contain_text("telemetry.v2.json")
    await expect(notice).to_contain_text("not JSON")
    await expect(notice).to_contain_text("telemetry v1")
