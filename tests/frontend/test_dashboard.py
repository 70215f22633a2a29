"""The overview as a dashboard, and health at a glance, in Chromium against a real host.

The host runs the plant simulator (a real pymodbus server inside the simulator
integration) and a modbus hub reading it, plus a demo device. The overview groups cards
by device and filters by domain; the valve's number card has a slider that writes the
setpoint; stopping the simulator (unloading its entry) greys the plant's cards, drops
their units and disables their controls, while the integrations page and the API say
the modbus entry is reconnecting instead of a green "Loaded"; a dropped UI socket keeps
the last states, dimmed. Waits are Playwright's ``expect`` and ``wait_until``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from gatehouse.core import Host
from gatehouse.core.http.server import HTTP_SERVER
from gatehouse.core.testing import free_port, make_host, state_of, wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

Shoot = Callable[[Page, str], Awaitable[None]]

CONFIG = """\
gatehouse:
  control_socket: false
http:
  server_host: 127.0.0.1
  server_port: 0
demo:
  name: Demo
  update_interval: 0.2
simulator:
  name: Plant simulator
  host: 127.0.0.1
  port: {port}
  step_interval: 0.05
modbus:
  - name: Plant
    type: tcp
    host: 127.0.0.1
    port: {port}
    timeout: 0.5
    scan_interval: 0.1
    reconnect_delay: 0.1
    reconnect_delay_max: 0.5
    sensors:
      - name: Tank level
        address: 0
        input_type: input
        data_type: float32
        precision: 1
        unit_of_measurement: "%"
    switches:
      - name: Pump
        address: 0
    numbers:
      - name: Valve setpoint
        address: 0
        data_type: uint16
        scale: 0.1
        precision: 1
        min: 0
        max: 100
        step: 0.5
        unit_of_measurement: "%"
