"""The Provision devices page with two brokers that can provision (issue 14, point 5).

Regression: the page never said which broker, and the API took the first mqtt entry
with a ``provisioning:`` block, so with two such brokers every device went to the first
whatever the operator meant. Now the page offers the brokers by title, acts on none
until one is chosen, keeps the choice in the address, and every call names it. Two real
Mosquitto brokers with the dynamic security plugin; what the page did is read back from
each broker's own client list, and the password the page shows lets a real client into
the chosen broker only. The Live traffic page watches the broker chosen, or all of them
saying which broker each message came from.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from gatehouse.core import ConfigEntryState, Host
from gatehouse.core.http.server import HTTP_SERVER
from gatehouse.core.testing import add_entry, make_host, wait_until
from gatehouse.integrations.mqtt.provisioning import provisioner_for
from gatehouse.integrations.mqtt.provisioning.traffic import traffic_monitor

# The provisioning tests' broker kit (a module of that folder, not a conftest).
_KIT = str(Path(__file__).resolve().parents[1] / "integrations" / "mqtt_provisioning")
if _KIT not in sys.path:
    sys.path.insert(0, _KIT)
from provisiontools import Client, dynsec_broker, have_dynsec  # noqa: E402

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.timeout(120),
    pytest.mark.skipif(not have_dynsec(), reason="needs Mosquitto's dynamic security plugin"),
]

OWNER = {"username": "owner", "password": "correct horse battery", "name": "Olive Owner"}


@dataclass
class Rig:
    host: Host
    base_url: str
    north: str
    south: str
    south_port: int
    north_port: int
    page_errors: list[str]

    async def clients(self, entry_id: str) -> list[str]:
        """The broker's own dynamic security client list."""
        return [str(c) for c in
                await provisioner_for(self.host, entry_id).dynsec.list_clients()]


@pytest.fixture
async def rig(config_dir: Path, tmp_path: Path) -> AsyncIterator[Rig]:
    """North from configuration.yaml (the web server then has the mqtt routes), South
    added as a UI entry, as an operator would add a second broker."""
    with dynsec_broker(tmp_path / "north") as north, dynsec_broker(tmp_path / "south") as south:
        north.write_host_config(config_dir, "North broker")
        host = make_host(config_dir)
        async with host.running():
            server = host.data.get(HTTP_SERVER)
            assert server is not None, "the web server did not start"
            (north_entry,) = host.config_entries.entries("mqtt")
            south_entry = await add_entry(host, "mqtt", south.entry_data(),
                                          title="South broker", unique_id="south")
            assert south_entry.state is ConfigEntryState.LOADED, south_entry.reason
            yield Rig(host, f"http://127.0.0.1:{server.port}", north_entry.entry_id,
                      south_entry.entry_id, south.port, north.port, [])


