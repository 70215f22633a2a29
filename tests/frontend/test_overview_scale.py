"""The overview with many entities (pages of cards, "Show more", search, live updates),
the select and button cards, and device groups from the compact registry list that
follow registry changes (the server caches each entry's JSON).

A thousand extra states (no device: they land in "Other entities") beside the demo
device. The overview renders the first page only (PAGE_SIZE = 200 cards), says how
many there are, adds a page per "Show more"; search narrows across all of them (not
only the rendered ones) and starts again at the first page; live changes reach the
cards on screen (applied once per animation frame), and an entity that appears later is
added. Timing is measured by scripts/bench/bench_ui.py, not asserted here.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Page, expect

pytestmark = pytest.mark.anyio

#: ``conftest.Server`` (not imported: several conftest modules exist in the tree).
Server = Any
EXTRA = 1000
OPTIONS = ["auto", "eco", "boost"]


async def test_many_entities_are_paged_searched_and_live(owner_page: Page, server: Server) -> None:
    page = owner_page
    host = server.host
    for n in range(EXTRA):
        host.states.set(f"sensor.bulk_{n:04d}", str(n), {"unit_of_measurement": "W"})
    total = EXTRA + 3  # and the demo's sine, counter and switch
    await page.goto("/")
    cards = page.locator("article.card")
    await expect(cards).to_have_count(200)
    await expect(page.get_by_text(f"Showing 200 of {total} entities.")).to_be_visible()
    await page.get_by_role("button", name="Show 200 more").click()
    await expect(cards).to_have_count(400)

    search = page.get_by_label("Filter entities")
    await search.fill("bulk_0999")  # far beyond the rendered pages
    await expect(cards).to_have_count(1)
    await expect(page.get_by_text("1 entity.")).to_be_visible()
    bulk = page.locator("[data-entity-id='sensor.bulk_0999']")
    host.states.set("sensor.bulk_0999", "12345", {"unit_of_measurement": "W"})
    await expect(bulk.locator(".state")).to_have_text("12345")
    host.states.set("sensor.bulk_0999", "unavailable", {"unit_of_measurement": "W"})
    await expect(bulk.locator(".state")).to_have_text("Unavailable")
    await expect(bulk.locator(".unit")).to_have_text("")

    await search.fill("late_arrival")
    await expect(page.get_by_text("No entity matches the filter.")).to_be_visible()
    host.states.set("sensor.late_arrival", "1", {})
    await expect(page.locator("[data-entity-id='sensor.late_arrival']")).to_be_visible()

    await search.fill("")
    await page.get_by_label("Domain").select_option("switch")
    await expect(cards).to_have_count(1)
    await expect(page.locator("[data-entity-id='switch.demo_switch']")).to_be_visible()


async def test_select_and_button_cards_call_their_services(
    owner_page: Page, server: Server
) -> None:
    # No core platform makes selects yet (MQTT discovery may): a state and a service
    # registered here stand in for one, as Home Assistant's select.select_option.
    page = owner_page
    host = server.host
    calls: list[tuple[str, dict[str, Any]]] = []

    async def handler(call: Any) -> None:
        calls.append((call.service, dict(call.data)))
        if call.service == "select_option":
            host.states.set("select.mode", call.data["option"], {"options": OPTIONS})

    host.services.register("select", "select_option", handler)
    host.services.register("button", "press", handler)
    host.states.set("select.mode", "auto", {"options": OPTIONS,
                                            "friendly_name": "Mode"})
    host.states.set("button.restart", "unknown", {"friendly_name": "Restart"})
    await page.goto("/")
    mode = page.locator("[data-entity-id='select.mode']")
    choice = mode.get_by_role("combobox", name="Mode")
    await expect(choice).to_have_value("auto")
    await choice.select_option("eco")
    await expect(mode.locator(".state")).to_have_text("eco")
    restart = page.locator("[data-entity-id='button.restart']")
    await restart.get_by_role("button", name="Press").click()
    await expect(restart.get_by_role("alert")).to_be_hidden()
    assert [d.get("option") for s, d in calls if s == "select_option"] == ["eco"], calls
    assert any(service == "press" for service, _ in calls), calls

    # Unavailable: greyed, the choice and the button disabled.
    host.states.set("select.mode", "unavailable", {"options": OPTIONS})
    host.states.set("button.restart", "unavailable", {})
    await expect(choice).to_be_disabled()
    await expect(restart.get_by_role("button", name="Press")).to_be_disabled()


async def test_groups_come_from_the_compact_registry_list_and_follow_changes(
    owner_page: Page, server: Server
) -> None:
    # The overview reads HA's config/entity_registry/list_for_display, whose entries
    # the server encodes once and reuses while unchanged (core/http/registry_json.py):
    # a device renamed, an entity moved to another device or disabled must show on
    # the next visit, and the device's area (loaded with the web server) beside it.
    from gatehouse.core.area_registry import area_registry

    page = owner_page
    host = server.host
    devices = host.device_registry
    entities = host.entity_registry
    boiler = devices.get_or_create("bench", {"identifiers": {("bench", "boiler")},
                                             "name": "Boiler"})
    pump = devices.get_or_create("bench", {"identifiers": {("bench", "pump")}, "name": "Pump"})
    hall = (await area_registry(host)).create("Hall")
    devices.update(boiler.id, area_id=hall.area_id)
    for key in ("flow", "return"):
        entry = entities.get_or_create(
            "sensor", "bench", key, suggested_object_id=f"boiler_{key}", device_id=boiler.id,
            original_name=f"Boiler {key}")
        host.states.set(entry.entity_id, "40", {"friendly_name": f"Boiler {key}"})
    await page.goto("/")
    group = page.locator(f"section.device-group[data-device-id='{boiler.id}']")
    await expect(group.locator(".group-heading")).to_have_text("BoilerHall")
    await expect(group.locator("article.card")).to_have_count(2)

    devices.update(boiler.id, name_by_user="Main boiler")
    # The integration now reports the return sensor on the pump (a new entry object).
    entities.get_or_create("sensor", "bench", "return", suggested_object_id="boiler_return",
                           device_id=pump.id, original_name="Boiler return")
    await page.get_by_role("link", name="Entities & devices").click()
    await expect(page.locator("tr[data-entity-id]").first).to_be_visible()
    await page.get_by_role("link", name="Overview").click()
    group = page.locator(f"section.device-group[data-device-id='{boiler.id}']")
    await expect(group.locator(".group-heading")).to_have_text("Main boilerHall")
    await expect(group.locator("article.card")).to_have_count(1)
    moved = page.locator(f"section.device-group[data-device-id='{pump.id}']")
    await expect(moved.locator("[data-entity-id='sensor.boiler_return']")).to_be_visible()
