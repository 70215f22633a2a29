"""Services and flows for people (issue 14, part 5), in Chromium against a real host.

The services page offers the entities a service can target (no entry id to look up) and
shows the answer as tables; the flow dialog shows the step's title, description, each
field's help and unit from the integration's strings.json, and every problem at once.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from gatehouse.core import Host

pytestmark = pytest.mark.anyio

Shoot = Callable[[Page, str], Awaitable[None]]
#: ``conftest.Server`` (not imported: several conftest modules exist in the tree).
Server = Any

PLUGINS = Path(__file__).resolve().parent / "plugins"
#: The modbus tests' real pymodbus server (``modbus_peers``).
MODBUS_TESTS = Path(__file__).resolve().parents[1] / "integrations" / "modbus"


async def add_demo(host: Host, name: str) -> str:
    flow = host.config_entries.flow
    first = await flow.init("demo")
    done = await flow.configure(first["flow_id"], {"name": name, "update_interval": 60})
    assert done["type"] == "create_entry", done
    return str(done["entry_id"])


async def test_pick_an_entity_and_read_the_answer(
    owner_page: Page, server: Server, screenshot: Shoot
) -> None:
    host = server.host
    garage = await add_demo(host, "Garage")
    [switch] = [e.entity_id for e in host.entities.of_entry(garage)
                if e.entity_id.startswith("switch.")]
    host.states.set("sensor.not_demo", "1")  # a state of no integration: not offered
    page = owner_page
    await page.goto("/#/services?service=demo.reset_counter")
    form = page.get_by_role("form", name="Call demo.reset_counter")
    picker = form.get_by_label("Entities", exact=True)
    # Only demo's entities are offered (the target's integration filter).
    await expect(picker.locator(f"option[value='{switch}']")).to_have_count(1)
    options = await picker.locator("option").evaluate_all("os => os.map(o => o.value)")
    assert "sensor.not_demo" not in options
    assert switch in options and all(
        host.entities.get(o) is not None and host.entities.get(o).entry.domain == "demo"
        for o in options)
    await form.get_by_label("Filter Entities").fill("garage")
    await picker.select_option(switch)
    await form.get_by_role("button", name="Call service").click()

    result = page.get_by_role("region", name="Response of demo.reset_counter")
    await expect(result.get_by_role("heading", name="Response data")).to_be_visible()
    # {"previous": {<entry>: n}} as nested key/value rows, the targeted entry only.
    previous = result.get_by_role("row", name="previous")
    # The entry id as people know it: its title first.
    await expect(previous.get_by_role("rowheader", name=f"Garage ({garage})")).to_be_visible()
    await expect(previous.get_by_role("rowheader")).to_have_count(2)  # previous + garage
    await expect(result.get_by_role("heading", name="Changed states")).to_be_visible()
    await expect(result.locator("details pre")).to_be_hidden()  # raw JSON folded away
    await screenshot(page, "services-picker")


async def test_a_flow_speaks_in_words_and_shows_every_error_at_once(
    owner_page: Page, server: Server, screenshot: Shoot
) -> None:
    await add_demo(server.host, "Garden")
    page = owner_page
    await page.goto("/#/integrations")
    await page.get_by_role("button", name="Add integration").click()
    await page.get_by_role("dialog", name="Add integration").get_by_role(
        "button", name="Demo", exact=True).click()
    flow = page.get_by_role("dialog", name="Add Demo")
    await expect(flow.get_by_role("heading", name="Add a demo device")).to_be_visible()
    await expect(flow.get_by_text("A simulated device with a sine sensor")).to_be_visible()
    interval = flow.get_by_label("Update interval")
    await expect(interval).to_have_accessible_description(
        "s How often the sensors update.")
    await expect(flow.locator("[data-field=update_interval] .unit")).to_have_text("s")

    # A taken name and a value out of range: both at once, in words.
    await flow.get_by_label("Name", exact=True).fill("Garden")
    await interval.fill("0")
    await flow.get_by_role("button", name="Submit").click()
    await expect(flow.locator("[data-field=name] .error")).to_have_text(
        "A demo device with this name exists already; choose another name.")
    await expect(flow.locator("[data-field=update_interval] .error")).to_have_text(
        "value must be at least 0.01")
    await expect(flow.get_by_label("Name", exact=True)).to_have_attribute("aria-invalid", "true")
    await expect(interval).to_have_attribute("aria-invalid", "true")
    await screenshot(page, "flow-words-errors")

    # Fixed, the same flow goes on.
    await flow.get_by_label("Name", exact=True).fill("Shed")
    await interval.fill("1")
    await flow.get_by_role("button", name="Submit").click()
    await expect(flow.get_by_role("status")).to_have_text("Created “Shed”. State: Loaded.")


async def test_a_required_field_left_empty_does_not_hide_the_servers_errors(
    bare_owner_page: Page, bare_server: Server, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Before, the page's own "required" stopped the submit, so the port's problem was
    shown only after the host was filled in: one problem per submit."""
    monkeypatch.syspath_prepend(str(PLUGINS))
    bare_server.host.plugins.add_package("formcheck", "formcheck")
    page = bare_owner_page
    await page.goto("/#/integrations")
    await page.get_by_role("button", name="Add integration").click()
    await page.get_by_role("dialog", name="Add integration").get_by_role(
        "button", name="Form check").click()
    flow = page.get_by_role("dialog", name="Add Form check")
    await flow.get_by_label("Port").fill("70000")
    await flow.get_by_role("button", name="Submit").click()
    await expect(flow.locator("[data-field=port] .error")).to_have_text(
        "value must be at most 65535")
    await expect(flow.locator("[data-field=host] .error")).to_have_text("required")
    assert not bare_server.host.config_entries.entries("formcheck")


async def test_the_options_menu_lists_yaml_points_read_only(
    bare_owner_page: Page, bare_server: Server,
) -> None:
    """A modbus hub as YAML makes it (its points in the entry's data), on a real server."""
    from gatehouse.core.testing import add_entry
    from gatehouse.integrations.modbus.config import HUB_SCHEMA

    monkey_path = str(MODBUS_TESTS)
    if monkey_path not in sys.path:
        sys.path.insert(0, monkey_path)
    from modbus_peers import ModbusPeer

    peer = ModbusPeer((1,))
    await peer.start()
    try:
        host = bare_server.host
        data = HUB_SCHEMA({"name": "Plant", "host": peer.host, "port": peer.port,
                           "sensors": [{"name": "Level", "address": 0}]})
        await add_entry(host, "modbus", data, title="Plant", unique_id="plant")
        page = bare_owner_page
        await page.goto("/#/integrations")
        await page.get_by_role("row").filter(has_text="Plant").get_by_role(
            "button", name="Options").click()
        dialog = page.get_by_role("dialog", name="Options: Plant")
        await expect(dialog.get_by_role("heading", name="Points")).to_be_visible()
        await expect(dialog.get_by_text(
            "From YAML (read-only, change them in the YAML): Level (sensors, YAML, read-only).",
        )).to_be_visible()
        await dialog.get_by_role("button", name="Cancel").click()
    finally:
        await peer.stop()
