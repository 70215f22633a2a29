"""The Services page offers a service's config entry by title (issue 14, point 5).

A field with Home Assistant's ``config_entry`` selector (``nats.publish``'s ``entry_id``)
is a choice of that integration's loaded entries by their titles, pre-selected when one
is loaded; the deprecated ``entry`` field is not offered. Two real nats-servers, one
entry each: the message the page sends reaches the server of the entry chosen by title,
and only that one. Someone who may not list entries sees no entry id at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
from playwright.async_api import Browser, Page, expect

from gatehouse.core.http.server import HTTP_SERVER
from gatehouse.core.testing import NatsServer, add_entry

pytestmark = pytest.mark.anyio

#: ``conftest.Server`` (not imported: several conftest modules exist in the tree).
Server = Any


@pytest.fixture
def south_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A second nats-server (the kit's ``nats_server`` is the first)."""
    peer = NatsServer(tmp_path / "south-nats")
    peer.start()
    try:
        yield peer
    finally:
        peer.stop()


async def _add(host: Any, title: str, url: str) -> str:
    entry = await add_entry(host, "nats", {"name": title, "servers": [url]},
                            title=title, unique_id=title.lower().replace(" ", "_"))
    assert str(entry.state) == "loaded", entry.reason
    return entry.entry_id


async def test_pick_the_entry_by_title_and_the_message_reaches_its_server(
    owner_page: Page, server: Server, nats_server: NatsServer, south_server: NatsServer,
    browser: Browser, screenshot: Any,
) -> None:
    host = server.host
    north = await _add(host, "North bus", nats_server.url)
    page = owner_page

    # One entry loaded: chosen already, by its title.
    await page.goto("/#/services?service=nats.publish")
    form = page.get_by_role("form", name="Call nats.publish")
    entry = form.get_by_label("Entry", exact=True)
    await expect(entry.locator("option:checked")).to_have_text("North bus")
    await expect(form.locator("[data-field=entry]")).to_have_count(0)  # the old spelling

    south = await _add(host, "South bus", south_server.url)
    listeners = [await nats.connect(s.url) for s in (nats_server, south_server)]
    try:
        subs = [await nc.subscribe("plant.>") for nc in listeners]
        for nc in listeners:
            await nc.flush()
        await page.reload()
        form = page.get_by_role("form", name="Call nats.publish")
        entry = form.get_by_label("Entry", exact=True)
        # Two: titles, nothing chosen for the caller (the server would refuse a guess).
        await expect(entry.locator("option")).to_have_text(["—", "North bus", "South bus"])
        await expect(entry.locator("option:checked")).to_have_text("—")
        await expect(form.locator("[data-field=entry_id] .hint")).to_have_text(
            "2 entries are loaded: choose one.")

        # Left empty with two loaded: refused naming both, nothing sent.
        await form.get_by_label("Subject").fill("plant.pump")
        await form.get_by_label("Payload", exact=True).fill("start")
        await form.get_by_role("button", name="Call service").click()
        await expect(page.get_by_role("region", name="nats.publish failed")).to_contain_text(
            "several nats entries are loaded")

        await entry.select_option(label="South bus")
        await screenshot(page, "services-entry-by-title")
        await form.get_by_role("button", name="Call service").click()
        await expect(page.get_by_role("region", name="Response of nats.publish")).to_be_visible()
        message = await subs[1].next_msg(timeout=10)
        assert (message.subject, message.data) == ("plant.pump", b"start")
        await listeners[0].flush()
        assert subs[0].pending_msgs == 0  # the north server got nothing
    finally:
        for nc in listeners:
            await nc.close()

    # The description as HA clients read it: the config_entry selector, no `entry`.
    described = await (await page.request.get("/api/services")).json()
    [nats_domain] = [d for d in described if d["domain"] == "nats"]
    fields = nats_domain["services"]["publish"]["fields"]
    assert fields["entry_id"]["selector"] == {"config_entry": {"integration": "nats"}}
    assert "entry" not in fields
    # A script naming an entry nobody has: HTTP 400 with the choices, by title.
    refused = await page.request.post(
        "/api/services/nats/publish", data={"subject": "plant.x", "entry_id": "West bus"},
        headers={"Origin": server.base_url})
    assert refused.status == 400
    assert (f"no loaded nats entry has the id or title 'West bus'; choose one of: "
            f"'North bus' ({north}), 'South bus' ({south})") in await refused.text()

    # Someone who may not list entries: the title to type, no entry id anywhere.
    auth = host.data[HTTP_SERVER].runtime.auth
    await auth.create_user("vera", "vera passphrase 1", role="user")
    context = await browser.new_context(base_url=server.base_url)
    try:
        mine = await context.new_page()
        await mine.goto("/")
        login = mine.get_by_role("form", name="Log in")
        await login.get_by_label("User name").fill("vera")
        await login.get_by_label("Password").fill("vera passphrase 1")
        await login.get_by_role("button", name="Log in").click()
        await expect(mine.locator("#live")).to_have_text("Live")
        await mine.goto("/#/services?service=nats.publish")
        form = mine.get_by_role("form", name="Call nats.publish")
        field = form.get_by_label("Entry", exact=True)
        await expect(field).to_have_attribute("type", "text")
        await expect(form.locator("[data-field=entry_id] .hint")).to_have_text(
            "The entry's title. Left empty: the only one loaded.")
        html = await mine.content()
        assert north not in html and south not in html
    finally:
        await context.close()