@pytest.fixture
async def page(browser: Browser, rig: Rig) -> AsyncIterator[Page]:
    """The owner's page (``browser`` from this folder's conftest); fails on page errors."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900},
                                        base_url=rig.base_url)
    context.set_default_timeout(10_000)
    opened = await context.new_page()

    def console(message: Any) -> None:
        # The refusals the page shows on purpose are failed requests (logged as such).
        if message.type == "error" and "Failed to load resource" not in message.text:
            rig.page_errors.append(f"console: {message.text}")

    opened.on("console", console)
    opened.on("pageerror", lambda error: rig.page_errors.append(f"exception: {error}"))
    response = await context.request.post("/api/onboarding/users", data=OWNER,
                                          headers={"Origin": rig.base_url})
    assert response.ok, await response.text()
    try:
        yield opened
    finally:
        await context.close()
    assert rig.page_errors == []


async def test_choose_the_second_broker_and_provision_there(
    rig: Rig, page: Page, screenshot: Callable[[Page, str], Awaitable[None]]
) -> None:
    await page.goto("/")
    await page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Provision devices").click()
    broker = page.get_by_label("Broker", exact=True)
    # Two brokers, none chosen: offered by title, nothing to act on yet.
    await expect(page.get_by_role("status").filter(has_text="2 brokers can provision"))\
        .to_be_visible()
    await expect(broker.locator("option:checked")).to_have_text("Choose a broker…")
    await expect(broker.locator("option:not([disabled])")).to_have_text(
        ["North broker", "South broker"])
    await expect(page.get_by_label("Name")).to_be_hidden()
    await expect(page.get_by_role("heading", name="Provisioned devices")).to_be_hidden()
    await page.set_viewport_size({"width": 390, "height": 844})  # the chooser fits a phone
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    await expect(broker).to_be_in_viewport()
    await page.set_viewport_size({"width": 1280, "height": 900})

    await broker.select_option(label="South broker")
    await expect(page).to_have_url(f"{rig.base_url}/#/devices_provision?entry={rig.south}")
    await page.get_by_label("Name").fill("pump-s")
    await page.get_by_label("Device type", exact=True).select_option("sensor")
    await page.get_by_label("Site").fill("south")
    await page.get_by_role("button", name="Next").click()
    await expect(page.get_by_role("definition").filter(has_text="South broker")).to_be_visible()
    await expect(page.get_by_text(f"127.0.0.1:{rig.south_port}")).to_be_visible()
    await page.get_by_role("button", name="Provision", exact=True).click()
    await expect(page.get_by_role("heading", name="3. Credentials")).to_be_visible()
    password = await page.locator("code.secret").inner_text()
    row = page.locator("tr[data-device='pump-s']")
    await expect(row).to_contain_text("active")
    await screenshot(page, "devices_provision_two_brokers")

    # On South, by South's own list; not on North. The password opens South only.
    assert "pump-s" in await rig.clients(rig.south)
    assert "pump-s" not in await rig.clients(rig.north)
    for port, expected in ((rig.south_port, "Success"), (rig.north_port, "Not authorized")):
        device = Client(port, "pump-s", password, client_id=f"pump-s-{port}")
        try:
            assert await device.connect() == expected, port
        finally:
            device.close()

    # The choice is in the address: a reload shows South again, its device listed.
    await page.reload()
    await expect(broker.locator("option:checked")).to_have_text("South broker")
    await expect(row).to_contain_text("active")
    await row.get_by_role("button", name="Revoke pump-s").click()
    await page.get_by_role("dialog").get_by_role("button", name="Revoke").click()
    await expect(row).to_contain_text("revoked")
    south_view = await provisioner_for(rig.host, rig.south).dynsec.get_client("pump-s")
    assert south_view.get("disabled") is True

    # An address may name the broker by title; switching shows that broker's devices.
    await page.goto("/#/devices_provision?entry=north%20BROKER")
    await expect(broker.locator("option:checked")).to_have_text("North broker")
    await expect(page).to_have_url(f"{rig.base_url}/#/devices_provision?entry={rig.north}")
    await expect(page.get_by_text("No device yet.")).to_be_visible()
    await broker.select_option(label="South broker")
    await expect(row).to_contain_text("revoked")
    await row.get_by_role("button", name="Delete pump-s").click()
    await page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    await expect(row).to_have_count(0)
    assert "pump-s" not in await rig.clients(rig.south)

    # An address naming no such broker: the server's reason, the chooser to pick from.
    await page.goto("/#/devices_provision?entry=Garage")
    await expect(page.get_by_role("alert").filter(has_text="'Garage'")).to_contain_text(
        "South broker")
    await expect(broker.locator("option:checked")).to_have_text("Choose a broker…")


async def test_traffic_page_watches_the_broker_chosen_or_all_saying_which(
    rig: Rig, page: Page
) -> None:
    devices = {}
    for entry_id, name, port in ((rig.north, "n1", rig.north_port),
                                 (rig.south, "s1", rig.south_port)):
        made = await rig.host.services.call(
            "mqtt", "provision_device",
            {"name": name, "device_type": "sensor", "site": "plant", "entry_id": entry_id},
            return_response=True)
        assert isinstance(made, dict)
        devices[name] = Client(port, name, made["password"], client_id=name)
    try:
        for device in devices.values():
            assert await device.connect() == "Success"
        await page.goto("/#/traffic?topic=site/%23")
        broker = page.get_by_label("Broker", exact=True)
        await expect(broker.locator("option")).to_have_text(
            ["All brokers", "North broker", "South broker"])
        await page.get_by_role("button", name="Start").click()
        monitor = page.get_by_role("status", name="Monitor status")
        await expect(monitor).to_contain_text("Monitoring site/#")
        messages = page.get_by_role("region", name="Messages")
        await devices["n1"].publish("site/plant/sensor/n1/t", b"from north")
        await devices["s1"].publish("site/plant/sensor/s1/t", b"from south")
        # Every broker: each message says which.
        await expect(messages.locator("tr", has_text="from north")).to_contain_text(
            "North broker")
        await expect(messages.locator("tr", has_text="from south")).to_contain_text(
            "South broker")

        await broker.select_option(label="South broker")
        await expect(page).to_have_url(
            f"{rig.base_url}/#/traffic?topic=site%2F%23&entry={rig.south}")
        await wait_until(lambda: [s.entry_id for s in
                                  traffic_monitor(rig.host).sessions.values()] == [rig.south])
        await devices["n1"].publish("site/plant/sensor/n1/t", b"north again")
        await devices["s1"].publish("site/plant/sensor/s1/t", b"south again")
        await expect(messages.locator("tr", has_text="south again")).to_have_count(1)
        await expect(messages.locator("tr", has_text="north again")).to_have_count(0)
        await expect(messages.get_by_role("columnheader", name="Broker")).to_be_hidden()
    finally:
        for device in devices.values():
            device.close()
