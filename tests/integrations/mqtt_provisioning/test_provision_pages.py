"""The Provision devices and Live traffic pages in a real browser, on a real broker.

A host with the web server and an mqtt entry administering a Mosquitto with the
dynamic security plugin. The owner provisions a device through the wizard, downloads
its bundle and sees its QR code; the password from the page lets a real MQTT client
in, and one click on Revoke locks it out. On the traffic page the owner watches a
device's messages arrive, rate-limited, with per-topic rates, searches and pauses;
device text (a payload with markup) stays text. Waits are Playwright's ``expect`` and
``wait_until``, never sleeps.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import anyio
import pytest
from playwright.async_api import expect
from provisionbrowser import CHROMIUM, owner_page, provisioning_server, screenshot
from provisiontools import Client, dynsec_broker, have_dynsec

from gatehouse.core.testing import wait_until
from gatehouse.integrations.mqtt.provisioning.traffic import traffic_monitor

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.timeout(120),
    pytest.mark.skipif(not have_dynsec(), reason="needs Mosquitto's dynamic security plugin"),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium"),
]

MARKUP = "<img src=x onerror=alert(1)><b>bold</b>"


async def test_wizard_provisions_a_device_that_connects_until_revoked(
    config_dir: Path, tmp_path: Path
) -> None:
    with dynsec_broker(tmp_path / "dynsec") as broker:
        async with provisioning_server(config_dir, broker) as server, \
                owner_page(server) as page:
            await page.goto("/")
            await page.get_by_role("navigation", name="Main").get_by_role(
                "link", name="Provision devices").click()
            await expect(page.get_by_role("heading", name="Provision devices", level=1)
                         ).to_be_visible()
            await expect(page.locator("pre")).to_contain_text("max_qos 2")
            sensor = page.get_by_role("region", name="Device types").locator("tr[data-type=sensor]")
            await expect(sensor).to_contain_text("site/{site}/sensor/{device}/cmd/#")
            await page.get_by_label("Name").fill("pump-7")
            await page.get_by_label("Device type", exact=True).select_option("sensor")
            await page.get_by_label("Site").fill("north")
            await page.get_by_role("button", name="Next").click()
            await expect(page.get_by_role("heading", name="2. Review")).to_be_visible()
            await expect(page.get_by_text("site/north/sensor/pump-7/#")).to_be_visible()
            await page.get_by_role("button", name="Provision", exact=True).click()

            await expect(page.get_by_role("heading", name="3. Credentials")).to_be_visible()
            password = await page.locator("code.secret").inner_text()
            assert len(password) >= 24
            qr = page.get_by_role("img", name="QR code with the connection settings of pump-7")
            await expect(qr).to_be_visible()
            # decode() settles once the image has loaded (or fails if it cannot).
            assert await qr.evaluate("img => img.decode().then(() => img.naturalWidth)") > 0
            async with page.expect_download() as waiting:
                await page.get_by_role("link", name="Download pump-7.zip").click()
            download = await waiting.value
            saved = await download.path()
            bundle = zipfile.ZipFile(io.BytesIO(await anyio.Path(saved).read_bytes()))
            assert json.loads(bundle.read("config.json"))["password"] == password
            await screenshot(page, "devices_provision")

            device = Client(broker.port, "pump-7", password, client_id="pump-7")
            again = Client(broker.port, "pump-7", password, client_id="pump-7b")
            try:
                assert await device.connect() == "Success"
                row = page.locator("tr[data-device='pump-7']")
                await expect(row).to_contain_text("active")
                await row.get_by_role("button", name="Revoke pump-7").click()
                await page.get_by_role("dialog").get_by_role("button", name="Revoke").click()
                await expect(row).to_contain_text("revoked")
                assert await device.wait_gone()
                assert await again.connect() == "Not authorized"
            finally:
                device.close()
                again.close()


async def test_traffic_page_shows_rate_limited_messages_rates_search_and_pause(
    config_dir: Path, tmp_path: Path
) -> None:
    with dynsec_broker(tmp_path / "dynsec") as broker:
        async with provisioning_server(config_dir, broker) as server, \
                owner_page(server) as page:
            result = await server.host.services.call(
                "mqtt", "provision_device",
                {"name": "fan-1", "device_type": "sensor", "site": "east"},
                return_response=True)
            assert isinstance(result, dict)
            await page.goto("/")
            await page.get_by_role("navigation", name="Main").get_by_role(
                "link", name="Live traffic").click()
            await page.get_by_label("Topic filter").fill("site/east/#")
            await page.get_by_label("Messages per second").fill("5")
            await page.get_by_label("Subscription QoS").select_option("2")
            await page.get_by_role("button", name="Start").click()
            monitor = page.get_by_role("status", name="Monitor status")
            await expect(monitor).to_contain_text("Monitoring site/east/#")
            await wait_until(lambda: len(traffic_monitor(server.host).sessions) == 1)
            session = next(iter(traffic_monitor(server.host).sessions.values()))

            device = Client(broker.port, "fan-1", result["password"], client_id="fan-1")
            try:
                assert await device.connect() == "Success"
                root = "site/east/sensor/fan-1"
                await device.publish(f"{root}/html", MARKUP.encode())
                for n in range(19):
                    await device.publish(f"{root}/speed", str(n).encode())
                await wait_until(lambda: session.received == 20)
                messages = page.get_by_role("region", name="Messages")
                rates = page.get_by_role("region", name="Topics by rate")
                await expect(rates.locator("tr", has_text=f"{root}/speed")).to_contain_text("19")
                await expect(monitor).to_contain_text("20 received")
                kept = await messages.locator("tbody tr").count()
                assert 5 <= kept < 20, kept  # the burst (and a refill, maybe), not all
                await expect(monitor).to_contain_text(
                    f"{20 - kept} over the limit of 5/s")
                markup = messages.locator("tr", has_text="<img")
                await expect(markup).to_contain_text(MARKUP)
                await expect(markup.locator("td").nth(2)).to_have_text("1")  # as published
                assert await messages.locator("tbody img, tbody b").count() == 0
                await screenshot(page, "traffic")

                await page.get_by_label("Search").fill("html")
                await expect(messages.locator("tbody tr")).to_have_count(1)
                await page.get_by_label("Search").fill("")

                pause = page.get_by_role("button", name="Pause")
                await pause.click()
                await expect(page.get_by_role("button", name="Resume")).to_have_attribute(
                    "aria-pressed", "true")
                await device.publish(f"{root}/late", b"late")
                await expect(monitor).to_contain_text("1 while paused")
                await expect(messages).not_to_contain_text("late")
            finally:
                device.close()
            await page.get_by_role("link", name="Overview").click()
            await wait_until(lambda: not traffic_monitor(server.host).sessions,
                             message="leaving the page did not stop the monitor")