"""


@dataclass
class Server:
    """What the conftest's page fixtures use (``conftest.Server``'s fields)."""

    host: Host
    base_url: str
    page_errors: list[str] = field(default_factory=list)


@pytest.fixture
async def server(config_dir: Path) -> AsyncIterator[Server]:
    (config_dir / "configuration.yaml").write_text(
        CONFIG.format(port=free_port()), encoding="utf-8"
    )
    host = make_host(config_dir)
    async with host.running():
        web = host.data.get(HTTP_SERVER)
        assert web is not None, "the web server did not start"
        await wait_until(lambda: state_of(host, "number.plant_valve_setpoint") == "30.0",
                         timeout=15)
        yield Server(host, f"http://127.0.0.1:{web.port}")


def card(page: Page, entity_id: str) -> Any:
    return page.locator(f"article.card[data-entity-id='{entity_id}']")


async def test_overview_groups_by_device_and_filters_by_domain(
    owner_page: Page, screenshot: Shoot
) -> None:
    page = owner_page
    await page.goto("/")
    plant = page.get_by_role("region", name="Plant", exact=True)
    demo = page.get_by_role("region", name="Demo", exact=True)
    # Tank level, pump, valve setpoint and the hub's diagnostics.
    await expect(plant.locator("article.card")).to_have_count(4)
    await expect(demo.locator("[data-entity-id='sensor.demo_counter']")).to_be_visible()
    # On the device's card the device name is not repeated: "Pump", not "Plant Pump".
    await expect(card(page, "switch.plant_pump").locator(".name")).to_have_text("Pump")
    await screenshot(page, "overview-by-device")

    await page.get_by_label("Domain").select_option("number")
    await expect(page.locator("article.card")).to_have_count(1)
    await expect(card(page, "number.plant_valve_setpoint")).to_be_visible()
    await page.get_by_label("Domain").select_option("")
    await page.get_by_label("Filter entities").fill("plant")  # the device's name matches
    await expect(page.locator("article.card")).to_have_count(4)

    # On a phone the cards, slider and domain picker fit: nothing scrolls sideways.
    await page.set_viewport_size({"width": 390, "height": 844})
    await expect(card(page, "number.plant_valve_setpoint").get_by_role("slider")).to_be_visible()
    width = await page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
    assert width[0] <= width[1], width
    await screenshot(page, "overview-by-device-phone")


async def test_number_card_slider_writes_the_setpoint(owner_page: Page, server: Server) -> None:
    page = owner_page
    await page.goto("/")
    valve = card(page, "number.plant_valve_setpoint")
    slider = valve.get_by_role("slider", name="Valve setpoint")
    await expect(slider).to_have_value("30")
    await slider.focus()
    await page.keyboard.press("ArrowRight")  # one step: 0.5
    process = server.host.config_entries.entries("simulator")[0].runtime_data.process
    await wait_until(lambda: process.valve_setpoint == 30.5)
    await expect(valve.locator(".state")).to_have_text("30.5")
    await expect(valve.get_by_role("alert")).to_be_hidden()


async def test_stopped_simulator_greys_cards_and_the_entry_says_reconnecting(
    owner_page: Page, server: Server, screenshot: Shoot
) -> None:
    page = owner_page
    host = server.host
    await page.goto("/")
    pump = card(page, "switch.plant_pump")
    tank = card(page, "sensor.plant_tank_level")
    await expect(pump.get_by_role("button", name="Turn on")).to_be_enabled()
    await expect(tank.locator(".unit")).to_have_text("%")

    [simulator] = host.config_entries.entries("simulator")
    await host.config_entries.unload(simulator.entry_id)  # the plant goes away
    await expect(tank).to_have_class(re.compile(r"\bunavailable\b"))
    await expect(tank.locator(".state")).to_have_text("Unavailable")
    await expect(tank.locator(".unit")).to_have_text("")
    await expect(pump.get_by_role("button", name="Turn on")).to_be_disabled()
    await expect(card(page, "number.plant_valve_setpoint").get_by_role("slider")).to_be_disabled()
    await page.goto("/#/entities")
    tank_row = page.locator("tr[data-entity-id='sensor.plant_tank_level']")
    await expect(tank_row.locator("td.mono.muted")).to_have_text("unavailable")
    await page.goto("/#/overview")
    await expect(card(page, "sensor.demo_counter")).not_to_have_class(re.compile("unavailable"))
    await screenshot(page, "overview-unavailable")

    [modbus] = host.config_entries.entries("modbus")
    await wait_until(lambda: modbus.health is not None and not modbus.health.connected)
    await page.goto("/#/integrations")
    row = page.get_by_role("row").filter(has_text="Plant").filter(has_text="modbus")
    await expect(row.locator(".badge")).to_have_text("Reconnecting")
    await expect(row.locator(".health")).to_contain_text("Reconnecting since")
    await expect(row.locator(".health")).to_contain_text("cannot connect to 127.0.0.1")
    demo_row = page.get_by_role("row").filter(has_text="demo")
    await expect(demo_row.locator(".badge")).to_have_text("Loaded")
    await screenshot(page, "integrations-health")
    answer = await page.request.get("/api/config/config_entries/entry")
    by_domain = {e["domain"]: e for e in await answer.json()}
    assert by_domain["modbus"]["state"] == "loaded"
    assert by_domain["modbus"]["health"]["connected"] is False

    # The plant comes back: the page polls, the badge turns green again by itself.
    await host.config_entries.setup(simulator.entry_id)
    await expect(row.locator(".badge")).to_have_text("Loaded", timeout=15_000)
    await expect(row.locator(".health")).to_contain_text("Connected since")


async def test_a_dropped_socket_keeps_the_last_states_dimmed(
    owner_page: Page, server: Server
) -> None:
    page = owner_page
    await page.goto("/")
    await expect(page.locator("#live")).to_have_text("Live")
    cards = page.locator("article.card")
    await expect(cards).to_have_count(7)
    runtime = server.host.data[HTTP_SERVER].runtime
    [connection] = runtime.connections
    await connection.close(1001, "going away for a test")
    await expect(page.locator("#live")).to_have_text("Reconnecting…")
    await expect(page.locator(".overview.stale")).to_be_visible()
    await expect(page.get_by_text("Reconnecting… showing the last known states.")).to_be_visible()
    assert await cards.count() == 7
    await expect(page.locator("#live")).to_have_text("Live")
    await expect(page.locator(".overview.stale")).to_have_count(0)
    await expect(cards).to_have_count(7)
    await expect(page.get_by_text("No entities yet.")).to_have_count(0)
